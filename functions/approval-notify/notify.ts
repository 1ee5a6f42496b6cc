import type { ApprovalRequest } from '../../core/approval/approval';
import { approvalEmail } from '../../core/approval/approval-email';
import { notificationItem, taskItem } from '../../core/approval/approval-items';
import { approvalLink, type LinkMac } from '../../core/approval/approval-link';
import { askedApprovers } from '../../core/approval/approval-messages';
import { slackApprovalMessage, slackWebhookMessage } from '../../core/approval/approval-slack';
import type { ApprovalStore } from '../shared/approval-table';
import type { Logger } from '../shared/logger';
import type { EmailSender } from './email-sender';
import type { SlackPoster } from './slack-poster';

/**
 * What the notify step does for one request: keep the workflow's task token server-side, then ask
 * each approver through every configured channel, recording each notification as it is sent. A
 * notification already recorded is not sent again (a redelivered invocation does not mail twice). Any
 * failure fails the invocation, after every other notification was attempted and recorded, so the
 * workflow records the failure and the audit trail shows who was reached.
 */

export interface NotifyEvent {
  readonly taskToken: string;
  readonly requestId: string;
}

/** Slack through the app (buttons; a channel, or a DM to each approver) or an incoming webhook (links). */
export type SlackRoute =
  | { readonly kind: 'app'; readonly poster: SlackPoster; readonly channel?: string }
  | { readonly kind: 'webhook'; readonly poster: SlackPoster; readonly url: string };

export interface NotifyDependencies {
  readonly store: ApprovalStore;
  readonly mac: LinkMac;
  /** Where links point: the decide function's URL. */
  readonly linkBase: string;
  readonly slack?: SlackRoute;
  readonly email?: EmailSender;
  /** Microseconds since the epoch. */
  readonly now: () => number;
  readonly logger: Logger;
}

export interface NotifySummary {
  /** `channel#to` of each notification sent now. */
  readonly sent: readonly string[];
  /** Those recorded by an earlier delivery of the same invocation. */
  readonly skipped: readonly string[];
}

export class NotifyError extends Error {
  override readonly name = 'NotifyError';
}

interface Notification {
  readonly channel: 'slack' | 'webhook' | 'email';
  readonly to: string;
  send(): Promise<void>;
}

export async function notifyApprovers(deps: NotifyDependencies, event: NotifyEvent): Promise<NotifySummary> {
  const record = await deps.store.record(event.requestId);
  if (!record) throw new NotifyError(`there is no approval request ${event.requestId}`);
  await keepTaskToken(deps.store, record.request, record.taskToken, event.taskToken);

  const done = new Set(record.notifications.map((n) => `${n.channel}#${n.to}`));
  const planned = plan(deps, record.request);
  if (planned.length === 0)
    throw new NotifyError(
      `none of the approvers of ${event.requestId} can be reached by the configured channels`,
    );

  const skipped = planned.filter((n) => done.has(`${n.channel}#${n.to}`)).map((n) => `${n.channel}#${n.to}`);
  const outcomes = await Promise.allSettled(
    planned
      .filter((n) => !done.has(`${n.channel}#${n.to}`))
      .map(async (n) => {
        const key = `${n.channel}#${n.to}`;
        try {
          await n.send();
          const notification = { request: record.request.id, channel: n.channel, to: n.to, time: deps.now() };
          await deps.store.putOnce(notificationItem(record.request, notification));
          return key;
        } catch (error) {
          throw new NotifyError(`${key}: ${describe(error)}`);
        }
      }),
  );
  const sent = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
  deps.logger.info('approvers notified', { requestId: event.requestId, sent, skipped });
  const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [describe(o.reason, false)] : []));
  if (failures.length > 0) {
    deps.logger.error('notifications failed', { requestId: event.requestId, failures });
    throw new NotifyError(
      `${failures.length} notification(s) for ${event.requestId} failed: ${failures.join('; ')}`,
    );
  }
  return { sent, skipped };
}

/**
 * The task token is written once. The same token again is a redelivery; another token means a second
 * workflow for one request, which would let one of them wait forever, so it is refused.
 */
async function keepTaskToken(
  store: ApprovalStore,
  request: ApprovalRequest,
  stored: string | undefined,
  token: string,
): Promise<void> {
  if (stored === token) return;
  if (stored === undefined && (await store.putOnce(taskItem(request, token)))) return;
  const current = stored ?? (await store.record(request.id))?.taskToken;
  if (current !== token) throw new NotifyError(`request ${request.id} already has another workflow task`);
}

/** Every notification to send, each for approvers the request asks (never the excluded ones). */
function plan(deps: NotifyDependencies, request: ApprovalRequest): Notification[] {
  const asked = askedApprovers(request);
  const expires = Math.ceil(request.expires / 1_000_000);
  const link = (approver: string) =>
    approvalLink(deps.linkBase, { requestId: request.id, approver, expires }, deps.mac);
  const notifications: Notification[] = [];
  const slack = deps.slack;
  if (slack?.kind === 'app' && slack.channel !== undefined) {
    const channel = slack.channel;
    notifications.push({
      channel: 'slack',
      to: channel,
      send: () => slack.poster.postMessage(channel, slackApprovalMessage(request)),
    });
  } else if (slack?.kind === 'app') {
    for (const approver of asked) {
      const member = request.contacts[approver]?.slack;
      if (member)
        notifications.push({
          channel: 'slack',
          to: approver,
          send: () => slack.poster.postMessage(member, slackApprovalMessage(request)),
        });
    }
  } else if (slack?.kind === 'webhook') {
    notifications.push({
      channel: 'webhook',
      to: 'webhook',
      send: async () => {
        const links = await Promise.all(
          asked.map(async (approver) => ({ approver, url: await link(approver) })),
        );
        await slack.poster.postWebhook(slack.url, slackWebhookMessage(request, links));
      },
    });
  }
  const email = deps.email;
  if (email) {
    for (const approver of asked) {
      const address = request.contacts[approver]?.email;
      if (address)
        notifications.push({
          channel: 'email',
          to: approver,
          send: async () => email.send(address, approvalEmail(request, approver, await link(approver))),
        });
    }
  }
  return notifications;
}

function describe(reason: unknown, named = true): string {
  if (!(reason instanceof Error)) return 'unknown error';
  return named ? `${reason.name}: ${reason.message}` : reason.message;
}
