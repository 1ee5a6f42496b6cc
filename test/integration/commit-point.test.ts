import { Client } from 'pg';
import { analyse } from '../../core/sql/analyse';
import { commitPointOf } from '../../core/sql/commit-point';
import { loadParser } from '../../core/sql/parser';
import { StreamReader } from '../../fargate-proxy/src/io/stream-reader';
import { Transaction } from '../../fargate-proxy/src/session/transaction';
import { connectUpstream } from '../../fargate-proxy/src/upstream/upstream-connection';
import { testUpstream } from '../support/environment';
import { bind, execute, parse, query, sync, typed } from '../support/wire';

/**
 * The commit points the gateway relies on (core/sql/commit-point.ts), checked against PostgreSQL
 * itself: one session sends raw protocol messages, a second one looks, after each step, at whether
 * the first one's work is visible yet. Where the model says a statement commits is where it does.
 */

const flush = () => typed('H');

function statementsOf(sql: string) {
  const result = analyse(sql);
  if (!result.ok) throw new Error(sql);
  return result.analysis.statements;
}

interface Actor {
  send(...messages: Buffer[]): void;
  /** Reads until `count` messages of type `code` came; returns the status of the last ReadyForQuery. */
  until(code: string, count?: number): Promise<string | undefined>;
  close(): void;
}

async function actor(): Promise<Actor> {
  const server = testUpstream();
  const session = await connectUpstream(
    { host: server.host, port: server.port, tls: 'disable', connectTimeoutMs: 5000 },
    { user: server.user, password: server.password },
    { database: 'postgres' },
  );
  const reader = new StreamReader(session.socket);
  // connectUpstream hands the socket over paused (nothing is read while nobody listens).
  session.socket.resume();
  return {
    send: (...messages) => session.socket.write(Buffer.concat(messages)),
    async until(code, count = 1) {
      let seen = 0;
      let status: string | undefined;
      while (seen < count) {
        const message = await reader.message(1 << 20);
        const type = String.fromCharCode(message.code);
        if (type === 'E') throw new Error(message.body.toString('latin1'));
        if (type === 'Z') status = String.fromCharCode(message.body[0]!);
        if (type === code) seen++;
      }
      return status;
    },
    close: () => session.socket.destroy(),
  };
}

describe('Commit points, as PostgreSQL places them', () => {
  let observer: Client;
  let session: Actor;
  const visible = async () =>
    (await observer.query<{ n: number }>('SELECT count(*)::int AS n FROM commit_probe')).rows[0]!.n;

  beforeAll(async () => {
    await loadParser();
    observer = new Client({ ...testUpstream(), database: 'postgres' });
    await observer.connect();
    await observer.query('DROP TABLE IF EXISTS commit_probe; CREATE TABLE commit_probe (x int)');
    await observer.query('DROP SEQUENCE IF EXISTS commit_probe_seq; CREATE SEQUENCE commit_probe_seq');
  });
  afterAll(() => observer.end());
  beforeEach(async () => {
    await observer.query('TRUNCATE commit_probe');
    session = await actor();
  });
  afterEach(() => session.close());

  it('an extended execution outside a block commits at the Sync, not at its Execute', async () => {
    const insert = 'INSERT INTO commit_probe VALUES (1)';
    expect(commitPointOf(statementsOf(insert), 'extended', false)).toBe('sync');
    session.send(parse('', insert), bind('', ''), execute(''), flush());
    await session.until('C');
    expect(await visible()).toBe(0);
    session.send(sync());
    await session.until('Z');
    expect(await visible()).toBe(1);
  });

  it('COMMIT executed in the extended protocol commits at its own message, before the Sync', async () => {
    const transaction = new Transaction();
    transaction.parse('begin', statementsOf('BEGIN'));
    transaction.parse('insert', statementsOf('INSERT INTO commit_probe VALUES (1)'));
    transaction.parse('commit', statementsOf('COMMIT'));
    session.send(parse('begin', 'BEGIN'), parse('insert', 'INSERT INTO commit_probe VALUES (1)'));
    session.send(parse('commit', 'COMMIT'), sync());
    await session.until('Z');
    const points = ['begin', 'insert', 'commit'].map((name) => {
      transaction.bind('', name);
      const point = transaction.executeCommitPoint('');
      transaction.execute('');
      return point;
    });
    expect(points).toEqual(['block-commit', 'block-commit', 'own-message']);
    session.send(bind('', 'begin'), execute(''), bind('', 'insert'), execute(''), flush());
    await session.until('C', 2);
    expect(await visible()).toBe(0);
    session.send(bind('', 'commit'), execute(''), flush());
    await session.until('C');
    expect(await visible()).toBe(1);
    session.send(sync());
    expect(await session.until('Z')).toBe('I');
  });

  it('a simple Query outside a block commits when the whole string ends', async () => {
    const text = 'INSERT INTO commit_probe VALUES (1); SELECT pg_sleep(0.4)';
    expect(commitPointOf(statementsOf(text), 'simple', false)).toBe('query-end');
    session.send(query(text));
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await visible()).toBe(0);
    await session.until('Z');
    expect(await visible()).toBe(1);
  });

  it("inside a block, at the block's COMMIT; COMMIT AND CHAIN commits and stays in a block", async () => {
    const transaction = new Transaction();
    const steps = [
      'BEGIN',
      'INSERT INTO commit_probe VALUES (1)',
      'COMMIT AND CHAIN',
      'INSERT INTO commit_probe VALUES (2)',
    ];
    const points = steps.map((sql) => {
      const point = transaction.queryCommitPoint(statementsOf(sql));
      transaction.query(statementsOf(sql));
      return point;
    });
    expect(points).toEqual(['block-commit', 'block-commit', 'own-message', 'block-commit']);
    session.send(query(steps[0]!), query(steps[1]!));
    expect(await session.until('Z', 2)).toBe('T');
    expect(await visible()).toBe(0);
    session.send(query(steps[2]!));
    expect(await session.until('Z')).toBe('T');
    expect(await visible()).toBe(1);
    expect(transaction.inBlock).toBe(true);
    session.send(query(steps[3]!), query('ROLLBACK'));
    expect(await session.until('Z', 2)).toBe('I');
    expect(await visible()).toBe(1);
  });

  it('a sequence moves as its function runs, whatever becomes of the transaction: unheld', async () => {
    const next = "SELECT nextval('commit_probe_seq')";
    expect(commitPointOf(statementsOf(next), 'simple', true)).toBe('unheld');
    const before = (await observer.query('SELECT last_value::int AS v FROM commit_probe_seq')).rows[0].v;
    session.send(query('BEGIN'), query(next), query(next));
    await session.until('Z', 3);
    session.send(query('ROLLBACK'));
    await session.until('Z');
    const after = (await observer.query('SELECT last_value::int AS v FROM commit_probe_seq')).rows[0].v;
    expect(after).toBeGreaterThan(before);
  });
});
