import { createPublicKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { verifyStore } from '../core/audit/verify';
import { readLocalStore } from '../fargate-proxy/src/audit/local-store';

/**
 * `gatehouse verify`: checks an audit store offline with only the public key. Exit code 0 when every
 * record, chunk and digest checks out, 1 when anything was changed, removed, reordered or inserted.
 */
export function verifyCommand(argv: string[], write: (text: string) => void): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      home: { type: 'string', default: '.gatehouse' },
      store: { type: 'string' },
      'public-key': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const home = path.resolve(values.home);
  const store = path.resolve(values.store ?? path.join(home, 'audit'));
  let publicKey: string;
  if (values['public-key']) {
    publicKey = readFileSync(values['public-key'], 'utf8');
  } else {
    // Local mode: derive the public key from the signing key it keeps.
    const keyFile = path.join(home, 'keys', 'audit-signing-key.pem');
    if (!existsSync(keyFile)) throw new Error(`no --public-key given and no ${keyFile}`);
    publicKey = createPublicKey(readFileSync(keyFile)).export({ type: 'spki', format: 'pem' }).toString();
  }
  if (!existsSync(store)) throw new Error(`no audit store at ${store}`);
  const report = verifyStore(readLocalStore(store), publicKey);
  if (values.json) {
    write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    write(
      `${store}: ${report.writers} writers, ${report.digests} digests, ${report.chunks} chunks, ${report.sessions} sessions, ${report.records} records\n`,
    );
    for (const problem of report.problems) {
      write(
        `${problem.kind === 'chunk-undigested' ? 'note ' : 'FAIL '} ${problem.writer}${problem.session ? ` session ${problem.session}` : ''}: ${problem.kind}: ${problem.detail}\n`,
      );
    }
    write(report.ok ? 'verified: nothing changed, removed, reordered or inserted\n' : 'NOT VERIFIED\n');
  }
  return report.ok ? 0 : 1;
}
