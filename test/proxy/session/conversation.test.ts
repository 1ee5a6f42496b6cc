import type { RecordBody, StatementRecord } from '../../../core/audit/records';
import { RelayAudit, type Spool } from '../../../fargate-proxy/src/audit/relay-audit';
import { StatementTracker } from '../../../fargate-proxy/src/audit/statement-tracker';
import type { StrictStore } from '../../../fargate-proxy/src/audit/strict-store';
import { silentLogger } from '../../../fargate-proxy/src/observability/logger';
import { Metrics } from '../../../fargate-proxy/src/observability/metrics';
import { errorResponse, readyForQuery } from '../../../fargate-proxy/src/protocol/backend-messages';
import { BackendCode, FrontendCode } from '../../../fargate-proxy/src/protocol/codes';
import { decodeErrorFields } from '../../../fargate-proxy/src/protocol/error-fields';
import { decodeParse, decodeQuery } from '../../../fargate-proxy/src/protocol/frontend-messages';
import { type ClientAction, Conversation, END, Hold } from '../../../fargate-proxy/src/session/conversation';
import { PendingRefusals } from '../../../fargate-proxy/src/session/refusals';
import { ServerReplies } from '../../../fargate-proxy/src/session/server-replies';
import type { Statement } from '../../../fargate-proxy/src/session/statement';
import type { StatementGate } from '../../../fargate-proxy/src/session/statement-gate';
import { Transaction } from '../../../fargate-proxy/src/session/transaction';
import { bind, cstr, execute, parse, query, typed } from '../../support/wire';

/** A spool that is always written: records are made, the pump's waiting is not under test here. */
const spool: Spool = {
  hasPending: false,
  awaitingServer: 0,
  flush: () => undefined,
  afterFlush: (then) => then(),
};

/**
 * The conversation with both sides, no sockets: what the client sends is acted on, what the server
 * would answer is fed in by the test. `outstanding` counts what was forwarded and not yet answered.
 */
function conversation(gate?: StatementGate, strict?: StrictStore) {
  const metrics = new Metrics();
  const refusals = new PendingRefusals();
  const records: RecordBody<StatementRecord>[] = [];
  const tracker = new StatementTracker((record) => records.push(record));
  const audit = new RelayAudit(
    tracker,
    spool,
    undefined,
    strict && {
      store: strict,
      classes: new Set(['write', 'read']),
      facts: { session: 's', writer: 'w', issuer: 'i', subject: 'job', database: 'db' },
      next: 0,
    },
  );
  let sent = 0;
  const inspected = { binds: false, rows: true };
  const transaction = new Transaction();
  const replies = new ServerReplies({
    gate,
    transaction,
    outstanding: (): number => sent - replies.readyCount,
    audit,
    metrics,
    refusals,
    inspectRows: (on) => {
      inspected.rows = on;
    },
  });
  const talk = new Conversation({
    gate,
    transaction,
    audit,
    metrics,
    log: silentLogger,
    refusals,
    readyCount: () => replies.readyCount,
    outstanding: () => sent - replies.readyCount,
    inspectBinds: (on) => {
      inspected.binds = on;
    },
    rowsChanged: () => replies.inspectRowsIfMasked(),
  });
  const client = (message: Buffer): ClientAction => {
    const action = talk.client(message[0]!, message);
    if (!(action instanceof Hold) && (message[0] === FrontendCode.Query || message[0] === FrontendCode.Sync))
      sent++;
    return action;
  };
  const server = (message: Buffer) => {
    const reply = replies.reply(message[0]!, message);
    audit.toClient(reply ?? message);
    return reply;
  };
  return { client, server, records, metrics, inspected, replies };
}

/** A gate that decides by text, counting each statement it is asked about (by object). */
function gateOf(
  decide: (statement: Statement) => Promise<unknown> | undefined,
): StatementGate & { seen: Set<Statement>; calls: number } {
  const seen = new Set<Statement>();
  const gate = {
    seen,
    calls: 0,
    advance(statement: Statement) {
      gate.calls++;
      seen.add(statement);
      return decide(statement);
    },
  };
  return gate;
}

