import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalDigestSigner } from '../../core/audit/digest';
import type { StatementRecord } from '../../core/audit/records';
import { AuditWriter } from '../../fargate-proxy/src/audit/audit-writer';
import { silentLogger } from '../../fargate-proxy/src/observability/logger';
import { ensureAuditSigningKey } from '../../local/certificates';
import { runCommand } from '../support/run-command';

const CLI = path.join(__dirname, '..', '..', 'dist', 'bin', 'gatehouse.js');

describe('gatehouse verify', () => {
  it('passes an untouched store and fails one with a changed byte, naming what changed', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'gh-verify-'));
    const key = ensureAuditSigningKey(path.join(home, 'keys', 'audit-signing-key.pem'));
    const writer = new AuditWriter({
      directory: path.join(home, 'audit', 'local-w0'),
      writer: 'local-w0',
      signer: new LocalDigestSigner(readFileSync(key, 'utf8')),
      flushMs: 60_000,
      digestIntervalMs: 600_000,
      log: silentLogger,
    });
    for (const text of ['SELECT 1', 'SELECT 2']) {
      writer.append<StatementRecord>('s1', {
        type: 'statement',
        time: 1,
        start: 1,
        end: 2,
        protocol: 'simple',
        text,
        textSha256: '0'.repeat(64),
        decision: 'allowed',
        outcome: { tag: 'SELECT 1', rows: 1 },
        bytesIn: 1,
        bytesOut: 1,
      });
    }
    await writer.close();
    const verify = () => runCommand(process.execPath, [CLI, 'verify', '--home', home], { env: process.env });
    const good = await verify();
    expect(good.code).toBe(0);
    expect(good.stdout).toContain('1 writers, 1 digests, 1 chunks, 1 sessions, 2 records');
    const chunk = path.join(home, 'audit', 'local-w0', 'chunk-0.jsonl');
    writeFileSync(chunk, readFileSync(chunk, 'utf8').replace('SELECT 2', 'SELECT 3'));
    const bad = await verify();
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('FAIL  local-w0: chunk-altered');
    expect(bad.stdout).toContain('record-altered');
    expect(bad.stdout).toContain('NOT VERIFIED');
  });
});
