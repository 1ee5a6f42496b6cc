import type { ApprovalDecision, ApprovalRequest, ApprovalState } from './approval';
import type { ApprovalLinkFields } from './approval-link';
import { escapeHtml, formatTime, requestFacts, stateText } from './approval-messages';

/**
 * The pages behind a decision link. GET shows the confirmation page: the request and two POST forms
 * (Approve, Deny) that repeat the link's fields; it changes nothing, so mail scanners and link
 * unfurlers that fetch it do no harm. The result page answers the POST. Self-contained HTML (inline
 * CSS, no scripts, no external resources) so the handler can send a strict Content-Security-Policy.
 */

export interface ConfirmationView {
  readonly request: ApprovalRequest;
  readonly link: ApprovalLinkFields;
  readonly decisions: readonly ApprovalDecision[];
  readonly state: ApprovalState;
  /** Why this approver cannot decide now (already decided, timed out…): shown instead of the buttons. */
  readonly problem?: string;
}

export type ResultTone = 'approved' | 'denied' | 'refused' | 'error';

export interface ResultView {
  readonly tone: ResultTone;
  readonly title: string;
  readonly message: string;
  readonly request?: ApprovalRequest;
  /** The request's state after the decision, for the badge (one approval of two is still pending). */
  readonly state?: ApprovalState;
}

const STYLE = `
*{box-sizing:border-box}
body{margin:0;padding:32px 16px;background:#f3f4f6;color:#1f2328;font:15px/1.5 -apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif}
main{max-width:760px;margin:0 auto;background:#fff;border:1px solid #d0d7de;border-radius:12px;overflow:hidden;box-shadow:0 1px 3px rgba(31,35,40,.08)}
header{display:flex;align-items:center;justify-content:space-between;gap:12px;padding:16px 24px;background:#1f2937;color:#f9fafb}
header strong{font-size:16px;letter-spacing:.2px}
.badge{padding:3px 10px;border-radius:999px;font-size:12px;font-weight:600;background:#374151;color:#e5e7eb}
.badge.approved{background:#1a7f37;color:#fff}.badge.denied,.badge.refused,.badge.error{background:#cf222e;color:#fff}.badge.pending{background:#9a6700;color:#fff}
section{padding:24px}
h1{margin:0 0 6px;font-size:22px}
.lead{margin:0 0 20px;color:#57606a}
pre{margin:0 0 22px;padding:16px 18px;background:#0d1117;color:#e6edf3;border-radius:8px;font:13px/1.5 ui-monospace,SFMono-Regular,Menlo,Consolas,'Liberation Mono',monospace;white-space:pre-wrap;word-break:break-word}
dl{display:grid;grid-template-columns:max-content 1fr;gap:8px 18px;margin:0 0 22px;font-size:14px}
dt{color:#57606a}dd{margin:0;word-break:break-word}
.status{margin:0 0 22px;padding:12px 16px;border-radius:8px;background:#f6f8fa;border:1px solid #d0d7de;font-size:14px}
.status.warn{background:#fff8c5;border-color:#d4a72c}
.actions{display:flex;gap:12px;flex-wrap:wrap}
.actions form{margin:0}
button{padding:12px 26px;border:0;border-radius:8px;font-family:inherit;font-size:15px;font-weight:600;line-height:1;color:#fff;cursor:pointer}
button.approve{background:#1a7f37}button.deny{background:#cf222e}
button:focus-visible{outline:3px solid #0969da;outline-offset:2px}
.note{margin:20px 0 0;color:#57606a;font-size:13px}
.result{text-align:center;padding:40px 24px}
.icon{width:64px;height:64px;margin:0 auto 16px;border-radius:50%;display:flex;align-items:center;justify-content:center;font-size:34px;color:#fff;background:#57606a}
.icon.approved{background:#1a7f37}.icon.denied,.icon.refused,.icon.error{background:#cf222e}
`;

export function confirmationPage(view: ConfirmationView): string {
  const { request, link, decisions, state, problem } = view;
  const status = stateText(request, decisions, state);
  const body = `
<h1>${problem ? 'Approval request' : 'Approve this statement?'}</h1>
<p class="lead">${escapeHtml(link.approver)}, you are asked to decide on the statement below, exactly as written.</p>
<pre>${escapeHtml(request.text)}</pre>
<dl>${requestFacts(request)
    .map((f) => `<dt>${escapeHtml(f.label)}</dt><dd>${escapeHtml(f.value)}</dd>`)
    .join('')}</dl>
<p class="status${problem ? ' warn' : ''}">${escapeHtml(problem ?? status)}</p>
${problem ? '' : decisionForms(link)}
<p class="note">This page is for ${escapeHtml(link.approver)} only; its link works until ${escapeHtml(formatTime(link.expires * 1_000_000))}. Nothing is decided until you press a button.</p>`;
  return page(`Approval ${request.id}`, badgeOf(state), body);
}

export function resultPage(view: ResultView): string {
  const icon = view.tone === 'approved' ? '&#10003;' : view.tone === 'denied' ? '&#10005;' : '!';
  const detail = view.request
    ? `<p class="note">Request ${escapeHtml(view.request.id)} &middot; ${escapeHtml(view.request.subject)} on ${escapeHtml(view.request.database)}</p>`
    : '';
  const body = `<div class="result">
<div class="icon ${view.tone}" aria-hidden="true">${icon}</div>
<h1>${escapeHtml(view.title)}</h1>
<p class="lead">${escapeHtml(view.message)}</p>${detail}
<p class="note">You can close this page.</p></div>`;
  return page(view.title, view.state ? badgeOf(view.state) : { label: view.tone, tone: view.tone }, body);
}

/** Two forms that POST the link's fields back to the same path; no script needed. */
function decisionForms(link: ApprovalLinkFields): string {
  // Relative to /a/{id}: the form posts to the page's own path, under whatever prefix serves it.
  const action = escapeHtml(encodeURIComponent(link.requestId));
  const hidden = [
    ['as', link.approver],
    ['e', String(link.expires)],
    ['sig', link.sig],
  ]
    .map(([name, value]) => `<input type="hidden" name="${name}" value="${escapeHtml(value ?? '')}">`)
    .join('');
  const form = (verdict: 'approve' | 'deny', label: string) =>
    `<form method="post" action="${action}">${hidden}<input type="hidden" name="verdict" value="${verdict}"><button type="submit" class="${verdict}">${label}</button></form>`;
  return `<div class="actions">${form('approve', 'Approve')}${form('deny', 'Deny')}</div>`;
}

function badgeOf(state: ApprovalState): { label: string; tone: string } {
  return { label: state.state === 'timed-out' ? 'timed out' : state.state, tone: state.state };
}

function page(title: string, badge: { label: string; tone: string }, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex,nofollow"><meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)} · Gatehouse</title><style>${STYLE}</style></head>
<body><main><header><strong>Gatehouse &middot; approvals</strong><span class="badge ${escapeHtml(badge.tone)}">${escapeHtml(badge.label)}</span></header>
<section>${body}</section></main></body></html>
`;
}
