import type { ApprovalRequest } from './approval';
import { escapeHtml, formatTime, requestFacts } from './approval-messages';

/**
 * The e-mail asking one approver for a decision: one message per approver, because each carries a
 * link bound to that approver (aws.md §2.3). Opening the link changes nothing (mail scanners open
 * links); the page it shows has the Approve and Deny buttons. HTML mail gets inline styles only
 * (many clients drop <style>), and a plain-text part says the same.
 */

export interface ApprovalEmail {
  readonly subject: string;
  readonly html: string;
  readonly text: string;
}

const FONT = "-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif";
const MONO = "ui-monospace,SFMono-Regular,Menlo,Consolas,'Liberation Mono',monospace";

export function approvalEmail(request: ApprovalRequest, approver: string, link: string): ApprovalEmail {
  const subject = oneLine(
    `Approval needed: ${request.grant}/${request.rule} on ${request.database} (${request.id})`,
  );
  const facts = requestFacts(request);
  const expires = formatTime(request.expires);
  const text = [
    `${approver}, a statement waits for your decision.`,
    '',
    'Statement:',
    indent(request.text),
    '',
    ...facts.map((f) => `${f.label}: ${f.value}`),
    '',
    `Review and decide: ${link}`,
    '',
    `This link is for ${approver} only and works until ${expires}.`,
    'Opening it changes nothing: you approve or deny on the page it opens.',
  ].join('\n');
  const rows = facts
    .map(
      (f) =>
        `<tr><td style="padding:6px 12px 6px 0;color:#57606a;white-space:nowrap;vertical-align:top">${escapeHtml(f.label)}</td>` +
        `<td style="padding:6px 0;color:#1f2328">${escapeHtml(f.value)}</td></tr>`,
    )
    .join('');
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(subject)}</title></head>
<body style="margin:0;padding:24px;background:#f3f4f6;font-family:${FONT};font-size:15px;line-height:1.5;color:#1f2328">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:640px;margin:0 auto;background:#ffffff;border:1px solid #d0d7de;border-radius:10px">
<tr><td style="padding:18px 24px;background:#1f2937;border-radius:10px 10px 0 0;color:#f9fafb;font-weight:600;font-size:16px">Gatehouse &middot; approval needed</td></tr>
<tr><td style="padding:24px">
<p style="margin:0 0 16px">${escapeHtml(approver)}, a statement waits for your decision.</p>
<pre style="margin:0 0 20px;padding:14px 16px;background:#0d1117;color:#e6edf3;border-radius:8px;font-family:${MONO};font-size:13px;line-height:1.45;white-space:pre-wrap;word-break:break-word">${escapeHtml(request.text)}</pre>
<table role="presentation" cellpadding="0" cellspacing="0" style="margin:0 0 24px;font-size:14px">${rows}</table>
<a href="${escapeHtml(link)}" style="display:inline-block;padding:12px 22px;background:#1f6feb;color:#ffffff;text-decoration:none;border-radius:8px;font-weight:600">Review and decide</a>
<p style="margin:24px 0 0;color:#57606a;font-size:13px">This link is for ${escapeHtml(approver)} only and works until ${escapeHtml(expires)}. Opening it changes nothing: you approve or deny on the page it opens.</p>
</td></tr></table></body></html>
`;
  return { subject, html, text };
}

/** Subjects are one line (no header injection through a database or rule name), and not endless. */
function oneLine(text: string): string {
  const flat = text.replace(/[\p{Cc}\u2028\u2029]+/gu, ' ');
  return flat.length <= 200 ? flat : `${flat.slice(0, 199)}…`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
}
