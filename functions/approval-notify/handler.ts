import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import type { LinkMac } from '../../core/approval/approval-link';
import { type ApprovalStore, ApprovalTable } from '../shared/approval-table';
import { KmsLinkMac } from '../shared/kms-link-mac';
import { createLogger, type Logger } from '../shared/logger';
import { SecretsManagerSlackSecret, type SlackSecretSource } from '../shared/slack-secret';
import { loadNotifyConfig, type NotifyConfig } from './config';
import { type EmailSender, SesEmailSender } from './email-sender';
import { NotifyError, type NotifySummary, notifyApprovers, type SlackRoute } from './notify';
import { SlackWebPoster } from './slack-poster';

/**
 * The NOTIFY Lambda, invoked by the approval state machine with `.waitForTaskToken` and the payload
 * `{"taskToken": "...", "requestId": "..."}`. It returns once every approver was asked; the workflow
 * then waits for the decide function's SendTaskSuccess. A thrown error fails the task.
 */

/** A task token is 1 to 2048 characters (SendTaskSuccess's limit); request ids are the gateway's. */
const eventSchema = z.object({
  taskToken: z.string().min(1).max(2048),
  requestId: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/),
});

/** Everything the handler uses; each defaults to the AWS adapter built from the configuration. */
export interface NotifyHandlerOptions {
  readonly config?: NotifyConfig;
  readonly store?: ApprovalStore;
  readonly mac?: LinkMac;
  readonly slackSecret?: SlackSecretSource;
  readonly email?: EmailSender;
  readonly fetch?: typeof fetch;
  /** Microseconds since the epoch. */
  readonly now?: () => number;
  readonly logger?: Logger;
}

interface Ready {
  readonly config: NotifyConfig;
  readonly store: ApprovalStore;
  readonly mac: LinkMac;
  readonly slackSecret?: SlackSecretSource;
  readonly email?: EmailSender;
  readonly fetch: typeof fetch;
  readonly now: () => number;
  readonly logger: Logger;
}

/** Built on the first invocation, not at import: importing the module reads no environment. */
function build(options: NotifyHandlerOptions): Ready {
  const config = options.config ?? loadNotifyConfig();
  const slackSecret =
    options.slackSecret ??
    (config.slackSecretId ? new SecretsManagerSlackSecret(config.slackSecretId) : undefined);
  const email = options.email ?? (config.emailFrom ? new SesEmailSender(config.emailFrom) : undefined);
  return {
    config,
    store: options.store ?? new ApprovalTable(new DynamoDBClient({}), config.table),
    mac: options.mac ?? new KmsLinkMac(config.linkKeyId),
    ...(slackSecret ? { slackSecret } : {}),
    ...(email ? { email } : {}),
    fetch: options.fetch ?? fetch,
    now: options.now ?? (() => Date.now() * 1000),
    logger: options.logger ?? createLogger(config.logLevel, { function: 'approval-notify' }),
  };
}

export function createNotifyHandler(
  options: NotifyHandlerOptions = {},
): (event: unknown, context?: { awsRequestId?: string }) => Promise<NotifySummary> {
  let ready: Ready | undefined;
  return async (event, context) => {
    ready ??= build(options);
    const parsed = eventSchema.safeParse(event);
    // The message never echoes the event: it holds the task token.
    if (!parsed.success) throw new NotifyError('the event is not {"taskToken": string, "requestId": string}');
    const logger = ready.logger.child({
      awsRequestId: context?.awsRequestId,
      requestId: parsed.data.requestId,
    });
    // Slack failing to configure must not keep the e-mails from going out; it still fails the task.
    let slack: SlackRoute | undefined;
    let slackFailure: Error | undefined;
    try {
      slack = await slackRoute(ready);
    } catch (error) {
      slackFailure = error instanceof Error ? error : new Error('the Slack secret could not be read');
      logger.error('Slack is not usable', { error: slackFailure });
      if (!ready.email) throw slackFailure;
    }
    const summary = await notifyApprovers(
      {
        store: ready.store,
        mac: ready.mac,
        linkBase: ready.config.linkBase,
        ...(slack ? { slack } : {}),
        ...(ready.email ? { email: ready.email } : {}),
        now: ready.now,
        logger,
      },
      parsed.data,
    );
    if (slackFailure) throw new NotifyError(`Slack: ${slackFailure.message}`);
    return summary;
  };
}

async function slackRoute(ready: Ready): Promise<SlackRoute | undefined> {
  if (!ready.slackSecret) return undefined;
  const secret = await ready.slackSecret.read();
  const poster = new SlackWebPoster(ready.config.slackApiUrl, secret.botToken, ready.fetch);
  if (secret.botToken)
    return {
      kind: 'app',
      poster,
      ...(ready.config.slackChannel ? { channel: ready.config.slackChannel } : {}),
    };
  if (secret.webhookUrl) return { kind: 'webhook', poster, url: secret.webhookUrl };
  throw new NotifyError('the Slack secret has neither botToken nor webhookUrl');
}

export const handler = createNotifyHandler();
