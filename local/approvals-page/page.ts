import type { ApprovalDecision, ApprovalRequest, ApprovalState } from '../../core/approval/approval';
import {
  askedApprovers,
  escapeHtml,
  requestFacts,
  formatTime as time,
} from '../../core/approval/approval-messages';

export interface ListedRequest {
  request: ApprovalRequest;
  state: ApprovalState;
  decisions: readonly ApprovalDecision[];
}

const STYLE = `
body { font: 15px/1.45 system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1d2330; }
header { background: #1d2330; color: #fff; padding: 14px 28px; }
header h1 { font-size: 18px; margin: 0; font-weight: 600; }
header p { margin: 2px 0 0; color: #b8c0d0; font-size: 13px; }
main { padding: 20px 28px; max-width: 980px; }
.notice { padding: 10px 14px; border-radius: 6px; background: #e7f0ff; border: 1px solid #b6cdf5; margin-bottom: 16px; }
.request { background: #fff; border: 1px solid #d8dce3; border-radius: 8px; padding: 16px 20px; margin-bottom: 16px; }
.request h2 { font-size: 16px; margin: 0 0 8px; display: flex; gap: 10px; align-items: center; }
.state { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; padding: 2px 8px; border-radius: 10px; background: #eee; }
.state.pending { background: #fff3cd; color: #7a5a00; }
.state.approved { background: #d9f2e1; color: #17603a; }
.state.denied, .state.timed-out, .state.cancelled { background: #f8dcdc; color: #8a1f1f; }
pre { background: #1d2330; color: #e8ecf3; padding: 10px 12px; border-radius: 6px; white-space: pre-wrap; word-break: break-word; margin: 8px 0; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 8px 0; }
dt { color: #5a6375; } dd { margin: 0; }
form { display: flex; gap: 8px; align-items: center; margin-top: 10px; }
button { font: inherit; padding: 6px 16px; border-radius: 6px; border: 1px solid transparent; cursor: pointer; }
button.approve { background: #1f7a44; color: #fff; } button.deny { background: #fff; color: #a12828; border-color: #a12828; }
select { font: inherit; padding: 5px 8px; }
.empty { color: #5a6375; }
`;

function requestCard(listed: ListedRequest, formToken: string): string {
  const { request, state, decisions } = listed;
  // The same facts, in the same order, as the Slack message, the e-mail and the decide page show.
  const rows: [string, string][] = requestFacts(request).map(({ label, value }) => [label, value]);
  rows.push(['Requested', time(request.requested)]);
  if (request.excluded.length > 0)
    rows.push(['May not approve', `${request.excluded.join(', ')} (their own job)`]);
  for (const d of decisions)
    rows.push(['Decision', `${d.verdict} by ${d.approver} via ${d.channel}, ${time(d.time)}`]);
  const form =
    state.state === 'pending'
      ? `<form method="post" action="/decide">
  <input type="hidden" name="id" value="${escapeHtml(request.id)}">
  <input type="hidden" name="token" value="${escapeHtml(formToken)}">
  <label>As <select name="as">${askedApprovers(request)
    .filter((a) => !decisions.some((d) => d.approver === a))
    .map((a) => `<option>${escapeHtml(a)}</option>`)
    .join('')}</select></label>
  <button class="approve" name="verdict" value="approved">Approve</button>
  <button class="deny" name="verdict" value="denied">Deny</button>
</form>`
      : '';
  return `<section class="request" id="${escapeHtml(request.id)}">
<h2>${escapeHtml(request.id)} <span class="state ${state.state}">${state.state}</span></h2>
<pre>${escapeHtml(request.text)}</pre>
<dl>${rows.map(([k, v]) => `<dt>${k}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>
${form}
</section>`;
}

/** The local approval page: pending requests first, each with its statement and approve/deny. */
export function approvalsPage(
  requests: readonly ListedRequest[],
  formToken: string,
  notice?: string,
): string {
  const pending = requests.filter((r) => r.state.state === 'pending');
  const others = requests
    .filter((r) => r.state.state !== 'pending')
    .slice(-20)
    .reverse();
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gatehouse approvals</title>
<meta name="robots" content="noindex"><style>${STYLE}</style></head>
<body><header><h1>Gatehouse approvals</h1><p>Local mode: statements held for a named approver</p></header>
<main>
${notice ? `<p class="notice" role="status">${escapeHtml(notice)}</p>` : ''}
<h3>Waiting (${pending.length})</h3>
${pending.length === 0 ? '<p class="empty">Nothing waits for approval.</p>' : pending.map((r) => requestCard(r, formToken)).join('\n')}
${others.length > 0 ? `<h3>Decided or expired</h3>${others.map((r) => requestCard(r, formToken)).join('\n')}` : ''}
</main></body></html>`;
}
