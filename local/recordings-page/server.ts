import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { recordingsPage } from './page';
import { listSessions, sessionEvents } from './session-index';

export interface RecordingsPage {
  /** Open this (it carries the secret); the page then keeps it in a cookie. */
  url: string;
  port: number;
  close(): Promise<void>;
}

const COOKIE = 'gatehouse_replay';

function sameSecret(given: string | undefined, secret: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookie(request: IncomingMessage, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

const HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

function send(response: ServerResponse, status: number, type: string, body: string, extra = {}): void {
  response.writeHead(status, { ...HEADERS, 'content-type': type, ...extra });
  response.end(body);
}

/**
 * Local mode's recordings page: lists the sessions of a local store and replays them. It listens on
 * the loopback interface only, answers only requests addressed to it by that name (so a web page
 * elsewhere cannot reach it through DNS rebinding), and only to a browser that presented the
 * per-run secret printed at start.
 */
export async function startRecordingsPage(options: { store: string; port: number }): Promise<RecordingsPage> {
  const secret = randomBytes(24).toString('base64url');
  let port = options.port;
  const server = createServer((request, response) => {
    try {
      const host = request.headers.host ?? '';
      if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) {
        send(response, 403, 'text/plain', 'this page answers only on the loopback address\n');
        return;
      }
      const url = new URL(request.url ?? '/', `http://${host}`);
      if (request.method !== 'GET') {
        send(response, 405, 'text/plain', 'GET only\n', { allow: 'GET' });
        return;
      }
      if (url.pathname === '/' && url.searchParams.has('secret')) {
        if (!sameSecret(url.searchParams.get('secret') ?? undefined, secret)) {
          send(response, 401, 'text/plain', 'wrong secret\n');
          return;
        }
        // The secret leaves the address bar (and the history) at once; the cookie carries it on.
        send(response, 303, 'text/plain', '', {
          location: '/',
          'set-cookie': `${COOKIE}=${secret}; HttpOnly; SameSite=Strict; Path=/`,
        });
        return;
      }
      if (!sameSecret(cookie(request, COOKIE), secret)) {
        send(
          response,
          401,
          'text/plain',
          'open the address gatehouse printed at start: it carries the secret\n',
        );
        return;
      }
      if (url.pathname === '/') {
        const nonce = randomBytes(16).toString('base64');
        send(response, 200, 'text/html; charset=utf-8', recordingsPage(nonce), {
          'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
        });
        return;
      }
      if (url.pathname === '/api/sessions') {
        send(response, 200, 'application/json', JSON.stringify(listSessions(options.store)));
        return;
      }
      const match = /^\/api\/sessions\/([0-9a-f-]{36})$/.exec(url.pathname);
      if (match) {
        send(response, 200, 'application/json', JSON.stringify(sessionEvents(options.store, match[1]!)));
        return;
      }
      send(response, 404, 'text/plain', 'not found\n');
    } catch (error) {
      send(response, 500, 'text/plain', `could not read the store: ${(error as Error).message}\n`);
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
