import { mkdtempSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { LocalDigestSigner } from '../../core/audit/digest';
import type { ApprovalEventRecord, AuditRecord, StatementRecord } from '../../core/audit/records';
import { verifyStore } from '../../core/audit/verify';
import { LocalApprovalStore } from '../../fargate-proxy/src/approval/local-approval-store';
import { readLocalStore } from '../../fargate-proxy/src/audit/local-store';
import { storedRecords } from '../support/audit-records';
import { auditKeyFile, testHome, testUpstream } from '../support/environment';
import { type ConfigOverrides, startTestGateway, type TestGateway } from '../support/gateway';
import { type Driver, type Outcome, pairwise, pgDriver, pipelineDriver } from '../support/matrix-drivers';
import { writeTestPolicy } from '../support/test-policy';

/**
 * Features in combination, table-driven, against real PostgreSQL through the gateway: protocol ×
 * decision × grant (plain, masking) × audit (buffered, strict, off) × transaction (autocommit, inside
 * a block). What each cell must show follows from the rule table of
 * docs/adr/0009-one-statement-one-judgement.md: what the client saw, the server's state, the audit
 * records, the approval events and the approval store. The gateway is stopped and started between
 * the two halves of the run, and the store verifies afterwards. CI runs a pairwise-covering subset;
 * GATEHOUSE_MATRIX=full runs the whole product.
 */

const SCHEMA = 'combo';
const PROTOCOLS = ['simple', 'multi', 'extended', 'named', 'pipelined'] as const;
const DECISIONS = [
  'allowed',
  'refused',
  'approved',
  'denied',
  'timed-out',
  'cancelled',
  'disconnected',
  'retried',
] as const;
const KINDS = ['plain', 'masking'] as const;
const AUDITS = ['buffered', 'strict', 'off'] as const;
const TRANSACTIONS = ['autocommit', 'transaction'] as const;

type Cell = {
  protocol: (typeof PROTOCOLS)[number];
  decision: (typeof DECISIONS)[number];
  kind: (typeof KINDS)[number];
  audit: (typeof AUDITS)[number];
  tx: (typeof TRANSACTIONS)[number];
};

const dimensions = { protocol: PROTOCOLS, decision: DECISIONS, kind: KINDS, audit: AUDITS, tx: TRANSACTIONS };
const CELLS: Cell[] = process.env.GATEHOUSE_MATRIX === 'full' ? fullProduct() : pairwise<Cell>(dimensions);

function fullProduct(): Cell[] {
  return PROTOCOLS.flatMap((protocol) =>
    DECISIONS.flatMap((decision) =>
      KINDS.flatMap((kind) =>
        AUDITS.flatMap((audit) => TRANSACTIONS.map((tx) => ({ protocol, decision, kind, audit, tx }))),
      ),
    ),
  );
}

const grantOf = (cell: Pick<Cell, 'kind' | 'audit'>) => `${cell.kind}-${cell.audit}`;
const GRANTS = KINDS.flatMap((kind) => AUDITS.map((audit) => grantOf({ kind, audit })));

const AUDIT_SETTINGS: Record<Cell['audit'], string> = {
  buffered: '{ strict: [] }',
  strict: '{ strict: [write] }',
  off: '{ statements: [], record: false, strict: [] }',
};

const grant = (kind: Cell['kind'], audit: Cell['audit']) => `
  - name: ${grantOf({ kind, audit })}
    to: [${grantOf({ kind, audit })}]
    searchPath: [${SCHEMA}]
    allow: [read, write, session, transaction]
    relations: { read: ["${SCHEMA}.items", "${SCHEMA}.people", "pg_catalog.*"], write: ["${SCHEMA}.items"] }
    audit: ${AUDIT_SETTINGS[audit]}
${kind === 'masking' ? `    masking: { rules: [{ name: ssn, columns: [${SCHEMA}.people.ssn], method: partial, keep: { last: 4 } }] }\n` : ''}    rules:
      - name: updates-wait
        decision: approve
        reason: updates need a DBA
        when: { commands: [UPDATE] }
        approval: { approvers: [dba], timeoutSeconds: 30 }
      - name: inserts-expire
        decision: approve
        reason: inserts need a DBA, who is never there
        when: { commands: [INSERT] }
        approval: { approvers: [dba], timeoutSeconds: 1 }
      - name: deletes-ask
        decision: approve
        reason: deletes need a DBA
        when: { commands: [DELETE] }
        approval: { approvers: [dba], timeoutSeconds: 30, wait: false }`;

const POLICY = `version: 1
identities:
${GRANTS.map((g) => `  ${g}: { issuer: local, claims: { sub: ${g} } }`).join('\n')}
approvers:
  alice: { email: alice@example.com }
approverGroups:
  dba: [alice]
grants:${KINDS.flatMap((kind) => AUDITS.map((audit) => grant(kind, audit))).join('')}
`;

/** The rule table (ADR 0009): what the client sees, and what the statement's records say. */
const CLIENT: Record<Cell['decision'], { code?: string; message?: RegExp }> = {
  allowed: {},
  refused: { code: '42501', message: /permission denied by policy/ },
  approved: {},
  denied: { code: '42501', message: /^approval denied by alice/ },
  'timed-out': { code: '42501', message: /^approval timed out/ },
  cancelled: { code: '57014', message: /canceling statement due to user request/ },
  disconnected: {},
  retried: {},
};

/** The approval events the session's chain holds, in order, and how the store leaves the request. */
const APPROVAL: Partial<Record<Cell['decision'], { events: string[]; state: string }>> = {
  approved: { events: ['requested', 'approved'], state: 'approved' },
  denied: { events: ['requested', 'denied'], state: 'denied' },
  'timed-out': { events: ['requested', 'timed-out'], state: 'timed-out' },
  cancelled: { events: ['requested', 'cancelled'], state: 'cancelled' },
  disconnected: { events: ['requested', 'cancelled'], state: 'cancelled' },
  retried: { events: ['requested', 'approved'], state: 'approved' },
};

/** The decisions the cell's own statement records carry (a named statement runs twice). */
function recordedDecisions(cell: Cell): StatementRecord['decision'][] {
  const twice = cell.protocol === 'named' ? 2 : 1;
  switch (cell.decision) {
    case 'allowed':
      return cell.audit === 'off' ? [] : Array(twice).fill('allowed');
    case 'refused':
      return Array(twice).fill('refused');
    case 'approved':
      return ['approved'];
    case 'retried':
      return ['refused', 'approved'];
    case 'disconnected':
      // The statement never reached the server: the request's end is in the chain, not a statement.
      return [];
    default:
      return ['refused'];
  }
}

/** A transaction block ends in COMMIT when its statement ran, in ROLLBACK when it failed. */
const COMMITS = new Set<Cell['decision']>(['allowed', 'approved', 'retried']);

describe('features in combination: protocol × decision × grant × audit × transaction', () => {
  let gateway: TestGateway;
  let admin: Client;
  let approvals: LocalApprovalStore;
  let approvalsDirectory: string;
  let auditDirectory: string;
  let next = 100;
  /** Cells run by the gateway process now serving (its metrics count only those). */
  let served: Cell[] = [];

  const overrides = (): ConfigOverrides => ({
    policy: { file: writeTestPolicy(POLICY) },
    approvals: { directory: approvalsDirectory, pollMs: 20 },
    audit: { directory: auditDirectory, flushMs: 5 },
    limits: { approvalNoticeMs: 60_000 },
  });

  beforeAll(async () => {
    admin = new Client({ ...testUpstream(), database: 'postgres' });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    await admin.query(`CREATE SCHEMA ${SCHEMA}`);
    await admin.query(`CREATE TABLE ${SCHEMA}.items (id int PRIMARY KEY, n int NOT NULL DEFAULT 0)`);
    await admin.query(`CREATE TABLE ${SCHEMA}.people (id int, ssn text)`);
    await admin.query(`CREATE TABLE ${SCHEMA}.secret (id int)`);
    await admin.query(`INSERT INTO ${SCHEMA}.people VALUES (1, '123-45-6789')`);
    approvalsDirectory = mkdtempSync(path.join(testHome(), 'combinations-approvals-'));
    auditDirectory = mkdtempSync(path.join(testHome(), 'combinations-audit-'));
    approvals = new LocalApprovalStore(approvalsDirectory);
    gateway = await startTestGateway(overrides());
  });

  afterAll(async () => {
    await gateway?.stop();
    await admin?.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`).catch(() => undefined);
    await admin?.end();
  });

  /** The cell's statement: by decision, with its value inline or as a parameter by protocol. */
  function statementOf(cell: Cell, id: number): { text: string; values?: number[]; name?: string } {
    const parameters = cell.protocol !== 'simple' && cell.protocol !== 'multi';
    const value = (v: number) =>
      parameters ? { text: '$1', values: [v] } : { text: String(v), values: undefined };
    const bodies: Record<Cell['decision'], (v: ReturnType<typeof value>) => string> = {
      allowed: (v) => `SELECT id, ssn FROM ${SCHEMA}.people WHERE id = ${v.text}`,
      refused: (v) => `SELECT id FROM ${SCHEMA}.secret WHERE id = ${v.text}`,
      'timed-out': (v) => `INSERT INTO ${SCHEMA}.items (id) VALUES (${v.text})`,
      retried: (v) => `DELETE FROM ${SCHEMA}.items WHERE id = ${v.text}`,
      approved: (v) => `UPDATE ${SCHEMA}.items SET n = n + 1 WHERE id = ${v.text}`,
      denied: (v) => `UPDATE ${SCHEMA}.items SET n = n + 1 WHERE id = ${v.text}`,
      cancelled: (v) => `UPDATE ${SCHEMA}.items SET n = n + 1 WHERE id = ${v.text}`,
      disconnected: (v) => `UPDATE ${SCHEMA}.items SET n = n + 1 WHERE id = ${v.text}`,
    };
    const v = value(cell.decision === 'allowed' ? 1 : cell.decision === 'timed-out' ? id + 1_000_000 : id);
    const text = bodies[cell.decision](v);
    if (cell.protocol === 'multi') return { text: `SELECT 1 AS first; ${text}` };
    return { text, values: v.values, name: cell.protocol === 'named' ? `cell_${id}` : undefined };
  }

  /** Acts as the approver (or the client) on each request the cell makes, until `done` settles. */
  async function drive(cell: Cell, client: Driver, since: number, done: Promise<unknown>): Promise<string[]> {
    const handled: string[] = [];
    let finished = false;
    void done.finally(() => {
      finished = true;
    });
    while (!finished) {
      const pending = approvals
        .requests()
        .filter((r) => r.requested >= since && !handled.includes(r.id) && r.subject === grantOf(cell))
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
        else if (cell.decision === 'cancelled') await client.cancel();
        else if (cell.decision === 'disconnected') client.vanish();
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return handled;
  }

  /**
   * The client's part: the statement once (a named one twice when it is decided without approval),
   * or, non-interactively, refused, approved, and run again (in a new transaction block: the refusal
   * aborted the first).
   */
  async function perform(cell: Cell, client: Driver, id: number): Promise<Outcome> {
    const statement = statementOf(cell, id);
    let outcome = await client.run(statement);
    if (cell.protocol === 'named' && (cell.decision === 'allowed' || cell.decision === 'refused'))
      outcome = await client.run(statement);
    if (cell.decision !== 'retried') return outcome;
    const request = /request (apr-[0-9a-f]+)/.exec(outcome.error?.message ?? '')?.[1];
    if (!request) return outcome;
    approvals.decide({
      request,
      approver: 'alice',
      verdict: 'approved',
      channel: 'test',
      time: Date.now() * 1000,
    });
    if (cell.tx === 'transaction') {
      await client.simple('ROLLBACK');
      await client.simple('BEGIN');
    }
    return client.run(statement);
  }

  async function runCell(cell: Cell): Promise<void> {
    const id = next++;
    await admin.query(`INSERT INTO ${SCHEMA}.items (id) VALUES ($1)`, [id]);
    const since = Date.now() * 1000;
    const client = await (cell.protocol === 'pipelined' ? pipelineDriver : pgDriver)(gateway, grantOf(cell));
    if (cell.tx === 'transaction') expect(await client.simple('BEGIN')).toMatchObject({ tag: 'BEGIN' });
    const outcome = perform(cell, client, id);
    const handled = await drive(cell, client, since, outcome);
    const result = await outcome;
    if (cell.decision !== 'disconnected') {
      if (cell.tx === 'transaction') {
        // A failed statement aborted the block: COMMIT answers ROLLBACK.
        const ended = await client.simple('COMMIT');
        expect(ended.tag).toBe(COMMITS.has(cell.decision) ? 'COMMIT' : 'ROLLBACK');
      }
      await client.end();
    }

    // What the client saw.
    const expected = CLIENT[cell.decision];
    if (cell.decision === 'disconnected') expect(result.error).toBeDefined();
    else if (expected.code)
      expect(result.error).toMatchObject({
        code: expected.code,
        message: expect.stringMatching(expected.message!),
      });
    else expect(result.error).toBeUndefined();
    if (cell.decision === 'allowed') {
      const ssn = cell.kind === 'masking' ? '*******6789' : '123-45-6789';
      if (cell.protocol !== 'multi') expect(result.rows).toEqual([{ id: 1, ssn }]);
    }

    // The server's state: an approved change ran exactly once; anything else changed nothing.
    const items = async (key: number) =>
      (await admin.query(`SELECT n FROM ${SCHEMA}.items WHERE id = $1`, [key])).rows as { n: number }[];
    if (cell.decision === 'approved') expect(await items(id)).toEqual([{ n: 1 }]);
    else if (cell.decision === 'retried') expect(await items(id)).toEqual([]);
    else expect(await items(id)).toEqual([{ n: 0 }]);
    expect(await items(id + 1_000_000)).toEqual([]);

    // The session's records (the session this grant's identity opened during the cell), once it ended.
    let mine: AuditRecord[] = [];
    for (let i = 0; i < 300; i++) {
      const records = storedRecords(auditDirectory);
      const start = records.find(
        (r) => r.type === 'session-start' && r.identity?.subject === grantOf(cell) && r.time >= since,
      );
      mine = start ? records.filter((r) => r.session === start.session).sort((a, b) => a.seq - b.seq) : [];
      if (mine.at(-1)?.type === 'session-end') break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(mine.at(-1)?.type).toBe('session-end');
    const statements = mine.filter((r): r is StatementRecord => r.type === 'statement');
    // The cell's own statement: it names the cell's schema (BEGIN, COMMIT and `SELECT 1` do not).
    const decisive = statements.filter((r) => r.text.includes(`${SCHEMA}.`));
    expect(decisive.map((r) => r.decision)).toEqual(recordedDecisions(cell));
    if (cell.decision === 'refused' && cell.kind === 'masking') {
      // Refused before masking traced it: its literals may be masked values, and stay out of the trail.
      for (const record of decisive) expect(record.text).not.toContain(String(id));
    }
    if (cell.protocol === 'multi' && cell.decision === 'refused') {
      // A Query refused whole: each statement is recorded, the refused one named.
      const parts = statements.filter((r) => r.query !== undefined);
      expect(parts.map((r) => [r.rule, r.query])).toEqual([
        ['same-query', { index: 0, statements: 2, refusedFor: 1 }],
        ['relations', { index: 1, statements: 2, refusedFor: 1 }],
      ]);
      expect(parts[1]!.reads).toEqual([`${SCHEMA}.secret`]);
    }
    const approval = APPROVAL[cell.decision];
    if (!approval) return;
    expect(handled.length === 1 || cell.decision === 'retried' || cell.decision === 'timed-out').toBe(true);
    const events = mine.filter((r): r is ApprovalEventRecord => r.type === 'approval');
    expect(events.map((r) => r.event)).toEqual(approval.events);
    const requestId = events[0]!.id;
    const ran = decisive.at(-1);
    if (ran) expect(ran.approval?.id).toBe(requestId);
    if (ran?.decision === 'approved') {
      expect(ran.approval?.by).toEqual(['alice']);
      // A held statement's record starts when it arrived, not when it was released.
      if (cell.decision === 'approved') expect(ran.start).toBeLessThan(since + 1_000_000);
    }
    // The approval store agrees, and a request that ended stays ended.
    const request = approvals.request(requestId)!;
    expect(approvals.state(request, Date.now() * 1000).state).toBe(approval.state);
    if (approval.state !== 'approved') {
      const late = approvals.decide({
        request: requestId,
        approver: 'alice',
        verdict: 'approved',
        channel: 'test',
        time: Date.now() * 1000,
      });
      expect(late.ok).toBe(false);
    }
  }

  /** The approval metrics of the process serving now count each of its cells' requests once. */
  async function expectApprovalMetrics(): Promise<void> {
    const count = (decisions: Cell['decision'][]) =>
      served.filter((c) => decisions.includes(c.decision)).length;
    const metrics = await fetch(`http://127.0.0.1:${gateway.healthPort}/metrics`).then((r) => r.text());
    const value = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(metrics)?.[1]);
    expect(value('gatehouse_approvals_approved_total')).toBe(count(['approved', 'retried']));
    expect(value('gatehouse_approvals_denied_total')).toBe(count(['denied']));
    expect(value('gatehouse_approvals_timed_out_total')).toBe(count(['timed-out']));
    expect(value('gatehouse_approvals_cancelled_total')).toBe(count(['cancelled', 'disconnected']));
    expect(value('gatehouse_approvals_held')).toBe(0);
  }

  const name = (cell: Cell) => `${cell.protocol} × ${cell.decision} × ${grantOf(cell)} × ${cell.tx}`;
  const half = Math.ceil(CELLS.length / 2);

  it.each(CELLS.slice(0, half).map((cell) => [name(cell), cell] as const))('%s', async (_name, cell) => {
    served.push(cell);
    await runCell(cell);
  });

  it('counts each request once by how it ended, then stops and starts the gateway on the same stores', async () => {
    await expectApprovalMetrics();
    await gateway.stop();
    gateway = await startTestGateway(overrides());
    served = [];
  });

  it.each(CELLS.slice(half).map((cell) => [name(cell), cell] as const))('%s', async (_name, cell) => {
    served.push(cell);
    await runCell(cell);
  });

  it('counts the second half, and the whole store verifies: the restart is a note, nothing is a failure', async () => {
    await expectApprovalMetrics();
    await gateway.stop();
    const publicKey = new LocalDigestSigner(readFileSync(auditKeyFile(), 'utf8')).publicKeyPem();
    const report = verifyStore(readLocalStore(auditDirectory), publicKey);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.notes.map((n) => n.kind)).toContain('restart');
    gateway = await startTestGateway(overrides());
  });
});
