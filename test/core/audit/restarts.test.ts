import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { SessionChain, sha256Hex } from '../../../core/audit/chain';
import { type Digest, signDigest } from '../../../core/audit/digest';
import type { PolicyReloadRecord, RecordBody, StatementRecord } from '../../../core/audit/records';
import { verifyStore } from '../../../core/audit/verify';
import { FrameKind } from '../../../core/recording/frames';
import type { AuditWriter } from '../../../fargate-proxy/src/audit/audit-writer';
import { readWriterDirectory } from '../../../fargate-proxy/src/audit/local-store';
import { silentLogger } from '../../../fargate-proxy/src/observability/logger';
import { RecordingWriter } from '../../../fargate-proxy/src/recording/recording-writer';
import { manualAuditWriter, statementBody, testDigestSigner } from '../../support/audit-records';

const signer = testDigestSigner();
const publicKey = signer.publicKeyPem();
const POLICY_LOG = 'policy-i-1-w0';

function reload(time: number): RecordBody<PolicyReloadRecord> {
  return {
    type: 'policy-reload',
    time,
    digest: 'd'.repeat(64),
    previous: 'p'.repeat(64),
    outcome: 'applied',
  };
}

function freshDirectory(): string {
  const directory = path.join(mkdtempSync(path.join(os.tmpdir(), 'gh-restarts-')), 'i-1-w0');
  mkdirSync(directory);
  return directory;
}

/** A process of the writer `i-1-w0`, recording sessions when `recordings` is set. */
function processOf(directory: string, now: () => number, recordings = false): AuditWriter {
  return manualAuditWriter(directory, signer, {
    now,
    persistentChains: [POLICY_LOG],
    recording: recordings
      ? {
          writer: new RecordingWriter({
            directory,
            flushMs: 60_000,
            maxPendingBytes: 1 << 20,
            log: silentLogger,
          }),
          caps: { maxSessionBytes: 1 << 20, maxStatementBytes: 1 << 16 } as never,
        }
      : undefined,
  });
}

function number(name: string): number {
  return Number(/(\d+)/.exec(name)![1]);
}

function verify(directory: string) {
  return verifyStore([readWriterDirectory(directory)], publicKey);
}

