import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import type { ApprovalEventRecord, StatementRecord } from '../../core/audit/records';
import { storedRecords } from '../support/audit-records';
import { sendCancel } from '../support/cancel';
import { testHome, testIssuer, testUpstream } from '../support/environment';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { runCommand } from '../support/run-command';
import { writeTestPolicy } from '../support/test-policy';

const ssl = { rejectUnauthorized: false };
const CLI = path.join(__dirname, '..', '..', 'dist', 'bin', 'gatehouse.js');

const POLICY = `version: 1
identities:
  migrator: { issuer: local, claims: { sub: migrator } }
approvers:
  alice: { email: alice@example.com }
  bob: { email: bob@example.com }
  carol:
    email: carol@example.com
    identities: [{ issuer: local, claims: { actor: carol } }]
approverGroups:
  dba: [alice, bob, carol]
grants:
  - name: migrations
    to: [migrator]
    searchPath: any
    allow: [read, write, ddl, session, transaction]
    relations: { read: ["*"], write: ["*"] }
    rules:
      - name: drops-need-a-dba
        decision: approve
        reason: dropping a table needs a DBA
        when: { commands: [DROP TABLE] }
        # Long enough for the four CLI runs of the first test on a loaded machine.
        approval: { approvers: [dba], timeoutSeconds: 6, wait: false }
      - name: deletes-need-a-dba
        decision: approve
        reason: deleting rows needs a DBA
        when: { commands: [DELETE] }
        approval: { approvers: [dba], timeoutSeconds: 60, wait: false }
      - name: truncates-wait-for-a-dba
        decision: approve
        reason: truncating a table needs a DBA
        when: { commands: [TRUNCATE] }
        approval: { approvers: [dba], timeoutSeconds: 30 }
      - name: alters-wait-briefly
        decision: approve
        reason: altering a table needs a DBA
        when: { commands: [ALTER TABLE] }
        approval: { approvers: [dba], timeoutSeconds: 2 }
      - name: updates-wait-for-a-dba
        decision: approve
        reason: updating rows needs a DBA
        when: { commands: [UPDATE] }
        approval: { approvers: [dba], timeoutSeconds: 30 }
`;

/**
 * Approval in non-interactive mode, end to end: a statement under an approval rule is refused with
 * the id of a request; an approver answers with `gatehouse approvals`; the same exact statement run
 * again passes once, a different one does not; a denial names the approver; a request times out.
 */
