import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import type { StatementRecord } from '../../core/audit/records';
import { readLocalStore } from '../../fargate-proxy/src/audit/local-store';
import { testHome, testIssuer } from '../support/environment';
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
        approval: { approvers: [dba], timeoutSeconds: 3 }
      - name: deletes-need-a-dba
        decision: approve
        reason: deleting rows needs a DBA
        when: { commands: [DELETE] }
        approval: { approvers: [dba], timeoutSeconds: 60 }
`;

/**
 * Approval in non-interactive mode, end to end: a statement under an approval rule is refused with
 * the id of a request; an approver answers with `gatehouse approvals`; the same exact statement run
 * again passes once, a different one does not; a denial names the approver; a request times out.
 */
describe('approvals (non-interactive)', () => {
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
      approvals: { directory },
      audit: { directory: auditDirectory },
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
    expect(approved.code).toBe(0);
    expect(approved.stdout).toMatch(/now approved/);
    // A look-alike is not covered: another table, or the same text with other spacing.
    await client.query('CREATE TABLE IF NOT EXISTS approval_other (id int)');
    await expect(client.query('DROP TABLE approval_other')).rejects.toMatchObject({ code: '42501' });
    await expect(client.query('DROP TABLE  approval_target')).rejects.toMatchObject({ code: '42501' });
    await client.query('DROP TABLE approval_target');
    // The audit trail links the statement to its request and approver, and the refusals to the request.
    const statements = readLocalStore(auditDirectory)
      .flatMap((writer) => [...writer.chunks.values()])
      .flatMap((bytes) => bytes.toString('utf8').split('\n').filter(Boolean))
      .map((line) => JSON.parse(line) as StatementRecord)
      .filter((record) => record.type === 'statement' && record.text === 'DROP TABLE approval_target');
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
    await new Promise((resolve) => setTimeout(resolve, 3200));
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
});