describe('audit chains across restarts and crashes', () => {
  it("continues the writer's policy chain after a clean stop and start (no tamper alarm)", async () => {
    const directory = freshDirectory();
    let clock = 1_700_000_000_000;
    const first = processOf(directory, () => clock);
    first.append<PolicyReloadRecord>(POLICY_LOG, reload(clock * 1000));
    first.append<PolicyReloadRecord>(POLICY_LOG, reload(clock * 1000 + 1));
    clock += 1000;
    await first.close();
    const second = processOf(directory, () => clock);
    second.append<PolicyReloadRecord>(POLICY_LOG, reload(clock * 1000));
    clock += 1000;
    await second.close();
    const records = readdirSync(directory)
      .filter((f) => f.startsWith('chunk-'))
      .flatMap((f) => readFileSync(path.join(directory, f), 'utf8').split('\n').filter(Boolean))
      .map((line) => JSON.parse(line) as PolicyReloadRecord);
    expect(records.map((r) => r.seq)).toEqual([0, 1, 2]);
    const report = verify(directory);
    expect(report).toMatchObject({ ok: true, problems: [] });
    expect(report.notes.map((n) => n.kind)).toEqual(['restart']);
  });

  it('lists a recording and a chunk a killed process left, even when the next one is killed before its first digest', async () => {
    const directory = freshDirectory();
    let clock = 1_700_000_000_000;
    const first = processOf(directory, () => clock, true);
    first.append<StatementRecord>('s1', statementBody('SELECT 1', clock * 1000));
    first.recording!.writer.frame(FrameKind.Client, 's1', clock * 1000, 'SELECT 1');
    await first.digest();
    first.append<StatementRecord>('s1', statementBody('SELECT 2', clock * 1000 + 5));
    first.recording!.writer.frame(FrameKind.Client, 's1', clock * 1000 + 5, 'SELECT 2');
    first.flush();
    first.recording!.writer.flush();
    await new Promise((resolve) => setTimeout(resolve, 50));
    first.detach(); // SIGKILL: open.jsonl and recording-open.gz stay behind
    expect(existsSync(path.join(directory, 'recording-open.gz'))).toBe(true);
    const second = processOf(directory, () => clock, true); // seals both, then dies before a digest
    second.detach();
    expect(existsSync(path.join(directory, 'recording-open.gz'))).toBe(false);
    clock += 1000;
    const third = processOf(directory, () => clock, true);
    await third.close();
    const report = verify(directory);
    expect(report.problems).toEqual([]);
    expect(report.notes.filter((n) => n.kind === 'recovered').map((n) => n.detail)).toEqual([
      expect.stringMatching(/^chunk chunk-1\.jsonl .* with \d+ bytes/),
      expect.stringMatching(/^recording recording-1\.gz .* with \d+ bytes/),
    ]);
    // Once listed, a change to the recovered recording or its deletion is caught like any other.
    const recording = path.join(directory, 'recording-1.gz');
    writeFileSync(recording, Buffer.concat([readFileSync(recording), Buffer.from([0])]));
    expect(verify(directory).problems.map((p) => p.kind)).toEqual(['recording-altered']);
    rmSync(recording);
    expect(verify(directory).problems.map((p) => p.kind)).toEqual(['recording-missing']);
  });

  it('shows the half-written last line of a recovered chunk as torn, not as tampering', async () => {
    const directory = freshDirectory();
    let clock = 1_700_000_000_000;
    const first = processOf(directory, () => clock);
    first.append<StatementRecord>('s1', statementBody('SELECT 1', clock * 1000));
    await first.digest();
    first.append<StatementRecord>('s1', statementBody('SELECT 2', clock * 1000 + 5));
    first.flush();
    first.detach();
    // The process died in the middle of its next write.
    writeFileSync(path.join(directory, 'open.jsonl'), '{"v":2,"session":"s1","se', { flag: 'a' });
    clock += 1000;
    await processOf(directory, () => clock).close();
    const report = verify(directory);
    expect(report).toMatchObject({ ok: true, problems: [] });
    expect(report.notes.map((n) => n.kind)).toEqual(['restart', 'recovered', 'record-torn']);
  });

  it('reads a store of the previous release: its chain restarts are legacy, and the next process continues the chain', async () => {
    const directory = freshDirectory();
    const clock = 1_700_000_000_000;
    // The previous release: a digest v1 per process, the policy chain starting at 0 each time.
    let previousSignature = '';
    for (let process = 0; process < 2; process++) {
      const chain = new SessionChain(POLICY_LOG, 'i-1-w0');
      const { line, hash } = chain.appendLine(reload(clock * 1000 + process));
      const name = `chunk-${process}.jsonl`;
      writeFileSync(path.join(directory, name), line, { flag: 'w' });
      const digest: Digest = await signDigest(
        {
          type: 'digest',
          v: 1,
          writer: 'i-1-w0',
          seq: process,
          from: clock * 1000 + process * 1000,
          to: clock * 1000 + (process + 1) * 1000,
          chunks: [{ name, sha256: sha256Hex(line), records: 1 }],
          heads: { [POLICY_LOG]: { hash, seq: 0 } },
          previousSignature,
        },
        signer,
      );
      previousSignature = digest.signature;
      writeFileSync(path.join(directory, `digest-${process}.json`), `${JSON.stringify(digest)}\n`);
    }
    const before = verify(directory);
    expect(before).toMatchObject({ ok: true, problems: [] });
    expect(before.notes.map((n) => n.kind)).toEqual(['legacy-restart']);
    // The upgraded writer continues the last segment instead of starting a third.
    const upgraded = processOf(directory, () => clock + 2000);
    upgraded.append<PolicyReloadRecord>(POLICY_LOG, reload((clock + 2000) * 1000));
    await upgraded.close();
    const after = verify(directory);
    expect(after).toMatchObject({ ok: true, problems: [] });
    expect(after.notes.map((n) => n.kind)).toEqual(['legacy-restart']);
    // A chain started again by a writer of this release is not legacy: it is an insertion.
    const chain = new SessionChain(POLICY_LOG, 'i-1-w0');
    writeFileSync(path.join(directory, 'open.jsonl'), chain.appendLine(reload(clock * 1000 + 9)).line);
    expect(verify(directory).problems.map((p) => p.kind)).toContain('record-inserted');
  });

  /**
   * Property: whatever sequence of records, clean stops, kills and restarts a writer goes through,
   * with nothing changed, verification passes; and one change of any kind to what a digest lists is
   * reported under the kind that names it.
   */
  it('never reports tampering after random stops, kills and restarts, and always names a change', async () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('record' as const), session: fc.constantFrom('s1', 's2', POLICY_LOG) }),
      fc.constant({ kind: 'digest' as const }),
      fc.constant({ kind: 'stop' as const }),
      fc.constant({ kind: 'kill' as const }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 1, maxLength: 25 }),
        fc.nat(),
        fc.nat(),
        async (steps, pick, which) => {
          const directory = freshDirectory();
          let clock = 1_700_000_000_000;
          let writer = processOf(directory, () => clock);
          let n = 0;
          // Client sessions end with their process (their ids are never reused); the policy log goes on.
          let processes = 0;
          for (const s of steps) {
            clock += 10;
            if (s.kind === 'record') {
              const session = s.session === POLICY_LOG ? s.session : `${s.session}-${processes}`;
              writer.append<StatementRecord>(session, statementBody(`SELECT ${n++}`, clock * 1000));
              writer.flush();
            } else if (s.kind === 'digest') {
              await writer.digest();
            } else {
              if (s.kind === 'stop') await writer.close();
              else writer.detach();
              writer = processOf(directory, () => clock);
              processes++;
            }
          }
          clock += 10;
          await writer.close();
          const report = verify(directory);
          expect(report.problems).toEqual([]);
          expect(report.ok).toBe(true);
          // Then one change to what the digests list, of a kind chosen at random.
          const files = readdirSync(directory);
          const chunks = files.filter(
            (f) => /^chunk-\d+\.jsonl$/.test(f) && statSync(path.join(directory, f)).size > 0,
          );
          const digests = files
            .filter((f) => /^digest-\d+\.json$/.test(f))
            .sort((a, b) => number(a) - number(b));
          const mutations: (() => string)[] = [];
          if (chunks.length > 0) {
            const chunk = path.join(directory, chunks[which % chunks.length]!);
            mutations.push(() => {
              const bytes = readFileSync(chunk);
              const at = which % bytes.length;
              bytes[at] = bytes[at]! ^ 1;
              writeFileSync(chunk, bytes);
              return 'chunk-altered';
            });
            mutations.push(() => {
              rmSync(chunk);
              return 'chunk-missing';
            });
            const lines = readFileSync(chunk, 'utf8').split('\n').filter(Boolean);
            mutations.push(() => {
              writeFileSync(chunk, [...lines, lines[which % lines.length]!].map((l) => `${l}\n`).join(''));
              return 'record-inserted';
            });
          }
          if (digests.length > 2) {
            mutations.push(() => {
              rmSync(path.join(directory, digests[1 + (which % (digests.length - 2))]!));
              return 'digest-missing';
            });
          }
          if (mutations.length === 0) return;
          const expected = mutations[pick % mutations.length]!();
          expect(verify(directory).problems.map((p) => p.kind)).toContain(expected);
        },
      ),
      { numRuns: 40 },
    );
  }, 60_000);
});
