import type { ApprovalDecision, ApprovalRequest, ApprovalState } from './approval';
import {
  askedApprovers,
  coverageText,
  escapeMrkdwn,
  formatTime,
  neededText,
  stateText,
} from './approval-messages';

/**
 * Slack messages for an approval request, as Block Kit. Interactive messages (a Slack app with a bot
 * token) carry Approve/Deny buttons whose value is the request id only: the task token never leaves
 * the server (it is up to 2048 characters, a button value at most 2000, and a message is readable by
 * the whole channel). Incoming-webhook messages cannot receive clicks, so they carry each approver's
 * signed link instead. Every value from a client or a policy goes through `escapeMrkdwn`; plain_text
 * objects hold only fixed wording and the request id.
 */

export const SLACK_APPROVE_ACTION = 'gatehouse-approve';
export const SLACK_DENY_ACTION = 'gatehouse-deny';
export const SLACK_ACTIONS_BLOCK = 'gatehouse-decision';

export interface SlackText {
  readonly type: 'plain_text' | 'mrkdwn';
  readonly text: string;
}

export interface SlackButton {
  readonly type: 'button';
  readonly action_id: string;
  readonly text: SlackText;
  readonly value: string;
  readonly style: 'primary' | 'danger';
  readonly confirm: {
    readonly title: SlackText;
    readonly text: SlackText;
    readonly confirm: SlackText;
    readonly deny: SlackText;
    readonly style: 'primary' | 'danger';
  };
}

export type SlackBlock =
  | { readonly type: 'header'; readonly text: SlackText }
  | { readonly type: 'section'; readonly text?: SlackText; readonly fields?: readonly SlackText[] }
  | { readonly type: 'context'; readonly elements: readonly SlackText[] }
  | { readonly type: 'divider' }
  | { readonly type: 'actions'; readonly block_id: string; readonly elements: readonly SlackButton[] };

export interface SlackMessage {
  /** The notification and screen-reader text; Slack shows the blocks. */
  readonly text: string;
  readonly blocks: readonly SlackBlock[];
}

/** A section's text may be 3000 characters, a field 2000; long statements are cut with a note. */
const STATEMENT_LIMIT = 2800;
const FIELD_LIMIT = 1900;
/** Slack member ids (U…, W… in Enterprise Grid); anything else is shown as a name, never as markup. */
const SLACK_MEMBER = /^[UW][A-Z0-9]{2,30}$/;

const mrkdwn = (text: string): SlackText => ({ type: 'mrkdwn', text });
const plain = (text: string): SlackText => ({ type: 'plain_text', text });

/** The message asking for a decision, with Approve and Deny buttons (each with a confirmation dialog). */
export function slackApprovalMessage(request: ApprovalRequest): SlackMessage {
  return { text: fallbackText(request), blocks: [...requestBlocks(request), decisionButtons(request)] };
}

/**
 * The message after a decision: the state and who decided; the buttons stay while the request is
 * pending (others may still need to approve) and go once it is final.
 */
export function slackDecisionMessage(
  request: ApprovalRequest,
  decisions: readonly ApprovalDecision[],
  state: ApprovalState,
): SlackMessage {
  const status: SlackBlock = {
    type: 'context',
    elements: [mrkdwn(`${stateIcon(state)} *${escapeMrkdwn(stateText(request, decisions, state))}*`)],
  };
  const blocks = [...requestBlocks(request), status];
  return {
    text: `${escapeMrkdwn(stateText(request, decisions, state))}: ${request.id}`,
    blocks: state.state === 'pending' ? [...blocks, decisionButtons(request)] : blocks,
  };
}

/**
 * The incoming-webhook variant: one signed link per approver instead of buttons. A webhook channel's
 * readers can open any of the links, so this trusts the channel's membership as much as the Slack app
 * trusts member ids; prefer the app (or e-mail) where that matters.
 */
