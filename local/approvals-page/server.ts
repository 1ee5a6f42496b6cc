import type { IncomingMessage } from 'node:http';
import { LocalApprovalStore } from '../../fargate-proxy/src/approval/local-approval-store';
import { type LoopbackPage, sameToken, startLoopbackPage } from '../loopback-page';
import { approvalsPage } from './page';

const MAX_FORM_BYTES = 4096;

async function formOf(request: IncomingMessage): Promise<URLSearchParams> {
  let body = '';
  for await (const chunk of request) {
    body += chunk;
    if (body.length > MAX_FORM_BYTES) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

/**
 * Local mode's approval page: the requests of the local approval store, and an approve or deny for
 * each, behind the loopback page's gate (loopback only, per-run secret, same-origin form token).
 * Decisions are the store's, so the rules are those of `gatehouse approvals`: the approver must be
 * one the request names, not the person behind the job, and decides once.
 */
export async function startApprovalsPage(options: {
  directory: string;
  port: number;
  now?: () => number;
}): Promise<LoopbackPage> {
  const store = new LocalApprovalStore(options.directory);
  const now = options.now ?? Date.now;
  return startLoopbackPage({
    port: options.port,
    cookie: 'gatehouse_approvals',
    methods: ['POST'],
    handle: async ({ request, url, formToken, reply }) => {
      if (request.method === 'GET' && url.pathname === '/') {
        const micros = now() * 1000;
        const requests = store.requests().map((r) => ({
          request: r,
          state: store.state(r, micros),
          decisions: store.decisions(r.id),
        }));
        const notice = url.searchParams.get('notice') ?? undefined;
        reply(200, 'text/html; charset=utf-8', approvalsPage(requests, formToken, notice), {
          'content-security-policy':
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        });
        return;
      }
      if (request.method === 'POST' && url.pathname === '/decide') {
        const form = await formOf(request);
        if (!sameToken(form.get('token'), formToken)) {
          reply(403, 'text/plain', 'the form token is missing or wrong\n');
          return;
        }
        const id = form.get('id') ?? '';
        const approver = form.get('as') ?? '';
        const verdict = form.get('verdict');
        if (verdict !== 'approved' && verdict !== 'denied') {
          reply(400, 'text/plain', 'verdict must be approved or denied\n');
          return;
        }
        const result = store.decide({
          request: id,
          approver,
          verdict,
          channel: 'local-page',
          time: now() * 1000,
        });
        const notice = result.ok
          ? `${id}: ${verdict} by ${approver}`
          : `${id}: not recorded: ${result.problem}`;
        reply(303, 'text/plain', '', { location: `/?notice=${encodeURIComponent(notice)}` });
        return;
      }
      reply(404, 'text/plain', 'not found\n');
    },
  });
}
