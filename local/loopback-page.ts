import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LoopbackPage {
  /** Open this (it carries the secret); the page then keeps it in a cookie. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** What a page's handler is given for a request that passed the gate. */
export interface PageRequest {
  request: IncomingMessage;
  url: URL;
  /** A token for the page's forms: a POST must carry it back (see `sameToken`). */
  formToken: string;
  reply(status: number, type: string, body: string, headers?: Record<string, string>): void;
}

const HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // Not no-referrer: under it a browser sends `Origin: null` with the page's own forms, which the
  // same-origin check below could not tell from a foreign page's. Nothing secret is in these URLs.
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
};

export function sameToken(given: string | undefined | null, expected: string): boolean {
  if (given === undefined || given === null) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookie(request: IncomingMessage, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

function send(
  response: ServerResponse,
  status: number,
  type: string,
  body: string,
  extra: Record<string, string> = {},
): void {
  response.writeHead(status, { ...HEADERS, 'content-type': type, ...extra });
  response.end(body);
}

/**
 * A local-mode web page (recordings, approvals). It listens on the loopback interface only, answers
 * only requests addressed to it by that name (so a web page elsewhere cannot reach it through DNS
 * rebinding), and only to a browser that presented the per-run secret printed at start (then kept in
 * a SameSite=Strict cookie). A POST must also come from the page itself (its Origin) and carry the
 * form token, so another site cannot make the browser decide anything.
 */
export async function startLoopbackPage(options: {
  port: number;
  /** The cookie that carries the secret (one per page). */
  cookie: string;
  /** Methods the page accepts besides GET. */
  methods?: readonly string[];
  handle(page: PageRequest): void | Promise<void>;
}): Promise<LoopbackPage> {
  const secret = randomBytes(24).toString('base64url');
  const formToken = createHmac('sha256', secret).update('form').digest('base64url');
  const methods = new Set(['GET', ...(options.methods ?? [])]);
  let port = options.port;
  const server = createServer(async (request, response) => {
    try {
      const host = request.headers.host ?? '';
      const origins = [`http://127.0.0.1:${port}`, `http://localhost:${port}`];
      if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) {
        send(response, 403, 'text/plain', 'this page answers only on the loopback address\n');
        return;
      }
      const url = new URL(request.url ?? '/', `http://${host}`);
      if (!methods.has(request.method ?? '')) {
        send(response, 405, 'text/plain', `${[...methods].join(', ')} only\n`, {
          allow: [...methods].join(', '),
        });
        return;
      }
      if (request.method === 'GET' && url.pathname === '/' && url.searchParams.has('secret')) {
        if (!sameToken(url.searchParams.get('secret'), secret)) {
          send(response, 401, 'text/plain', 'wrong secret\n');
          return;
        }
        // The secret leaves the address bar (and the history) at once; the cookie carries it on.
        send(response, 303, 'text/plain', '', {
          location: '/',
          'set-cookie': `${options.cookie}=${secret}; HttpOnly; SameSite=Strict; Path=/`,
        });
        return;
      }
      if (!sameToken(cookie(request, options.cookie), secret)) {
        send(
          response,
          401,
          'text/plain',
          'open the address gatehouse printed at start: it carries the secret\n',
        );
        return;
      }
      if (request.method !== 'GET' && !origins.includes(request.headers.origin ?? '')) {
        send(response, 403, 'text/plain', 'a change must come from this page\n');
        return;
      }
      await options.handle({
        request,
        url,
        formToken,
        reply: (status, type, body, headers) => send(response, status, type, body, headers),
      });
    } catch (error) {
      if (!response.headersSent) send(response, 500, 'text/plain', `${(error as Error).message}\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', resolve);
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/?secret=${secret}`,
    port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
