import { mkdtempSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { LocalDigestSigner } from '../../core/audit/digest';
import type { AuditRecord } from '../../core/audit/records';
import { verifyStore } from '../../core/audit/verify';
import { readLocalStore } from '../../fargate-proxy/src/audit/local-store';
import { storedRecords } from '../support/audit-records';
import { auditKeyFile, testHome, testIssuer } from '../support/environment';
import { spawnGateway } from '../support/gateway-process';

function statementRecords(directory: string): AuditRecord[] {
  return storedRecords(directory).filter((record) => record.type === 'statement');
}

describe('audit records survive a killed gateway', () => {
  it('has a record for every statement acknowledged before SIGKILL, and the store verifies after a restart', async () => {
    const directory = mkdtempSync(path.join(testHome(), 'audit-fault-'));
    const audit = { directory, writer: 'fault', flushMs: 10_000, digestIntervalMs: 60_000 };
    const first = await spawnGateway({ workers: 0, audit });
    const client = new Client({
      host: '127.0.0.1',
      port: first.port,
      user: 'fault-job',
      password: testIssuer().sign({ sub: 'fault-job' }, 600),
      database: 'postgres',
      ssl: { rejectUnauthorized: false },
    });
    client.on('error', () => undefined);
    await client.connect();
    let acknowledged = 0;
    const running = (async () => {
      for (let i = 0; ; i++) {
        await client.query(i % 2 ? 'SELECT $1::int AS n' : 'SELECT 1 AS n', i % 2 ? [i] : undefined);
        acknowledged++;
      }
    })().catch(() => undefined);
    while (acknowledged < 200) await new Promise((resolve) => setTimeout(resolve, 10));
    // flushMs is long: only the write-before-acknowledge path can have put these records on disk.
    first.child.kill('SIGKILL');
    await running;
    const killedAt = acknowledged;

    const second = await spawnGateway({ workers: 0, audit });
    expect(await second.terminate()).toBe(0);

    const records = statementRecords(directory);
    expect(records.length).toBeGreaterThanOrEqual(killedAt);
    expect(records.length).toBeLessThanOrEqual(killedAt + 1); // the one whose answer was on its way
    const publicKey = new LocalDigestSigner(readFileSync(auditKeyFile(), 'utf8')).publicKeyPem();
    const report = verifyStore(readLocalStore(directory), publicKey);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
  });
});
