import { randomBytes } from 'node:crypto';
import { type LoopbackPage, startLoopbackPage } from '../loopback-page';
import { recordingsPage } from './page';
import { listSessions, sessionEvents } from './session-index';

export type RecordingsPage = LoopbackPage;

/**
 * Local mode's recordings page: lists the sessions of a local store and replays them, behind the
 * loopback page's gate (loopback only, per-run secret). Read-only: GET is all it answers.
 */
export async function startRecordingsPage(options: { store: string; port: number }): Promise<RecordingsPage> {
  return startLoopbackPage({
    port: options.port,
    cookie: 'gatehouse_replay',
    handle: ({ url, reply }) => {
      try {
        if (url.pathname === '/') {
          const nonce = randomBytes(16).toString('base64');
          reply(200, 'text/html; charset=utf-8', recordingsPage(nonce), {
            'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
          });
          return;
        }
        if (url.pathname === '/api/sessions') {
          reply(200, 'application/json', JSON.stringify(listSessions(options.store)));
          return;
        }
        const match = /^\/api\/sessions\/([0-9a-f-]{36})$/.exec(url.pathname);
        if (match) {
          reply(200, 'application/json', JSON.stringify(sessionEvents(options.store, match[1]!)));
          return;
        }
        reply(404, 'text/plain', 'not found\n');
      } catch (error) {
        reply(500, 'text/plain', `could not read the store: ${(error as Error).message}\n`);
      }
    },
  });
}