const commandComplete = (tag: string) => typed('C', cstr(tag));
const dataRow = () => typed('D', Buffer.from([0, 1, 0, 0, 0, 1, 0x31]));

describe('Conversation', () => {
  it('forwards an allowed Query as received, and records it when its result goes out', () => {
    const c = conversation(gateOf((s) => void s.conclude()));
    expect(c.client(query('SELECT 1'))).toBeUndefined();
    expect(c.server(commandComplete('SELECT 1'))).toBeUndefined();
    expect(c.records.map((r) => [r.text, r.decision, r.outcome.tag])).toEqual([
      ['SELECT 1', 'allowed', 'SELECT 1'],
    ]);
  });

  it("replaces a refused Query with a marker the server fails, and puts the gateway's error in place of the server's", () => {
    const refusal = { sqlstate: '42501', message: 'permission denied by policy: no' };
    const c = conversation(gateOf((s) => void s.conclude(refusal)));
    const replaced = c.client(query('DROP TABLE t')) as Buffer;
    const marker = decodeQuery(replaced);
    expect(marker).toMatch(/^gatehouse_refused_[0-9a-f]{32}$/);
    const serverError = errorResponse({
      severity: 'ERROR',
      code: '42601',
      message: `syntax error at or near "${marker}"`,
    });
    const sent = c.server(serverError) as Buffer;
    expect(decodeErrorFields(sent.subarray(5))).toMatchObject({ code: '42501', message: refusal.message });
    expect(c.records.map((r) => [r.text, r.decision, r.outcome.sqlstate])).toEqual([
      ['DROP TABLE t', 'refused', '42501'],
    ]);
    expect(c.metrics.data.refusals).toBe(1);
  });

  it('holds a statement whose judgement waits, then picks up the same statement: judged once, recorded from its arrival', async () => {
    let release!: () => void;
    const wait = new Promise<void>((resolve) => {
      release = resolve;
    });
    let asked = 0;
    const gate = gateOf((s) => {
      if (asked++ === 0) {
        s.notice = 'approval required';
        return wait;
      }
      s.conclude();
      return undefined;
    });
    const c = conversation(gate);
    const first = c.client(query('UPDATE t SET a = 1'));
    expect(first).toBeInstanceOf(Hold);
    expect(first).toMatchObject({ notice: 'approval required', announce: true });
    release();
    await (first as Hold).until;
    // The framer hands the same message over again: the same statement object continues.
    expect(c.client(query('UPDATE t SET a = 1'))).toBeUndefined();
    expect(gate.seen.size).toBe(1);
    c.server(commandComplete('UPDATE 1'));
    const [record] = c.records;
    expect(record!.start).toBeLessThan(record!.end);
    // A later identical message is a new statement.
    c.server(readyForQuery('I'));
    c.client(query('UPDATE t SET a = 1'));
    expect(gate.seen.size).toBe(2);
  });

  it('tells a held client its notice once, not again each time the same wait is renewed', async () => {
    let asked = 0;
    const gate = gateOf((s) => {
      asked++;
      if (asked <= 2) {
        s.notice = 'approval required: request apr-1';
        return Promise.resolve();
      }
      s.conclude();
      return undefined;
    });
    const c = conversation(gate);
    const first = c.client(query('TRUNCATE t')) as Hold;
    await first.until;
    const second = c.client(query('TRUNCATE t')) as Hold;
    expect([first.announce, second.announce]).toEqual([true, false]);
    await second.until;
    expect(c.client(query('TRUNCATE t'))).toBeUndefined();
  });

  it('refuses a strict statement whose record cannot be stored (58030), after holding it for the store', async () => {
    const store: StrictStore = { put: () => Promise.reject(new Error('table unreachable')) };
    const c = conversation(
      gateOf((s) => {
        const write = {
          text: 'INSERT INTO t VALUES (1)',
          command: 'INSERT',
          class: 'write',
          reads: [],
          writes: [],
        };
        s.decided = { decision: 'allowed', statements: [write as never] };
        s.conclude();
        return undefined;
      }),
      store,
    );
    const held = c.client(query('INSERT INTO t VALUES (1)'));
    expect(held).toBeInstanceOf(Hold);
    await (held as Hold).until;
    const replaced = c.client(query('INSERT INTO t VALUES (1)')) as Buffer;
    const marker = decodeQuery(replaced);
    const sent = c.server(
      errorResponse({ severity: 'ERROR', code: '42601', message: `at "${marker}"` }),
    ) as Buffer;
    expect(decodeErrorFields(sent.subarray(5))).toMatchObject({ code: '58030', detail: 'table unreachable' });
    expect(c.records.map((r) => [r.decision, r.rule])).toEqual([['refused', 'strict-audit']]);
    expect(c.metrics.data.auditStrictFailures).toBe(1);
  });

  it('replaces a Bind refused at its parameters by a Parse of a marker under a name of its own', () => {
    const gate = {
      ...gateOf((s) => {
        if (s.kind === 'bind') s.conclude({ sqlstate: '42501', message: 'not with these parameters' });
        else s.conclude();
        return undefined;
      }),
      awaitsBind: true,
    };
    const c = conversation(gate);
    expect(c.client(parse('s1', 'DELETE FROM t WHERE id = $1'))).toBeUndefined();
    const replaced = c.client(bind('', 's1', ['7'])) as Buffer;
    expect(replaced[0]).toBe(FrontendCode.Parse);
    const decoded = decodeParse(replaced);
    expect(decoded.statementName).toBe('gatehouse_refused_bind');
    expect(decoded.query).toMatch(/^gatehouse_refused_/);
  });

  it('holds an Execute the pacer delays once, then lets the same Execute through', async () => {
    const turn = Promise.resolve();
    const gate = { ...gateOf((s) => void s.conclude()), onExecute: () => turn };
    const c = conversation(gate);
    const held = c.client(execute(''));
    expect(held).toBeInstanceOf(Hold);
    await (held as Hold).until;
    expect(c.client(execute(''))).toBeUndefined();
    expect(c.client(execute(''))).toBeInstanceOf(Hold);
  });

  it('ends at Terminate, and refuses the function-call interface unless the grant allows what cannot be analysed', () => {
    const c = conversation(gateOf((s) => void s.conclude()));
    expect(c.client(typed('X'))).toBe(END);
    const call = typed('F', Buffer.concat([Buffer.from([0, 0, 0, 1]), Buffer.alloc(6)]));
    const replaced = c.client(call) as Buffer;
    expect(decodeQuery(replaced)).toMatch(/^gatehouse_refused_/);
    expect(c.records).toEqual([]);
    const allowed = conversation({ ...gateOf((s) => void s.conclude()), allowsFunctionCalls: true });
    expect(allowed.client(call)).toBeUndefined();
  });

  it("drops rows past the grant's row limit and ends the statement with 54000", () => {
    const c = conversation({ ...gateOf((s) => void s.conclude()), maxRows: 2 });
    c.client(query('SELECT * FROM t'));
    expect([c.server(dataRow()), c.server(dataRow()), c.server(dataRow())]).toEqual([
      undefined,
      undefined,
      null,
    ]);
    const end = c.server(commandComplete('SELECT 3')) as Buffer;
    expect(end[0]).toBe(BackendCode.ErrorResponse);
    expect(decodeErrorFields(end.subarray(5))).toMatchObject({ code: '54000' });
    expect(c.records.map((r) => r.outcome.sqlstate)).toEqual(['54000']);
    // The next statement starts counting again.
    c.server(readyForQuery('I'));
    c.client(query('SELECT 1'));
    expect(c.server(dataRow())).toBeUndefined();
  });

  it('keeps the transaction status and the count of batches the server closed', () => {
    const c = conversation();
    c.client(query('BEGIN'));
    c.server(commandComplete('BEGIN'));
    c.server(readyForQuery('T'));
    expect([c.replies.readyCount, c.replies.transactionStatus]).toEqual([1, 'T'.charCodeAt(0)]);
  });
});
