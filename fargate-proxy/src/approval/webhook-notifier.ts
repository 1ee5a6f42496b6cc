import { readFileSync } from 'node:fs';
import type { ApprovalRequest } from '../../../core/approval/approval';
import type { ApprovalNotification } from '../../../core/approval/approval-items';
import { slackWebhookMessage } from '../../../core/approval/approval-slack';
import type { Logger } from '../observability/logger';
import type { ApprovalNotifier } from './approval-store';

/** How long a webhook may take before the notification counts as failed. */
const WEBHOOK_TIMEOUT_MS = 5_000;

/**
 * Local mode's Slack notification: each new request is posted to an incoming webhook, with a link to
 * the local approval page (a webhook message cannot carry buttons that answer back). The page and
 * `gatehouse approvals` stay the ways to decide, so a webhook that fails is logged, not fatal: the
 * statement still waits where its approver can find it.
 */
export class WebhookNotifier implements ApprovalNotifier {
  private readonly url: string;

  constructor(
    webhookFile: string,
    /** The local approval page, linked from the message; loopback, so only useful on this machine. */
    private readonly pageUrl: string | undefined,
    private readonly record: (request: ApprovalRequest, notification: ApprovalNotification) => void,
    private readonly log: Logger,
  ) {
    // The webhook URL is a credential (anyone holding it can post): kept in a file, never logged.
    this.url = readFileSync(webhookFile, 'utf8').trim();
    if (!/^https?:\/\//.test(this.url)) throw new Error(`${webhookFile} does not hold a webhook URL`);
  }

  async requested(request: ApprovalRequest): Promise<void> {
    const links = this.pageUrl
      ? request.approvers.map((approver) => ({ approver, url: `${this.pageUrl}#${request.id}` }))
      : [];
    try {
      const response = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          ...slackWebhookMessage(request, links),
          unfurl_links: false,
          unfurl_media: false,
        }),
        signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      });
      if (!response.ok) throw new Error(`the webhook answered ${response.status}`);
      this.record(request, { request: request.id, channel: 'webhook', to: 'slack', time: Date.now() * 1000 });
    } catch (error) {
      this.log.warn('approval request not posted to Slack', {
        request: request.id,
        error: (error as Error).message,
      });
    }
  }
}
