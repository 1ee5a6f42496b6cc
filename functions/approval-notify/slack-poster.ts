import { z } from 'zod';
import type { SlackMessage } from '../../core/approval/approval-slack';

/**
 * Posting to Slack: chat.postMessage with the app's bot token, or an incoming webhook. Link
 * previews are off (`unfurl_links`, `unfurl_media`): nothing should fetch a link but its reader.
 * Errors name the Slack error code only, never the token or the webhook URL (itself a secret).
 */
export interface SlackPoster {
  /** Posts to a channel id, or to a member id (a DM from the app). */
  postMessage(channel: string, message: SlackMessage): Promise<void>;
  postWebhook(url: string, message: SlackMessage): Promise<void>;
}

const webApiAnswer = z.object({ ok: z.boolean(), error: z.string().optional() });

/** Slack answers within seconds or not at all; 10 s keeps a stuck call from eating the Lambda's time. */
const TIMEOUT_MS = 10_000;

export class SlackWebPoster implements SlackPoster {
  constructor(
    private readonly apiUrl: string,
    private readonly botToken: string | undefined,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  async postMessage(channel: string, message: SlackMessage): Promise<void> {
    if (!this.botToken) throw new Error('the Slack secret has no botToken');
    const response = await this.fetchImpl(`${this.apiUrl.replace(/\/+$/, '')}/chat.postMessage`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${this.botToken}`,
        'content-type': 'application/json; charset=utf-8',
      },
      body: JSON.stringify({ channel, ...message, unfurl_links: false, unfurl_media: false }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    // The Web API answers 200 with {ok: false, error} for most failures.
    const answer = webApiAnswer.safeParse(await response.json().catch(() => undefined));
    if (!response.ok || !answer.success || !answer.data.ok) {
      const code = answer.success ? answer.data.error : undefined;
      throw new Error(`Slack chat.postMessage failed: ${code ?? `HTTP ${response.status}`}`);
    }
  }

  async postWebhook(url: string, message: SlackMessage): Promise<void> {
    const response = await this.fetchImpl(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ ...message, unfurl_links: false, unfurl_media: false }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    if (!response.ok) throw new Error(`the Slack webhook refused the message: HTTP ${response.status}`);
  }
}
