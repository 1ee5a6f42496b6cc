import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import type { ApprovalEventRecord, AuditRecord, StatementRecord } from '../../core/audit/records';
import { LocalApprovalStore } from '../../fargate-proxy/src/approval/local-approval-store';
import { storedRecords } from '../support/audit-records';
import { sendCancel } from '../support/cancel';
import { testHome, testUpstream } from '../support/environment';
import { connectThrough, startTestGateway, type TestGateway } from '../support/gateway';
import { writeTestPolicy } from '../support/test-policy';

/**
 * Features in combination, table-driven, against real PostgreSQL through the gateway: protocol ×
 * decision × grant (plain, masking) × audit (buffered, strict). The expected outcome of each cell
 * follows from the rule table in docs/adr/0009-one-statement-one-judgement.md; each cell checks what
 * the client saw, the server's state, the audit records and the approval store.
 */

const SCHEMA = 'combo';

const grant = (name: string, masking: boolean, strict: boolean) => `
  - name: ${name}
    to: [${name}]
    searchPath: [${SCHEMA}]
    allow: [read, write, session, transaction]
    relations: { read: ["${SCHEMA}.items", "${SCHEMA}.people", "pg_catalog.*"], write: ["${SCHEMA}.items"] }
    audit: { strict: [${strict ? 'write' : ''}] }
${masking ? `    masking: { rules: [{ name: ssn, columns: [${SCHEMA}.people.ssn], method: partial, keep: { last: 4 } }] }\n` : ''}    rules:
      - name: updates-wait
        decision: approve
        reason: updates need a DBA
        when: { commands: [UPDATE] }
        approval: { approvers: [dba], timeoutSeconds: 30 }
      - name: deletes-ask
        decision: approve
        reason: deletes need a DBA
        when: { commands: [DELETE] }
        approval: { approvers: [dba], timeoutSeconds: 30, wait: false }`;

const GRANTS = ['plain-buffered', 'plain-strict', 'masking-buffered', 'masking-strict'] as const;
type GrantName = (typeof GRANTS)[number];

const POLICY = `version: 1
identities:
${GRANTS.map((g) => `  ${g}: { issuer: local, claims: { sub: ${g} } }`).join('\n')}
approvers:
  alice: { email: alice@example.com }
approverGroups:
  dba: [alice]
grants:${GRANTS.map((g) => grant(g, g.startsWith('masking'), g.endsWith('strict'))).join('')}
`;

type Protocol = 'simple' | 'multi' | 'extended' | 'named';
type Decision = 'allowed' | 'refused' | 'approved' | 'denied' | 'cancelled' | 'disconnected' | 'retried';

/** The rule table: what the client gets, for each decision (see the ADR). */
const EXPECTED: Record<Decision, { code?: string; message?: RegExp; decision: StatementRecord['decision'] }> =
  {
    allowed: { decision: 'allowed' },
    refused: { code: '42501', message: /permission denied by policy/, decision: 'refused' },
    approved: { decision: 'approved' },
    denied: { code: '42501', message: /^approval denied by alice/, decision: 'refused' },
    cancelled: { code: '57014', message: /canceling statement due to user request/, decision: 'refused' },
    disconnected: { decision: 'refused' },
    retried: { decision: 'approved' },
  };

/** The approval events each decision leaves in the session's chain, in order. */
const EVENTS: Partial<Record<Decision, string[]>> = {
  approved: ['requested', 'approved'],
  denied: ['requested', 'denied'],
  cancelled: ['requested', 'cancelled'],
  disconnected: ['requested', 'cancelled'],
  retried: ['requested', 'approved'],
};

interface Cell {
  protocol: Protocol;
  decision: Decision;
  grant: GrantName;
}

const PROTOCOLS: Protocol[] = ['simple', 'multi', 'extended', 'named'];
const DECISIONS: Decision[] = [
  'allowed',
  'refused',
  'approved',
  'denied',
  'cancelled',
  'disconnected',
  'retried',
];

/** Every cell whose decision the protocol can express (a named statement is not withdrawn twice). */
const CELLS: Cell[] = PROTOCOLS.flatMap((protocol) =>
  DECISIONS.flatMap((decision) => GRANTS.map((grant) => ({ protocol, decision, grant }))),
);