describe('approvals', () => {
  let gateway: TestGateway;
  let directory: string;
  let auditDirectory: string;
  let client: Client;

  /** A session whose token says the job was started by `actor`. */
  async function connect(actor: string): Promise<Client> {
    const connection = gateway.connection('migrator');
    const c = new Client({
      ...connection,
      password: testIssuer().sign({ sub: 'migrator', actor }, 600),
      ssl,
    });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  }

  async function cli(...args: string[]) {
    return runCommand(process.execPath, [CLI, 'approvals', ...args, '--directory', directory], {
      env: { PATH: process.env.PATH },
    });
  }

  /** The request id a refusal names. */
  function requestOf(error: unknown): string {
    const match = /request (apr-[0-9a-f]+)/.exec((error as Error).message);
    if (!match) throw new Error(`no request id in: ${(error as Error).message}`);
    return match[1]!;
  }

  beforeAll(async () => {
    directory = mkdtempSync(path.join(testHome(), 'approvals-'));
    auditDirectory = mkdtempSync(path.join(testHome(), 'approvals-audit-'));
    gateway = await startTestGateway({
      policy: { file: writeTestPolicy(POLICY) },
      approvals: { directory, pollMs: 50 },
      audit: { directory: auditDirectory },
      limits: { approvalNoticeMs: 200 },
    });
    client = await connect('carol');
  });

  afterAll(async () => {
    await client?.end();
    await gateway?.stop();
  });

  it('refuses with a request id, runs the exact statement once approved, and only once', async () => {
    await client.query('CREATE TABLE IF NOT EXISTS approval_target (id int)');
    const first = await client.query('DROP TABLE approval_target').catch((error: Error) => error);
    expect(first).toMatchObject({
      code: '42501',
      message: expect.stringMatching(/approval required by policy/),
    });
    const id = requestOf(first);
    // Asking again names the same pending request.
    const again = await client.query('DROP TABLE approval_target').catch((error: Error) => error);
    expect(requestOf(again)).toBe(id);
    const listed = await cli('list');
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).toContain('DROP TABLE approval_target');
    // The person behind the job may not approve it; someone outside the group neither.
    expect((await cli('approve', id, '--as', 'carol')).stdout).toMatch(/may not approve their own work/);
    expect((await cli('approve', id, '--as', 'mallory')).stdout).toMatch(/not an approver/);
    const approved = await cli('approve', id, '--as', 'alice');
    expect([approved.code, approved.stdout]).toEqual([0, expect.stringMatching(/now approved/)]);
    // A look-alike is not covered: another table, or the same text with other spacing.
    await client.query('CREATE TABLE IF NOT EXISTS approval_other (id int)');
    await expect(client.query('DROP TABLE approval_other')).rejects.toMatchObject({ code: '42501' });
    await expect(client.query('DROP TABLE  approval_target')).rejects.toMatchObject({ code: '42501' });
    await client.query('DROP TABLE approval_target');
    // The audit trail links the statement to its request and approver, and the refusals to the request.
    const statements = storedRecords(auditDirectory).filter(
      (record): record is StatementRecord =>
        record.type === 'statement' && record.text === 'DROP TABLE approval_target',
    );
    expect(statements.map((r) => [r.decision, r.approval])).toEqual([
      ['refused', { id }],
      ['refused', { id }],
      ['approved', { id, by: ['alice'] }],
    ]);
    await client.query('CREATE TABLE approval_target (id int)');
    const used = await client.query('DROP TABLE approval_target').catch((error: Error) => error);
    expect(requestOf(used)).not.toBe(id);
  });

  it('names the approver who denied, and times a request out', async () => {
    await client.query('CREATE TABLE IF NOT EXISTS approval_denied (id int)');
    const refused = await client.query('DROP TABLE approval_denied').catch((error: Error) => error);
    const id = requestOf(refused);
    expect((await cli('deny', id, '--as', 'bob')).code).toBe(0);
    await expect(client.query('DROP TABLE approval_denied')).rejects.toMatchObject({
      code: '42501',
      message: expect.stringMatching(/^approval denied by bob/),
    });
    await new Promise((resolve) => setTimeout(resolve, 6200));
    const fresh = await client.query('DROP TABLE approval_denied').catch((error: Error) => error);
    expect(requestOf(fresh)).not.toBe(id);
    expect((await cli('approve', id, '--as', 'alice')).stdout).toMatch(/timed out/);
  });

  it('binds an extended-protocol approval to the parameters of its execution', async () => {
    await client.query(
      'CREATE TABLE IF NOT EXISTS approval_rows (id int); INSERT INTO approval_rows VALUES (1), (2)',
    );
    const refused = await client
      .query({ name: 'delete_one', text: 'DELETE FROM approval_rows WHERE id = $1', values: [1] })
      .catch((error: Error) => error);
    const id = requestOf(refused);
    expect((await cli('approve', id, '--as', 'bob')).code).toBe(0);
    // Other values are another statement.
    await expect(
      client.query({ name: 'delete_one', text: 'DELETE FROM approval_rows WHERE id = $1', values: [2] }),
    ).rejects.toMatchObject({ code: '42501' });
    const deleted = await client.query({
      name: 'delete_one',
      text: 'DELETE FROM approval_rows WHERE id = $1',
      values: [1],
    });
    expect(deleted.rowCount).toBe(1);
    const rows = await client.query('SELECT id FROM approval_rows ORDER BY id');
    expect(rows.rows).toEqual([{ id: 2 }]);
  });

  it('shows an approver the parameters, and binds their format: the same bytes in binary are another statement', async () => {
    await client.query(
      'CREATE TABLE IF NOT EXISTS approval_formats (id int); INSERT INTO approval_formats VALUES (1000)',
    );
    const text = 'DELETE FROM approval_formats WHERE id = $1';
    // "1000" sent in binary is the int4 825241648: a statement that deletes nothing.
    const binary = await client.query({ text, values: [Buffer.from('1000')] }).catch((error: Error) => error);
    const id = requestOf(binary);
    const listed = JSON.parse((await cli('list', '--json')).stdout) as Array<{ id: string; text: string }>;
    expect(listed.find((r) => r.id === id)?.text).toBe(`${text}\n-- parameters: $1 = (binary, 4 bytes)`);
    expect((await cli('approve', id, '--as', 'bob')).code).toBe(0);
    // The same bytes in text format mean row 1000: not what was approved.
    const textual = await client.query({ text, values: ['1000'] }).catch((error: Error) => error);
    const other = requestOf(textual);
    expect(other).not.toBe(id);
    const second = JSON.parse((await cli('list', '--json')).stdout) as Array<{ id: string; text: string }>;
    expect(second.find((r) => r.id === other)?.text).toBe(`${text}\n-- parameters: $1 = '1000'`);
    expect((await client.query('SELECT count(*)::int AS n FROM approval_formats')).rows).toEqual([{ n: 1 }]);
  });

  it('binds an approval of EXECUTE to what the name is prepared as in the session', async () => {
    await client.query(
      'CREATE TABLE IF NOT EXISTS approval_exec (id int); INSERT INTO approval_exec VALUES (1), (20)',
    );
    const harmless = await connect('carol');
    const other = await connect('carol');
    try {
      await harmless.query('PREPARE p AS SELECT 1');
      // DELETE needs approval; its PREPARE does too (the rule sees the prepared statement).
      await harmless.query('DEALLOCATE p');
      const noOp = 'PREPARE p AS DELETE FROM approval_exec WHERE id = 999';
      await expect(harmless.query(noOp)).rejects.toMatchObject({ code: '42501' });
      const prepareId = requestOf(await harmless.query(noOp).catch((error: Error) => error));
      await cli('approve', prepareId, '--as', 'alice');
      await harmless.query(noOp);
      const execute = await harmless.query('EXECUTE p').catch((error: Error) => error);
      const executeId = requestOf(execute);
      const listed = JSON.parse((await cli('list', '--json')).stdout) as Array<{ id: string; text: string }>;
      expect(listed.find((r) => r.id === executeId)?.text).toBe(
        'EXECUTE p\n-- p was prepared by: PREPARE p AS DELETE FROM approval_exec WHERE id = 999',
      );
      await cli('approve', executeId, '--as', 'alice');
      // Another session prepares another body under the same name, approved for itself.
      const harmful = 'PREPARE p AS DELETE FROM approval_exec WHERE id = 20';
      const attempt = await other.query(harmful).catch((error: Error) => error);
      const harmfulId = requestOf(attempt);
      await cli('approve', harmfulId, '--as', 'alice');
      await other.query(harmful);
      // Its EXECUTE p is not the EXECUTE p that was approved.
      const refused = await other.query('EXECUTE p').catch((error: Error) => error);
      expect(requestOf(refused)).not.toBe(executeId);
      expect((await client.query('SELECT id FROM approval_exec ORDER BY id')).rows).toEqual([
        { id: 1 },
        { id: 20 },
      ]);
      // The approved one runs, recorded as the DELETE it is.
      await expect(harmless.query('EXECUTE p')).resolves.toMatchObject({ rowCount: 0 });
      const record = storedRecords(auditDirectory).find(
        (r): r is StatementRecord =>
          r.type === 'statement' && r.text === 'EXECUTE p' && r.decision === 'approved',
      );
      expect(record).toMatchObject({ class: 'write', writes: ['approval_exec'] });
    } finally {
      await harmless.end();
      await other.end();
    }
  });

  /** The approval events the audit trail holds for one request. */
  function approvalEvents(id: string): ApprovalEventRecord[] {
    // In chain order: the store's files are read in directory order, not in the order written.
    return storedRecords(auditDirectory)
      .filter((record): record is ApprovalEventRecord => record.type === 'approval' && record.id === id)
      .sort((a, b) => a.seq - b.seq);
  }

  /** Waits until a request for `text` is pending, and returns its id. */
  async function pendingRequest(text: string): Promise<string> {
    for (let i = 0; i < 100; i++) {
      const listed = await cli('list', '--json');
      const found = (JSON.parse(listed.stdout) as { id: string; state: string; text: string }[]).find(
        (r) => r.text === text && r.state === 'pending',
      );
      if (found) return found.id;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`no pending request for ${text}`);
  }

  it('holds a statement on the wire, tells the client, and runs it once approved', async () => {
    const held = await connect('dave');
    const notices: string[] = [];
    held.on('notice', (notice) => notices.push(notice.message ?? ''));
    try {
      await held.query(
        'CREATE TABLE IF NOT EXISTS approval_held (id int); INSERT INTO approval_held VALUES (1)',
      );
      const running = held.query('TRUNCATE TABLE approval_held');
      const id = await pendingRequest('TRUNCATE TABLE approval_held');
      await new Promise((resolve) => setTimeout(resolve, 500));
      // The metrics count the request and the statement held.
      const metrics = await fetch(`http://127.0.0.1:${gateway.healthPort}/metrics`).then((r) => r.text());
      expect(metrics).toMatch(/^gatehouse_approvals_held 1$/m);
      expect(metrics).toMatch(/^gatehouse_approvals_requested_total [1-9]\d*$/m);
      expect((await cli('approve', id, '--as', 'bob')).code).toBe(0);
      await running;
      expect(notices[0]).toMatch(
        new RegExp(`approval required: truncating a table needs a DBA; request ${id}`),
      );
      // Reminders came while it waited.
      expect(notices.length).toBeGreaterThan(1);
      expect((await held.query('SELECT count(*)::int AS n FROM approval_held')).rows).toEqual([{ n: 0 }]);
      const after = await fetch(`http://127.0.0.1:${gateway.healthPort}/metrics`).then((r) => r.text());
      expect(after).toMatch(/^gatehouse_approvals_held 0$/m);
      // The audit trail tells the request's story under its id: opened, then approved by whom, how.
      const events = approvalEvents(id);
      expect(events.map((e) => e.event)).toEqual(['requested', 'approved']);
      expect(events[0]).toMatchObject({
        rule: 'truncates-wait-for-a-dba',
        approvers: ['alice', 'bob', 'carol'],
        needed: 1,
        binding: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
      expect(events[1]!.decisions).toEqual([
        { approver: 'bob', verdict: 'approved', channel: 'cli', time: expect.any(Number) },
      ]);
    } finally {
      await held.end();
    }
  });

  it('answers a held statement with the denial', async () => {
    const held = await connect('dave');
    try {
      await held.query('CREATE TABLE IF NOT EXISTS approval_held2 (id int)');
      const denied = held.query('TRUNCATE TABLE approval_held2').catch((error: Error) => error);
      const id = await pendingRequest('TRUNCATE TABLE approval_held2');
      await cli('deny', id, '--as', 'alice');
      expect(await denied).toMatchObject({
        code: '42501',
        message: expect.stringMatching(/^approval denied by alice/),
      });
      // The session goes on.
      await expect(held.query('SELECT 1 AS one')).resolves.toMatchObject({ rows: [{ one: 1 }] });
    } finally {
      await held.end();
    }
  });

  it('times a held statement out, and withdraws the request of a client that disconnects', async () => {
    const held = await connect('dave');
    await held.query('CREATE TABLE IF NOT EXISTS approval_held3 (id int)');
    const timedOut = await held
      .query('ALTER TABLE approval_held3 ADD COLUMN note text')
      .catch((error: Error) => error);
    expect(timedOut).toMatchObject({ code: '42501', message: expect.stringMatching(/^approval timed out/) });
    // A client that gives up while held: its request is cancelled, and no approval can use it.
    const running = held.query('UPDATE approval_held3 SET id = 2').catch((error: Error) => error);
    const id = await pendingRequest('UPDATE approval_held3 SET id = 2');
    await held.end().catch(() => undefined);
    await running;
    for (let i = 0; i < 40 && !(await cli('list')).stdout.includes(`${id}  cancelled`); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect((await cli('list')).stdout).toContain(`${id}  cancelled`);
  }, 20_000);

  it('holds an extended-protocol execution at its Bind, with what follows it in order', async () => {
    const held = await connect('dave');
    try {
      await held.query(
        'CREATE TABLE IF NOT EXISTS approval_held4 (id int); INSERT INTO approval_held4 VALUES (1)',
      );
      const update = held.query({ text: 'UPDATE approval_held4 SET id = $1', values: [5] });
      const after = held.query('SELECT id FROM approval_held4');
      const id = await pendingRequest("UPDATE approval_held4 SET id = $1\n-- parameters: $1 = '5'");
      await cli('approve', id, '--as', 'alice');
      expect((await update).rowCount).toBe(1);
      expect((await after).rows).toEqual([{ id: 5 }]);
    } finally {
      await held.end();
    }
  });

  it('cancels a held statement on a CancelRequest (a JDBC query timeout): 57014, request withdrawn', async () => {
    const held = await connect('dave');
    try {
      await held.query('CREATE TABLE IF NOT EXISTS approval_held5 (id int)');
      const cancelled = held.query('TRUNCATE TABLE approval_held5').catch((error: Error) => error);
      const id = await pendingRequest('TRUNCATE TABLE approval_held5');
      await sendCancel(gateway.port, held);
      expect(await cancelled).toMatchObject({
        code: '57014',
        message: 'canceling statement due to user request',
      });
      expect((await cli('list')).stdout).toContain(`${id}  cancelled`);
      await expect(held.query('SELECT 1 AS one')).resolves.toMatchObject({ rows: [{ one: 1 }] });
      expect(approvalEvents(id).map((e) => e.event)).toEqual(['requested', 'cancelled']);
    } finally {
      await held.end();
    }
  });

  it("ends a hold inside a transaction before the server's idle-in-transaction timeout would", async () => {
    const upstream = testUpstream();
    const admin = new Client({ ...upstream, database: 'postgres' });
    await admin.connect();
    await admin.query('DROP DATABASE IF EXISTS approvals_idle');
    await admin.query('CREATE DATABASE approvals_idle');
    await admin.query("ALTER DATABASE approvals_idle SET idle_in_transaction_session_timeout = '3s'");
    await admin.end();
    const held = new Client({
      ...gateway.connection('migrator'),
      database: 'approvals_idle',
      password: testIssuer().sign({ sub: 'migrator', actor: 'dave' }, 600),
      ssl,
    });
    held.on('error', () => undefined);
    await held.connect();
    try {
      await held.query('CREATE TABLE idle_rows (id int); INSERT INTO idle_rows VALUES (1)');
      await held.query('BEGIN');
      await held.query('INSERT INTO idle_rows VALUES (2)');
      // The rule allows 30 s, but the server would end this session after 3 s idle in a transaction.
      const started = Date.now();
      const refused = await held.query('UPDATE idle_rows SET id = 3').catch((error: Error) => error);
      expect(refused).toMatchObject({ code: '42501', message: expect.stringMatching(/^approval timed out/) });
      expect(Date.now() - started).toBeLessThan(3000);
      // The session and its transaction are still there to end as the client chooses.
      await held.query('ROLLBACK');
      expect((await held.query('SELECT count(*)::int AS n FROM idle_rows')).rows).toEqual([{ n: 1 }]);
      // Outside a transaction the rule's own timeout applies.
      const running = held.query('UPDATE idle_rows SET id = 4').catch((error: Error) => error);
      const id = await pendingRequest('UPDATE idle_rows SET id = 4');
      const request = JSON.parse((await cli('list', '--json')).stdout).find(
        (r: { id: string }) => r.id === id,
      );
      expect((request.expires - request.requested) / 1e6).toBe(30);
      await cli('approve', id, '--as', 'alice');
      expect(await running).toMatchObject({ rowCount: 1 });
    } finally {
      await held.end();
    }
  }, 20_000);
});
