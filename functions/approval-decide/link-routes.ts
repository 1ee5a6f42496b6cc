import { approvalState } from '../../core/approval/approval';
import {
  type ApprovalLinkFields,
  type LinkMac,
  linkFields,
  verifyApprovalLink,
} from '../../core/approval/approval-link';
import { stateText } from '../../core/approval/approval-messages';
import { confirmationPage, resultPage } from '../../core/approval/approval-pages';
import { type DecideDependencies, decide, refusal } from './decide';
import { type HttpRequest, type HttpResponse, htmlResponse } from './http';

/**
 * `GET /a/{id}?as&e&sig` shows the confirmation page and changes nothing: mail scanners and unfurlers
 * fetch links, so a GET must be safe (RFC 9110 §9.2.1). `POST /a/{id}` with the page's form (the same
 * fields plus `verdict`) decides. Both check the link's expiry and MAC before reading anything.
 */

export interface LinkRouteDependencies extends DecideDependencies {
  readonly mac: LinkMac;
}

export async function showLink(
  deps: LinkRouteDependencies,
  request: HttpRequest,
  requestId: string,
): Promise<HttpResponse> {
  const checked = await checkedLink(deps, requestId, request.query);
  if (!checked.ok) return checked.response;
  const fields = checked.value;
  const record = await deps.store.record(requestId);
  if (!record) return notFound();
  const now = deps.now();
  const state = approvalState(record.request, record.decisions, now, record.cancelled);
  const problem = refusal(record, fields.approver, now);
  deps.logger.info('approval page shown', {
    requestId,
    approver: fields.approver,
    state: state.state,
    userAgent: request.headers['user-agent'],
  });
  return htmlResponse(
    200,
    confirmationPage({
      request: record.request,
      link: fields,
      decisions: record.decisions,
      state,
      ...(problem ? { problem } : {}),
    }),
  );
}

export async function decideByLink(
  deps: LinkRouteDependencies,
  request: HttpRequest,
  requestId: string,
): Promise<HttpResponse> {
  const form = new URLSearchParams(request.body.toString('utf8'));
  const checked = await checkedLink(deps, requestId, form);
  if (!checked.ok) return checked.response;
  const verdict = form.get('verdict');
  if (verdict !== 'approve' && verdict !== 'deny')
    return page(400, 'error', 'Nothing was recorded', 'The form did not say approve or deny.');
  const record = await deps.store.record(requestId);
  if (!record) return notFound();
  const fields = checked.value;
  const result = await decide(
    deps,
    record,
    fields.approver,
    verdict === 'approve' ? 'approved' : 'denied',
    'page',
  );
  if (result.kind === 'refused')
    return htmlResponse(
      409,
      resultPage({
        tone: 'refused',
        title: 'Nothing was recorded',
        message: sentence(result.reason),
        request: record.request,
      }),
    );
  const status = stateText(result.record.request, result.record.decisions, result.state);
  return htmlResponse(
    200,
    resultPage({
      tone: result.decision.verdict,
      title:
        result.decision.verdict === 'approved' ? 'You approved the statement' : 'You denied the statement',
      message: `${status}.`,
      request: record.request,
      state: result.state,
    }),
  );
}

type Checked = { ok: true; value: ApprovalLinkFields } | { ok: false; response: HttpResponse };

async function checkedLink(
  deps: LinkRouteDependencies,
  requestId: string,
  params: URLSearchParams,
): Promise<Checked> {
  const fields = linkFields(requestId, params);
  if (!fields.ok)
    return { ok: false, response: page(400, 'error', 'This link is not valid', sentence(fields.reason)) };
  const verified = await verifyApprovalLink(fields.value, deps.mac, Math.floor(deps.now() / 1_000_000));
  if (!verified.ok) {
    // Neither the MAC nor the query is logged: a MAC that is nearly right is still a secret's shadow.
    deps.logger.warn('link refused', { requestId, approver: fields.value.approver, reason: verified.reason });
    return { ok: false, response: page(403, 'error', 'This link is not valid', sentence(verified.reason)) };
  }
  return { ok: true, value: fields.value };
}

function notFound(): HttpResponse {
  return page(
    404,
    'error',
    'No such request',
    'The request this link names does not exist (or was removed).',
  );
}

function page(status: number, tone: 'error' | 'refused', title: string, message: string): HttpResponse {
  return htmlResponse(status, resultPage({ tone, title, message }));
}

/** A reason as a sentence; one that starts with an approver's name keeps it as written. */
function sentence(text: string): string {
  const capitalised = /^(the|there|this|your) /.test(text)
    ? `${text.charAt(0).toUpperCase()}${text.slice(1)}`
    : text;
  return `${capitalised}.`;
}
