import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { replayCommand } from '../../bin/replay-command';
import { LocalDigestSigner } from '../../core/audit/digest';
import type { StatementRecord } from '../../core/audit/records';
import { verifyStore } from '../../core/audit/verify';
import { readLocalStore } from '../../fargate-proxy/src/audit/local-store';
import { readLocalRecordings } from '../../fargate-proxy/src/recording/local-recordings';
import { recordedSessions, replaySession } from '../../fargate-proxy/src/recording/replay';
import { storedRecords } from '../support/audit-records';
import { auditKeyFile, testHome } from '../support/environment';
import { startTestGateway } from '../support/gateway';

const ssl = { rejectUnauthorized: false };
const STATEMENT_CAP = 4096;
const SESSION_CAP = 64 * 1024;

function statements(directory: string): StatementRecord[] {
  return storedRecords(directory).filter((r): r is StatementRecord => r.type === 'statement');
}

async function replayText(store: string, ...args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await replayCommand(['--store', store, ...args], (text) => {
    out += text;
  });
  return { code, out };
}

describe('session recordings', () => {
  let directory: string;
  let sessionId: string;

  beforeAll(async () => {
    directory = mkdtempSync(path.join(testHome(), 'recordings-'));
    const gateway = await startTestGateway({
      audit: { directory },
      recording: { maxStatementBytes: STATEMENT_CAP, maxSessionBytes: SESSION_CAP, flushMs: 20 },
    });
    try {
      const client = new Client({
        ...gateway.connection('recorded'),
        ssl,
        application_name: 'recording-test',
      });
      await client.connect();
      await client.query("SELECT 'hello' AS greeting, 42 AS answer, NULL AS nothing");
      await client.query({
        text: 'SELECT length($1::text) AS value_length',
        values: ['parameter-value-7731'],
      });
      await expect(client.query('SELECT 1/0')).rejects.toMatchObject({ code: '22012' });
      // About 10 kB of rows: past the statement cap.
      const big = await client.query("SELECT g, repeat('x', 90) AS pad FROM generate_series(1, 100) g");
      expect(big.rowCount).toBe(100);
      await client.query("CREATE ROLE recording_role_x PASSWORD 'hunter2'").catch(() => undefined);
      await client.query('DROP ROLE IF EXISTS recording_role_x');
      await client.end();
      // A second session goes past the session cap.
      const heavy = new Client({ ...gateway.connection('recorded'), ssl });
      await heavy.connect();
      for (let i = 0; i < 30; i++)
        await heavy.query("SELECT g, repeat('y', 90) FROM generate_series(1, 30) g");
      await heavy.end();
    } finally {
      await gateway.stop();
    }
    const sessions = [...recordedSessions(readLocalRecordings(directory))].sort((a, b) => a[1] - b[1]);
    expect(sessions).toHaveLength(2);
    sessionId = sessions[0]![0];
  });

  it('replays what the client sent and received, in order, with parameter values and passwords left out', async () => {
    const events = replaySession(readLocalRecordings(directory), sessionId);
    const kinds = events.map((e) => e.kind);
    expect(kinds[0]).toBe('start');
    expect(kinds.at(-1)).toBe('end');
    expect(events).toContainEqual(
      expect.objectContaining({ kind: 'columns', names: ['greeting', 'answer', 'nothing'] }),
    );
    expect(events).toContainEqual(expect.objectContaining({ kind: 'row', values: ['hello', '42', null] }));
    expect(events).toContainEqual(expect.objectContaining({ kind: 'error', code: '22012' }));
    expect(events).toContainEqual(
      expect.objectContaining({
        kind: 'client',
        event: expect.objectContaining({ type: 'bind', parameters: 1 }),
      }),
    );
    // Times only move forward.
    for (let i = 1; i < events.length; i++)
      expect(events[i]!.time).toBeGreaterThanOrEqual(events[i - 1]!.time);

    const raw = Buffer.concat(readLocalRecordings(directory)).toString('latin1');
    expect(raw.includes('parameter-value-7731')).toBe(false);
    expect(raw.includes('hunter2')).toBe(false);
    expect(events).toContainEqual(expect.objectContaining({ kind: 'row', values: ['20'] }));

    const { code, out } = await replayText(directory, sessionId.slice(0, 8));
    expect(code).toBe(0);
    expect(out).toMatch(
      /=> SELECT 'hello' AS greeting, 42 AS answer, NULL AS nothing\n.*greeting \| answer \| nothing\n.*hello \| 42 \| NULL\n.*<= SELECT 1\n/,
    );
    expect(out).toContain('<= ERROR 22012: division by zero');
    expect(out).toContain('=> CREATE ROLE recording_role_x PASSWORD ?   (redacted)');
  });

  it('cuts a statement past its cap, says so in the recording and in its audit record', async () => {
    const events = replaySession(readLocalRecordings(directory), sessionId);
    const bigStart = events.findIndex((e) => e.kind === 'columns' && e.names.includes('pad'));
    const after = events.slice(bigStart);
    const rows = after.slice(
      1,
      after.findIndex((e) => e.kind === 'cut'),
    );
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.length).toBeLessThan(100);
    expect(rows.every((e) => e.kind === 'row')).toBe(true);
    const cut = after.find((e) => e.kind === 'cut');
    expect(cut).toMatchObject({ cut: { cap: 'statement', omittedMessages: 100 - rows.length } });
    // The statement's end is still recorded after the cut.
    expect(after[rows.length + 2]).toMatchObject({ kind: 'complete', tag: 'SELECT 100' });

    const record = statements(directory).find((r) => r.text.includes('generate_series(1, 100)'));
    expect(record).toMatchObject({ recording: { cut: 'statement', omittedBytes: expect.any(Number) } });
    expect(record!.recording!.omittedBytes).toBe((cut as { cut: { omittedBytes: number } }).cut.omittedBytes);
    expect(statements(directory).find((r) => r.text.startsWith("SELECT 'hello'"))?.recording).toBeUndefined();
  });

  it('stops recording a session past the session cap, and its later statements say so', async () => {
    const sessions = [...recordedSessions(readLocalRecordings(directory))].sort((a, b) => a[1] - b[1]);
    const heavy = sessions[1]![0];
    const events = replaySession(readLocalRecordings(directory), heavy);
    expect(events).toContainEqual(
      expect.objectContaining({ kind: 'cut', cut: expect.objectContaining({ cap: 'session' }) }),
    );
    const records = statements(directory).filter((r) => r.session === heavy);
    expect(records).toHaveLength(30);
    expect(records.at(-1)).toMatchObject({ recording: { cut: 'session' } });
    const recordedBytes = events.filter((e) => e.kind === 'row').length;
    expect(recordedBytes).toBeLessThan(30 * 30);
  });

  it('lists the sessions it can replay', async () => {
    const { code, out } = await replayText(directory);
    expect(code).toBe(0);
    expect(out).toContain(sessionId);
    await expect(replayText(directory, 'no-such-session')).resolves.toMatchObject({ code: 1 });
  });

  it('keeps recordings tamper-evident: each is listed in a signed digest, and a changed byte is found', () => {
    const publicKey = new LocalDigestSigner(readFileSync(auditKeyFile(), 'utf8')).publicKeyPem();
    const report = verifyStore(readLocalStore(directory), publicKey);
    expect(report).toMatchObject({ ok: true, problems: [] });
    expect(report.recordings).toBeGreaterThanOrEqual(1);

    const writer = readdirSync(directory)[0]!;
    const file = readdirSync(path.join(directory, writer)).find((f) => /^recording-\d+\.gz$/.test(f))!;
    const target = path.join(directory, writer, file);
    const original = readFileSync(target);
    const altered = Buffer.from(original);
    altered[altered.length >> 1]! ^= 1;
    writeFileSync(target, altered);
    try {
      const tampered = verifyStore(readLocalStore(directory), publicKey);
      expect(tampered.ok).toBe(false);
      expect(tampered.problems).toContainEqual(expect.objectContaining({ kind: 'recording-altered' }));
    } finally {
      writeFileSync(target, original);
    }
  });
});
