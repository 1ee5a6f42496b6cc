import { z } from 'zod';
import type { ApprovalRequest } from '../../core/approval/approval';
import { escapeMrkdwn } from '../../core/approval/approval-messages';
import {
  SLACK_APPROVE_ACTION,
  SLACK_DENY_ACTION,
  slackDecisionMessage,
} from '../../core/approval/approval-slack';
import { verifySlackSignature } from '../../core/approval/slack-signature';
import type { SlackSecretSource } from '../shared/slack-secret';
import { type DecideDependencies, decide } from './decide';
import { type HttpRequest, type HttpResponse, textResponse } from './http';

/**
 * `POST /slack`: Slack's interactivity request for the Approve/Deny buttons. The signature over the raw
 * body is checked first; the clicking member (`user.id`) must be the Slack id of exactly one of the
 * request's approvers. The button's value is only the request id. Slack ignores the body of the 200
 * for block_actions, so the answer (the updated message, or a note only the clicker sees) is posted to
 * `response_url`, and only to Slack's own address.
 */

export interface SlackRouteDependencies extends DecideDependencies {
  readonly slackSecret?: SlackSecretSource;
  /** Only clicks from this workspace count, when set. */
  readonly teamId?: string;
  /** The only place a response_url may point. */
  readonly responseUrlPrefix: string;
  readonly fetch: typeof fetch;
}

const blockActions = z.object({
  type: z.literal('block_actions'),
  user: z.object({ id: z.string() }),
  team: z.object({ id: z.string() }).nullish(),
  actions: z.array(z.object({ action_id: z.string(), value: z.string().optional() })),
  response_url: z.string().optional(),
});

const VERDICTS: Readonly<Record<string, 'approved' | 'denied'>> = {
  [SLACK_APPROVE_ACTION]: 'approved',
  [SLACK_DENY_ACTION]: 'denied',
};

/** Slack waits 3 s for the 200; the reply to response_url must not hold it much longer. */
const REPLY_TIMEOUT_MS = 2_000;

export async function slackAction(deps: SlackRouteDependencies, request: HttpRequest): Promise<HttpResponse> {
  if (!deps.slackSecret) return textResponse(404, 'not found');
  const { signingSecret } = await deps.slackSecret.read();
  if (!signingSecret) {
    deps.logger.error('the Slack secret has no signingSecret; Slack clicks cannot be verified');
    return textResponse(500, 'not configured');
  }
  const signed = verifySlackSignature(request, signingSecret, Math.floor(deps.now() / 1_000_000));
  if (!signed.ok) {
    deps.logger.warn('Slack request refused', { reason: signed.reason });
    return textResponse(401, 'invalid signature');
  }
  const payload = parsePayload(request.body);
  if (!payload) return textResponse(400, 'not a block_actions payload');
  const action = payload.actions.find((a) => a.action_id in VERDICTS);
  const verdict = action ? VERDICTS[action.action_id] : undefined;
  // Other interactions (another app's button, a link click) are acknowledged and ignored.
  if (!action || !verdict) return textResponse(200, '');
  const reply = (message: object) => postReply(deps, payload.response_url, message);
  const refuse = async (reason: string) => {
    deps.logger.info('Slack decision refused', {
      requestId: action.value,
      slackUser: payload.user.id,
      reason,
    });
    await reply({
      response_type: 'ephemeral',
      replace_original: false,
      text: `:warning: Not recorded: ${escapeMrkdwn(reason)}`,
    });
    return textResponse(200, '');
  };
  if (deps.teamId && payload.team?.id !== deps.teamId) return refuse('this Slack workspace may not decide');
  const requestId = action.value ?? '';
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(requestId)) return refuse('the button names no valid request');
  const record = await deps.store.record(requestId);
  if (!record) return refuse(`there is no request ${requestId}`);
  const approvers = approversWithSlackId(record.request, payload.user.id);
  const approver = approvers[0];
  if (approver === undefined) return refuse('your Slack account is not an approver of this request');
  if (approvers.length > 1)
    return refuse('your Slack account belongs to more than one approver; decide by e-mail link instead');
  const result = await decide(deps, record, approver, verdict, 'slack');
  if (result.kind === 'refused') return refuse(result.reason);
  await reply({
    replace_original: true,
    ...slackDecisionMessage(result.record.request, result.record.decisions, result.state),
  });
  return textResponse(200, '');
}

/** Slack sends `payload=<JSON>` form-encoded. */
function parsePayload(body: Buffer): z.infer<typeof blockActions> | undefined {
  const text = new URLSearchParams(body.toString('utf8')).get('payload');
  if (text === null) return undefined;
  try {
    const parsed = blockActions.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function approversWithSlackId(request: ApprovalRequest, member: string): string[] {
  return request.approvers.filter((name) => request.contacts[name]?.slack === member);
}

/** A failed reply is logged, not fatal: the decision is recorded either way. */
async function postReply(
  deps: SlackRouteDependencies,
  url: string | undefined,
  message: object,
): Promise<void> {
  if (!url?.startsWith(deps.responseUrlPrefix)) {
    deps.logger.warn('Slack response_url missing or not Slack’s; no reply posted');
    return;
  }
  try {
    const response = await deps.fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify(message),
      signal: AbortSignal.timeout(REPLY_TIMEOUT_MS),
    });
    if (!response.ok) deps.logger.warn('Slack refused the reply', { status: response.status });
  } catch (error) {
    deps.logger.warn('Slack reply failed', { error });
  }
}
