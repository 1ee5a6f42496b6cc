import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Digest } from '../../../core/audit/digest';
import type { StatementRecord } from '../../../core/audit/records';
import { verifyStore } from '../../../core/audit/verify';
import { readWriterDirectory } from '../../../fargate-proxy/src/audit/local-store';
import type { Logger } from '../../../fargate-proxy/src/observability/logger';
import { silentLogger } from '../../../fargate-proxy/src/observability/logger';
import { manualAuditWriter, statementBody, testDigestSigner } from '../../support/audit-records';

const signer = testDigestSigner();

describe('AuditWriter spool', () => {
  it('keeps records whose write failed and writes them, whole and first, once the disk takes them', async () => {
    const directory = path.join(mkdtempSync(path.join(os.tmpdir(), 'gh-spool-')), 'w0');
    const errors: string[] = [];
    const log = { ...silentLogger, error: (message: string) => errors.push(message) } as Logger;
    const writer = manualAuditWriter(directory, signer, { writer: 'w0', log });
    // A full disk: every write fails with ENOSPC.
    const open = path.join(directory, 'open.jsonl');
    symlinkSync('/dev/full', open);
    writer.append<StatementRecord>('s1', statementBody('SELECT 1'));
    writer.append<StatementRecord>('s1', statementBody('SELECT 2'));
    writer.flush();
    expect(errors).toEqual(['audit spool write failed']);
    expect(writer.hasPending).toBe(true);

    // Space again; more records arrive meanwhile.
    rmSync(open);
    writer.append<StatementRecord>('s1', statementBody('SELECT 3'));
    writer.flush();
    expect(writer.hasPending).toBe(false);
    const lines = readFileSync(open, 'utf8').trimEnd().split('\n');
    expect(lines.map((line) => (JSON.parse(line) as StatementRecord).text)).toEqual([
      'SELECT 1',
      'SELECT 2',
      'SELECT 3',
    ]);

    await writer.close();
    expect(existsSync(open)).toBe(false);
    const report = verifyStore([readWriterDirectory(directory)], signer.publicKeyPem());
    expect(report).toMatchObject({ ok: true, records: 3 });
  });

  it('writes records appended during one event-loop turn with one write, then lets the waiters go', async () => {
    const directory = path.join(mkdtempSync(path.join(os.tmpdir(), 'gh-spool-')), 'w0');
    const writer = manualAuditWriter(directory, signer, { writer: 'w0', log: silentLogger });
    const open = path.join(directory, 'open.jsonl');
    const seen: number[] = [];
    writer.append<StatementRecord>('s1', statementBody('SELECT 1'));
    writer.afterFlush(() => seen.push(readFileSync(open, 'utf8').split('\n').length - 1));
    writer.append<StatementRecord>('s2', statementBody('SELECT 2'));
    writer.afterFlush(() => seen.push(readFileSync(open, 'utf8').split('\n').length - 1));
    expect(existsSync(open)).toBe(false);
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual([2, 2]);
    await writer.close();
  });

  it('signs a digest soon after sessions end, one for the sessions that end together', async () => {
    const directory = path.join(mkdtempSync(path.join(os.tmpdir(), 'gh-spool-')), 'w0');
    const writer = manualAuditWriter(directory, signer, {
      writer: 'w0',
      sessionEndDigestMs: 20,
      log: silentLogger,
    });
    writer.append<StatementRecord>('s1', statementBody('SELECT 1'));
    writer.append<StatementRecord>('s2', statementBody('SELECT 2'));
    writer.endSession('s1');
    writer.endSession('s2');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const digests = readdirSync(directory).filter((f) => f.startsWith('digest-'));
    expect(digests).toEqual(['digest-0.json']);
    const digest = JSON.parse(readFileSync(path.join(directory, 'digest-0.json'), 'utf8')) as Digest;
    expect(Object.keys(digest.heads).sort()).toEqual(['s1', 's2']);
    writer.detach();
  });

  it('continues the time coverage of the process whose spool it resumes, however long the restart took', async () => {
    const directory = path.join(mkdtempSync(path.join(os.tmpdir(), 'gh-spool-')), 'w0');
    let clock = 1_000_000;
    const now = () => clock;
    const first = manualAuditWriter(directory, signer, { writer: 'w0', now });
    first.append<StatementRecord>('s1', statementBody('SELECT 1'));
    clock += 500;
    await first.digest();
    first.append<StatementRecord>('s1', statementBody('SELECT 2'));
    first.flush();
    first.detach(); // a crash: records after the last digest stay in the open chunk
    clock += 5_000; // a restart that takes five seconds
    const second = manualAuditWriter(directory, signer, { writer: 'w0', now });
    clock += 500;
    await second.digest();
    const digests = [0, 1].map(
      (n) => JSON.parse(readFileSync(path.join(directory, `digest-${n}.json`), 'utf8')) as Digest,
    );
    expect(digests[1]!.from).toBe(digests[0]!.to);
    second.detach();
  });
});
