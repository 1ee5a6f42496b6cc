import type { ApprovalDecision, ApprovalRequest, ApprovalState } from './approval';

/**
 * What every approval message says, whatever carries it (Slack, e-mail, the decision page), and the
 * escaping each medium needs. Every value here comes from a client or a policy, so every renderer
 * escapes every value it places; the statement is the client's text with literals withheld.
 */

/** HTML text and attribute values (quotes included, so a value is safe inside `"…"` and `'…'`). */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Slack mrkdwn: only `&`, `<` and `>` are control characters (`<…>` makes links and mentions). */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Approvers the request asks: those named, less the ones who may not decide (the human behind the job). */
export function askedApprovers(request: ApprovalRequest): string[] {
  return request.approvers.filter((a) => !request.excluded.includes(a));
}

/** A time in microseconds since the epoch, as `2026-05-01 12:00 UTC`: the same for every reader. */
export function formatTime(micros: number): string {
  const iso = new Date(Math.floor(micros / 1000)).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

export function neededText(request: ApprovalRequest): string {
  const asked = askedApprovers(request).length;
  const approvals = request.needed === 1 ? '1 approval' : `${request.needed} approvals`;
  return `${approvals} of ${asked} asked; one denial refuses`;
}

/** What an approval lets run: this one execution, or the same exact statement for a while. */
export function coverageText(request: ApprovalRequest): string {
  return request.coverage.kind === 'once'
    ? 'this one execution'
    : `this exact statement for ${request.coverage.minutes} minutes`;
}

/** The facts an approver decides on, in the order every medium shows them. */
export function requestFacts(request: ApprovalRequest): { label: string; value: string }[] {
  return [
    { label: 'Identity', value: `${request.subject} (issuer ${request.issuer})` },
    { label: 'Database', value: request.database },
    { label: 'Grant / rule', value: `${request.grant} / ${request.rule}` },
    { label: 'Why approval', value: request.reason },
    { label: 'Approval covers', value: coverageText(request) },
    { label: 'Needed', value: neededText(request) },
    { label: 'Expires', value: formatTime(request.expires) },
    { label: 'Request', value: request.id },
  ];
}

/** The state in a sentence, with who decided so far. */
export function stateText(
  request: ApprovalRequest,
  decisions: readonly ApprovalDecision[],
  state: ApprovalState,
): string {
  switch (state.state) {
    case 'approved':
      return `Approved by ${state.by.join(', ')}`;
    case 'denied':
      return `Denied by ${state.by}`;
    case 'timed-out':
      return 'Timed out: nobody decided in time';
    case 'cancelled':
      return 'Withdrawn: the client stopped waiting';
    case 'pending': {
      const approved = decisions.filter((d) => d.request === request.id && d.verdict === 'approved');
      if (approved.length === 0) return 'Waiting for a decision';
      const names = approved.map((d) => d.approver).join(', ');
      return `Waiting: ${approved.length} of ${request.needed} approvals so far (${names})`;
    }
  }
}