export function slackWebhookMessage(
  request: ApprovalRequest,
  links: readonly { readonly approver: string; readonly url: string }[],
): SlackMessage {
  const lines = links.map(
    (l) => `• <${escapeMrkdwn(l.url)}|Review and decide as ${escapeMrkdwn(l.approver)}>`,
  );
  return {
    text: fallbackText(request),
    blocks: [
      ...requestBlocks(request),
      { type: 'section', text: mrkdwn(`*Decide*\n${lines.join('\n')}`) },
      {
        type: 'context',
        elements: [
          mrkdwn(
            'Each link is for the approver it names. It opens a page; nothing is decided until you confirm there.',
          ),
        ],
      },
    ],
  };
}

function requestBlocks(request: ApprovalRequest): SlackBlock[] {
  const expiresSeconds = Math.floor(request.expires / 1_000_000);
  const field = (label: string, value: string) =>
    mrkdwn(`*${label}*\n${escapeMrkdwn(cut(value, FIELD_LIMIT))}`);
  return [
    { type: 'header', text: plain('Approval needed: a statement waits') },
    { type: 'section', text: mrkdwn(`*Statement*\n${codeBlock(request.text)}`) },
    {
      type: 'section',
      fields: [
        field('Identity', request.subject),
        field('Issuer', request.issuer),
        field('Database', request.database),
        field('Grant / rule', `${request.grant} / ${request.rule}`),
        field('Approval covers', coverageText(request)),
        field('Needed', neededText(request)),
      ],
    },
    { type: 'section', text: mrkdwn(`*Why approval:* ${escapeMrkdwn(cut(request.reason, FIELD_LIMIT))}`) },
    {
      type: 'context',
      elements: [
        mrkdwn(
          `Asked: ${askedApprovers(request)
            .map((a) => mention(request, a))
            .join(', ')}` +
            ` · Expires <!date^${expiresSeconds}^{date_short_pretty} {time}|${formatTime(request.expires)}>` +
            ` · Request \`${escapeMrkdwn(request.id)}\``,
        ),
      ],
    },
  ];
}

function decisionButtons(request: ApprovalRequest): SlackBlock {
  const button = (
    actionId: string,
    label: string,
    style: 'primary' | 'danger',
    question: string,
    detail: string,
  ): SlackButton => ({
    type: 'button',
    action_id: actionId,
    text: plain(label),
    value: request.id,
    style,
    confirm: {
      title: plain(question),
      text: plain(detail),
      confirm: plain(label),
      deny: plain('Cancel'),
      style,
    },
  });
  return {
    type: 'actions',
    block_id: SLACK_ACTIONS_BLOCK,
    elements: [
      button(
        SLACK_APPROVE_ACTION,
        'Approve',
        'primary',
        'Approve this statement?',
        `You approve request ${request.id} for the statement shown, as written. It runs once enough approvers agree.`,
      ),
      button(
        SLACK_DENY_ACTION,
        'Deny',
        'danger',
        'Deny this statement?',
        `You deny request ${request.id}. One denial refuses it; the client is told who denied it.`,
      ),
    ],
  };
}

function fallbackText(request: ApprovalRequest): string {
  const asked = askedApprovers(request).map((a) => mention(request, a));
  return `Approval needed for ${escapeMrkdwn(request.subject)} on ${escapeMrkdwn(request.database)}: ${escapeMrkdwn(cut(request.reason, 200))} (${asked.join(', ')})`;
}

function mention(request: ApprovalRequest, approver: string): string {
  const slack = request.contacts[approver]?.slack;
  return slack && SLACK_MEMBER.test(slack) ? `<@${slack}>` : escapeMrkdwn(approver);
}

/**
 * The statement in a code block. mrkdwn has no way to escape a backtick, so a run of three inside the
 * statement (which would end the block early), or one against the fences, is kept apart with a
 * zero-width space: shown, not parsed.
 */
function codeBlock(text: string): string {
  const shown = escapeMrkdwn(cut(text, STATEMENT_LIMIT))
    .replace(/`(?=``)/g, '`\u200b')
    .replace(/^`/, '\u200b`')
    .replace(/`$/, '`\u200b');
  return `\`\`\`${shown}\`\`\``;
}

function cut(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit)}… (${text.length - limit} more characters)`;
}

function stateIcon(state: ApprovalState): string {
  if (state.state === 'approved') return ':white_check_mark:';
  if (state.state === 'denied') return ':no_entry:';
  if (state.state === 'pending') return ':hourglass_flowing_sand:';
  return ':grey_question:';
}