describe('features in combination: protocol × decision × grant × audit', () => {
  let gateway: TestGateway;
  let admin: Client;
  let approvals: LocalApprovalStore;
  let auditDirectory: string;
  let next = 100;

  beforeAll(async () => {
    admin = new Client({ ...testUpstream(), database: 'postgres' });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    await admin.query(`CREATE SCHEMA ${SCHEMA}`);
    await admin.query(`CREATE TABLE ${SCHEMA}.items (id int PRIMARY KEY, n int NOT NULL DEFAULT 0)`);
    await admin.query(`CREATE TABLE ${SCHEMA}.people (id int, ssn text)`);
    await admin.query(`CREATE TABLE ${SCHEMA}.secret (id int)`);
    await admin.query(`INSERT INTO ${SCHEMA}.people VALUES (1, '123-45-6789')`);
    const directory = mkdtempSync(path.join(testHome(), 'combinations-approvals-'));
    auditDirectory = mkdtempSync(path.join(testHome(), 'combinations-audit-'));
    approvals = new LocalApprovalStore(directory);
    gateway = await startTestGateway({
      policy: { file: writeTestPolicy(POLICY) },
      approvals: { directory, pollMs: 20 },
      audit: { directory: auditDirectory, flushMs: 5 },
      limits: { approvalNoticeMs: 60_000 },
    });
  });

  afterAll(async () => {
    await gateway?.stop();
    await admin?.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`).catch(() => undefined);
    await admin?.end();
  });

  const connect = (subject: GrantName): Promise<Client> => connectThrough(gateway, subject);

  /** The statement of a cell: its text and values, by decision and protocol. */
  function statementOf(cell: Cell, id: number): { text: string; values?: unknown[]; name?: string } {
    const extended = cell.protocol === 'extended' || cell.protocol === 'named';
    const name = cell.protocol === 'named' ? `cell_${id}` : undefined;
    const param = (value: number) =>
      extended ? { text: '$1', values: [value] } : { text: String(value), values: undefined };
    let body: { text: string; values?: unknown[] };
    switch (cell.decision) {
      case 'allowed': {
        const p = param(1);
        body = { text: `SELECT id, ssn FROM ${SCHEMA}.people WHERE id = ${p.text}`, values: p.values };
        break;
      }
      case 'refused':
        body = {
          text: `SELECT id FROM ${SCHEMA}.secret WHERE id = ${param(id).text}`,
          values: param(id).values,
        };
        break;
      case 'retried': {
        const p = param(id);
        body = { text: `DELETE FROM ${SCHEMA}.items WHERE id = ${p.text}`, values: p.values };
        break;
      }
      default: {
        const p = param(id);
        body = { text: `UPDATE ${SCHEMA}.items SET n = n + 1 WHERE id = ${p.text}`, values: p.values };
      }
    }
    if (cell.protocol === 'multi') body = { text: `SELECT 1 AS first; ${body.text}` };
    return { ...body, name };
  }

  /** Acts as the approver (or the client) on each request the cell makes, until `done` settles. */
  async function drive(cell: Cell, client: Client, since: number, done: Promise<unknown>): Promise<string[]> {
    const handled: string[] = [];
    let finished = false;
    void done.finally(() => {
      finished = true;
    });
    while (!finished) {
      const pending = approvals
        .requests()
        .filter((r) => r.requested >= since && !handled.includes(r.id) && r.subject === cell.grant)
        .filter((r) => approvals.state(r, Date.now() * 1000).state === 'pending');
      for (const request of pending) {
        handled.push(request.id);
        const decide = (verdict: 'approved' | 'denied') =>
          approvals.decide({
            request: request.id,
            approver: 'alice',
            verdict,
            channel: 'test',
            time: Date.now() * 1000,
          });
        if (cell.decision === 'approved') decide('approved');
        else if (cell.decision === 'denied') decide('denied');
        else if (cell.decision === 'cancelled') await sendCancel(gateway.port, client);
        else if (cell.decision === 'disconnected')
          (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return handled;
  }

  /** Runs the cell's statement as the client would: once, or (wait: false) refused, approved, run again. */
  async function run(
    cell: Cell,
    client: Client,
    id: number,
  ): Promise<{ error?: { code?: string; message: string }; rows?: unknown[] }> {
    const statement = statementOf(cell, id);
    type Outcome = { error?: { code?: string; message: string }; rows?: unknown[] };
    const once = async (): Promise<Outcome> => {
      const result = await client.query(statement);
      const last = Array.isArray(result) ? result.at(-1)! : result;
      return { rows: last.rows };
    };
    const attempt = (): Promise<Outcome> =>
      once().catch((error: Error & { code?: string }) => ({
        error: { code: error.code, message: error.message },
      }));
    if (cell.decision !== 'retried') return attempt();
    const first = await attempt();
    const request = /request (apr-[0-9a-f]+)/.exec(first.error?.message ?? '')?.[1];
    if (!request) return first;
    approvals.decide({
      request,
      approver: 'alice',
      verdict: 'approved',
      channel: 'test',
      time: Date.now() * 1000,
    });
    return attempt();
  }

  it.each(CELLS.map((cell) => [`${cell.protocol} × ${cell.decision} × ${cell.grant}`, cell] as const))(
    '%s',
    async (_name, cell) => {
      const id = next++;
      await admin.query(`INSERT INTO ${SCHEMA}.items (id) VALUES ($1)`, [id]);
      const since = Date.now() * 1000;
      const client = await connect(cell.grant);
      const outcome = run(cell, client, id);
      const handled = await drive(cell, client, since, outcome);
      const result = await outcome;
      if (cell.decision !== 'disconnected') await client.end();
      const expected = EXPECTED[cell.decision];

      // What the client saw.
      if (cell.decision === 'disconnected') {
        expect(result.error).toBeDefined();
      } else if (expected.code) {
        expect(result.error).toMatchObject({
          code: expected.code,
          message: expect.stringMatching(expected.message!),
        });
      } else {
        expect(result.error).toBeUndefined();
        if (cell.decision === 'allowed') {
          const ssn = cell.grant.startsWith('masking') ? '*******6789' : '123-45-6789';
          expect(result.rows).toEqual([{ id: 1, ssn }]);
        }
      }

      // The server's state: an approved change ran exactly once; anything else changed nothing.
      const { rows } = await admin.query(`SELECT n FROM ${SCHEMA}.items WHERE id = $1`, [id]);
      if (cell.decision === 'approved') expect(rows).toEqual([{ n: 1 }]);
      else if (cell.decision === 'retried') expect(rows).toEqual([]);
      else expect(rows).toEqual([{ n: 0 }]);

      // The audit records of the session (the one this grant's identity opened during the cell), once it has ended.
      let mine: AuditRecord[] = [];
      for (let i = 0; i < 200; i++) {
        const records = storedRecords(auditDirectory);
        const start = records.find(
          (r) => r.type === 'session-start' && r.identity?.subject === cell.grant && r.time >= since,
        );
        mine = start ? records.filter((r) => r.session === start.session).sort((a, b) => a.seq - b.seq) : [];
        if (mine.at(-1)?.type === 'session-end') break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(mine.at(-1)?.type).toBe('session-end');
      const statements = mine.filter(
        // The first statement of a multi-statement Query is the bystander `SELECT 1`.
        (r): r is StatementRecord => r.type === 'statement' && r.query?.index !== 0,
      );
      const decisive = statements.filter((r) => !(cell.decision === 'retried' && r.decision === 'refused'));
      if (cell.decision !== 'disconnected') {
        expect(decisive.map((r) => r.decision)).toEqual([expected.decision]);
      }
      if (cell.decision === 'refused' && cell.grant.startsWith('masking')) {
        // Refused before masking traced it: its literals may be masked values, and stay out of the trail.
        for (const record of decisive) expect(record.text).not.toContain(String(id));
      }
      if (cell.protocol === 'multi' && cell.decision === 'refused') {
        // A Query refused whole: each statement is recorded, the refused one named.
        const parts = mine.filter((r): r is StatementRecord => r.type === 'statement');
        expect(parts.map((r) => [r.rule, r.query])).toEqual([
          ['same-query', { index: 0, statements: 2, refusedFor: 1 }],
          ['relations', { index: 1, statements: 2, refusedFor: 1 }],
        ]);
        expect(parts[1]!.reads).toEqual([`${SCHEMA}.secret`]);
      }
      const events = EVENTS[cell.decision];
      if (events) {
        expect(handled.length === 1 || cell.decision === 'retried').toBe(true);
        const approvalRecords = mine.filter((r): r is ApprovalEventRecord => r.type === 'approval');
        expect(approvalRecords.map((r) => r.event)).toEqual(events);
        const requestId = approvalRecords[0]!.id;
        if (decisive[0]) expect(decisive[0].approval?.id).toBe(requestId);
        if (expected.decision === 'approved') expect(decisive[0]!.approval?.by).toEqual(['alice']);
        // The approval store agrees, and a withdrawn request stays withdrawn.
        const request = approvals.request(requestId)!;
        const state = approvals.state(request, Date.now() * 1000).state;
        expect(state).toBe(
          cell.decision === 'retried' ? 'approved' : cell.decision.replace('disconnected', 'cancelled'),
        );
        if (state === 'cancelled') {
          const late = approvals.decide({
            request: requestId,
            approver: 'alice',
            verdict: 'approved',
            channel: 'test',
            time: Date.now() * 1000,
          });
          expect(late).toMatchObject({ ok: false, problem: expect.stringMatching(/withdrawn/) });
        }
        // A held statement's record starts when it arrived, not when it was released.
        if (decisive[0] && cell.decision === 'approved')
          expect(decisive[0].start).toBeLessThan(since + 1_000_000);
      }
    },
  );

  it('counts each request once by how it ended, in the metrics', async () => {
    const cells = (decisions: Decision[]) => CELLS.filter((cell) => decisions.includes(cell.decision)).length;
    const metrics = await fetch(`http://127.0.0.1:${gateway.healthPort}/metrics`).then((r) => r.text());
    const value = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(metrics)?.[1]);
    expect(value('gatehouse_approvals_approved_total')).toBe(cells(['approved', 'retried']));
    expect(value('gatehouse_approvals_denied_total')).toBe(cells(['denied']));
    expect(value('gatehouse_approvals_cancelled_total')).toBe(cells(['cancelled', 'disconnected']));
    expect(value('gatehouse_approvals_requested_total')).toBe(
      cells(['approved', 'retried', 'denied', 'cancelled', 'disconnected']),
    );
    expect(value('gatehouse_approvals_held')).toBe(0);
  });
});
