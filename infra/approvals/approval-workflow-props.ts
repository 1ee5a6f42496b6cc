import { existsSync } from 'node:fs';
import path from 'node:path';
import { Duration, Token } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as ses from 'aws-cdk-lib/aws-ses';
import { PROJECT_ROOT } from '../project-root';
import { ApprovalWorkflowError } from './approval-workflow-error';

export { PROJECT_ROOT };
/** The notify handler's source, bundled by esbuild at synth time. */
export const APPROVAL_NOTIFY_ENTRY = path.join(PROJECT_ROOT, 'functions', 'approval-notify', 'handler.ts');
/** The decide handler's source, bundled by esbuild at synth time. */
export const APPROVAL_DECIDE_ENTRY = path.join(PROJECT_ROOT, 'functions', 'approval-decide', 'handler.ts');

/** Seconds: the shortest and longest approval timeouts the state machine accepts as `maxTimeout`. */
const MIN_TIMEOUT_SECONDS = 60; // 1 minute
const MAX_TIMEOUT_SECONDS = 364 * 24 * 3600; // a Standard execution lives at most a year; keep a day spare

/** Slack notifications. */
export interface ApprovalSlackProps {
  /**
   * The Slack app's secret: JSON with the bot token or incoming-webhook URL (notify) and the
   * signing secret (decide). Both functions read it; neither writes it.
   */
  readonly secret: secretsmanager.ISecret;
  /**
   * The channel notify posts to with the bot token (an id such as C0123456789, or a name).
   *
   * @default - none: notify messages each approver directly, or posts through the webhook
   */
  readonly channel?: string;
}

/** E-mail notifications through SES, one message per approver with links bound to that approver. */
export interface ApprovalEmailProps {
  /** The From address, a bare address (no display name) on a verified SES identity. */
  readonly sender: string;
  /** The verified SES identity the sender belongs to; `ses:SendEmail` is granted on it alone. */
  readonly identity: ses.IEmailIdentity;
}

/** Where the two handlers' sources are, for esbuild. */
export interface ApprovalFunctionEntries {
  readonly notify: string;
  readonly decide: string;
}

export interface ApprovalWorkflowProps {
  /**
   * The customer-managed key that encrypts the approvals table, the three log groups and the state
   * machine. When it is a `kms.Key` of this app, CloudWatch Logs is allowed to use it for log groups
   * of this account and region; an imported key's policy must allow that already.
   */
  readonly dataKey: kms.IKey;
  /**
   * Slack notifications and Slack interactivity.
   *
   * @default - no Slack: at least one of `slack` and `email` is required
   */
  readonly slack?: ApprovalSlackProps;
  /**
   * E-mail notifications through SES.
   *
   * @default - no e-mail: at least one of `slack` and `email` is required
   */
  readonly email?: ApprovalEmailProps;
  /**
   * The longest approval timeout any policy sets. An execution whose `timeoutSeconds` exceeds it
   * records `failed` instead of waiting; the execution itself times out 15 minutes after it.
   *
   * @default Duration.hours(24)
   */
  readonly maxTimeout?: Duration;
  /**
   * Retention of the functions' and the state machine's log groups.
   *
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Reserved concurrency of the notify function. Throttled invocations are retried by the state
   * machine, so this caps the rate of Slack and SES calls rather than losing requests.
   *
   * @default 5
   */
  readonly notifyConcurrency?: number;
  /**
   * Reserved concurrency of the decide function, whose URL is public: a flood of forged requests
   * takes at most this much of the account's Lambda concurrency (the rest is throttled with 429).
   *
   * @default 10
   */
  readonly decideConcurrency?: number;
  /**
   * The handlers' sources.
   *
   * @default - APPROVAL_NOTIFY_ENTRY and APPROVAL_DECIDE_ENTRY (functions/approval-{notify,decide}/handler.ts)
   */
  readonly entries?: ApprovalFunctionEntries;
}

/** The props after defaults and checks: what the construct builds from. */
export interface ApprovalSettings {
  readonly dataKey: kms.IKey;
  readonly slack?: ApprovalSlackProps;
  readonly email?: ApprovalEmailProps;
  /** Seconds. */
  readonly maxTimeoutSeconds: number;
  readonly logRetention: logs.RetentionDays;
  readonly notifyConcurrency: number;
  readonly decideConcurrency: number;
  readonly entries: ApprovalFunctionEntries;
}

