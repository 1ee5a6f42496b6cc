import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { StatementRecord } from '../../../core/audit/records';
import { type ProblemKind, verifyStore } from '../../../core/audit/verify';
import type { AuditWriter } from '../../../fargate-proxy/src/audit/audit-writer';
import { readWriterDirectory } from '../../../fargate-proxy/src/audit/local-store';
import { manualAuditWriter, statementBody, testDigestSigner } from '../../support/audit-records';

const signer = testDigestSigner();
const publicKey = signer.publicKeyPem();

const read = readWriterDirectory;

/** A writer that digests only when told to (the tests drive the clock and the digests). */
function writerFor(directory: string, now?: () => number): AuditWriter {
  return manualAuditWriter(directory, signer, { now });
}

/** A store with two sessions over three digests; returns its directory. */
async function sampleStore(): Promise<string> {
  const directory = path.join(mkdtempSync(path.join(os.tmpdir(), 'gh-audit-')), 'i-1-w0');
  let clock = 1_700_000_000_000;
  const writer = writerFor(directory, () => clock);
  for (let i = 0; i < 5; i++)
    writer.append<StatementRecord>('s1', statementBody(`SELECT ${i}`, clock * 1000 + i));
  clock += 1000;
  await writer.digest();
  for (let i = 0; i < 3; i++)
    writer.append<StatementRecord>('s2', statementBody(`SELECT ${i}`, clock * 1000 + i));
  writer.append<StatementRecord>('s1', statementBody('SELECT 5', clock * 1000));
  clock += 1000;
  await writer.digest();
  clock += 1000;
  await writer.close();
  return directory;
}

function kinds(directory: string): ProblemKind[] {
  return verifyStore([read(directory)], publicKey).problems.map((p) => p.kind);
}

describe('the audit store and its verification', () => {
  it('verifies an untouched store', async () => {
    const directory = await sampleStore();
    const report = verifyStore([read(directory)], publicKey);
    expect(report).toMatchObject({ ok: true, digests: 3, chunks: 2, sessions: 2, records: 9, problems: [] });
  });

  it('detects digests deleted from the end of a store, against the heads registered apart from it', async () => {
    const directory = await sampleStore();
    const digests = read(directory).digests.map(
      (bytes) => JSON.parse(bytes.toString()) as { seq: number; signature: string },
    );
    const last = digests.reduce((a, b) => (a.seq > b.seq ? a : b));
    const heads = new Map([['i-1-w0', { seq: last.seq, signature: last.signature }]]);
    expect(verifyStore([read(directory)], publicKey, heads)).toMatchObject({ ok: true });
    // The newest digest (and with it the chunk it listed) removed: the chain itself still looks whole.
    rmSync(path.join(directory, `digest-${last.seq}.json`));
    const report = verifyStore([read(directory)], publicKey, heads);
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.kind)).toContain('digest-tail-deleted');
  });

  it('reads chunks in the order written, past ten of them (chunk-10 after chunk-9)', async () => {
    const directory = path.join(mkdtempSync(path.join(os.tmpdir(), 'gh-audit-')), 'i-1-w0');
    const writer = writerFor(directory);
    for (let i = 0; i < 12; i++) {
      writer.append<StatementRecord>('s1', statementBody(`SELECT ${i}`, Date.now() * 1000));
      await writer.digest();
    }
    expect(verifyStore([read(directory)], publicKey)).toMatchObject({
      ok: true,
      chunks: 12,
      records: 12,
      problems: [],
    });
  });

  it('detects a changed byte in any record', async () => {
    const directory = await sampleStore();
    const file = path.join(directory, 'chunk-0.jsonl');
    writeFileSync(file, readFileSync(file, 'utf8').replace('SELECT 3', 'SELECT 4'));
    expect(kinds(directory)).toEqual(expect.arrayContaining(['chunk-altered', 'record-altered']));
  });

  it('detects a removed record, even with the chunk digest recomputed by the attacker', async () => {
    const directory = await sampleStore();
    const file = path.join(directory, 'chunk-0.jsonl');
    const lines = readFileSync(file, 'utf8').split('\n');
    writeFileSync(file, [...lines.slice(0, 2), ...lines.slice(3)].join('\n'));
    expect(kinds(directory)).toEqual(expect.arrayContaining(['chunk-altered', 'record-missing']));
  });

  it('detects reordered records', async () => {
    const directory = await sampleStore();
    const file = path.join(directory, 'chunk-0.jsonl');
    const lines = readFileSync(file, 'utf8').split('\n');
    [lines[1], lines[2]] = [lines[2]!, lines[1]!];
    writeFileSync(file, lines.join('\n'));
    // Named for what it is: the two records are there, in the wrong order.
    expect(kinds(directory)).toEqual(['chunk-altered', 'record-reordered']);
  });

  it('detects a deleted chunk, a deleted tail and a deleted or forged digest', async () => {
    const directory = await sampleStore();
    rmSync(path.join(directory, 'chunk-1.jsonl'));
    expect(kinds(directory)).toEqual(expect.arrayContaining(['chunk-missing', 'tail-deleted']));

    const second = await sampleStore();
    rmSync(path.join(second, 'digest-1.json'));
    expect(kinds(second)).toEqual(expect.arrayContaining(['digest-missing', 'digest-chain']));

    const third = await sampleStore();
    const file = path.join(third, 'digest-2.json');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/"from":\d+/, '"from":1'));
    expect(kinds(third)).toContain('digest-signature');
  });

  it('reports records not yet in a digest, and closes them into the next process’s first digest', async () => {
    const directory = await sampleStore();
    const writer = writerFor(directory);
    writer.append<StatementRecord>('s3', statementBody('SELECT 9', Date.now() * 1000));
    writer.flush();
    expect(verifyStore([read(directory)], publicKey)).toMatchObject({
      ok: true,
      problems: [{ kind: 'chunk-undigested' }],
    });
    // The process dies; the next one closes the open chunk and continues the digest chain.
    writer.detach();
    const restarted = writerFor(directory);
    await restarted.close();
    const report = verifyStore([read(directory)], publicKey);
    expect(report.problems.filter((p) => p.kind !== 'time-gap')).toEqual([]);
    // The restart and the chunk the crashed process left are shown, not counted as tampering.
    expect(report.notes.map((n) => n.kind)).toEqual(['restart', 'recovered']);
    expect(report.ok).toBe(true);
    expect(report.records).toBe(10);
  });
});