/** Applies the defaults and refuses what cannot deploy or would deploy wrong, naming the prop and the fix. */
export function approvalSettings(props: ApprovalWorkflowProps): ApprovalSettings {
  validateChannels(props);
  const entries = props.entries ?? { notify: APPROVAL_NOTIFY_ENTRY, decide: APPROVAL_DECIDE_ENTRY };
  validateEntry('entries.notify', entries.notify);
  validateEntry('entries.decide', entries.decide);
  return Object.freeze({
    dataKey: props.dataKey,
    ...(props.slack ? { slack: props.slack } : {}),
    ...(props.email ? { email: props.email } : {}),
    maxTimeoutSeconds: validateMaxTimeout(props.maxTimeout ?? Duration.hours(24)),
    logRetention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
    notifyConcurrency: validateConcurrency('notifyConcurrency', props.notifyConcurrency ?? 5),
    decideConcurrency: validateConcurrency('decideConcurrency', props.decideConcurrency ?? 10),
    entries,
  });
}

function validateMaxTimeout(maxTimeout: Duration): number {
  if (maxTimeout.isUnresolved()) {
    throw new ApprovalWorkflowError(
      'MaxTimeoutOutOfRange',
      'maxTimeout',
      'must be known at synth time (it bounds the execution timeout); pass a literal Duration.',
    );
  }
  const seconds = maxTimeout.toSeconds({ integral: false });
  if (!Number.isInteger(seconds) || seconds < MIN_TIMEOUT_SECONDS || seconds > MAX_TIMEOUT_SECONDS) {
    throw new ApprovalWorkflowError(
      'MaxTimeoutOutOfRange',
      'maxTimeout',
      `${maxTimeout.toHumanString()} is outside 1 minute to 364 days in whole seconds; ` +
        'set it to the longest approval timeout of the policies, e.g. Duration.hours(24).',
    );
  }
  return seconds;
}

function validateConcurrency(prop: 'notifyConcurrency' | 'decideConcurrency', value: number): number {
  if (Token.isUnresolved(value)) return value;
  if (!Number.isInteger(value) || value < 1 || value > 1000) {
    throw new ApprovalWorkflowError(
      'ConcurrencyOutOfRange',
      prop,
      `${value} is not an integer from 1 to 1000; reserved concurrency 0 would disable the function. ` +
        'Lower it if the account’s concurrency quota is small.',
    );
  }
  return value;
}

function validateChannels(props: ApprovalWorkflowProps): void {
  if (!props.slack && !props.email) {
    throw new ApprovalWorkflowError(
      'NoNotificationChannel',
      'slack, email',
      'neither is set, so no approver could ever be notified; set slack, email or both.',
    );
  }
  const sender = props.email?.sender;
  if (
    sender !== undefined &&
    !Token.isUnresolved(sender) &&
    !/^[^\s@<>"]+@[^\s@<>"]+\.[^\s@<>"]+$/.test(sender)
  ) {
    throw new ApprovalWorkflowError(
      'SenderNotAnAddress',
      'email.sender',
      `"${sender}" is not a bare e-mail address; ses:SendEmail is granted for exactly this From address, ` +
        'so write it as name@example.com without a display name.',
    );
  }
  const channel = props.slack?.channel;
  if (channel !== undefined && !Token.isUnresolved(channel) && !/^#?[A-Za-z0-9._-]{1,80}$/.test(channel)) {
    throw new ApprovalWorkflowError(
      'SlackChannelInvalid',
      'slack.channel',
      `"${channel}" is neither a channel id (C0123456789) nor a channel name (#approvals).`,
    );
  }
}

function validateEntry(prop: 'entries.notify' | 'entries.decide', entry: string): void {
  if (!existsSync(entry)) {
    throw new ApprovalWorkflowError(
      'EntryNotFound',
      prop,
      `${entry} does not exist; the handlers live in functions/approval-{notify,decide}/handler.ts.`,
    );
  }
}
