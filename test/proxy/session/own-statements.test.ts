import type { Duplex } from 'node:stream';
import { silentLogger } from '../../../fargate-proxy/src/observability/logger';
import { Metrics } from '../../../fargate-proxy/src/observability/metrics';
import { IdleSweeper } from '../../../fargate-proxy/src/session/idle-sweeper';
import type { OwnResult } from '../../../fargate-proxy/src/session/own-statements';
import { Relay } from '../../../fargate-proxy/src/session/relay';
import type { StatementGate } from '../../../fargate-proxy/src/session/statement-gate';
import { connectUpstream } from '../../../fargate-proxy/src/upstream/upstream-connection';
import { testUpstream } from '../../support/environment';
import { memoryEnd } from '../../support/memory-stream';
import { bind, execute, parse, query, sync } from '../../support/wire';

/**
 * The relay runs the gateway's own statements on a client's real upstream session, while the
 * client's statement is held: the client sees none of it, its transaction goes on as it was, and the
 * statement sees what the client's transaction sees.
 */

interface Message {
  code: string;
  body: Buffer;
}

/** The client's end, in memory: what the relay writes to it, as messages. */
function clientEnd(): { stream: Duplex; messages: () => Message[] } {
  const { stream, written } = memoryEnd();
  const messages = () => {
    const all = Buffer.concat(written);
    const out: Message[] = [];
    for (let at = 0; at + 5 <= all.length; ) {
      const length = all.readInt32BE(at + 1);
      out.push({ code: String.fromCharCode(all[at]!), body: all.subarray(at + 5, at + 1 + length) });
      at += 1 + length;
    }
    return out;
  };
  return { stream, messages };
}

/** `/*own:SQL*\/` at the start of a statement: the gate runs SQL on the upstream first. */
const OWN = /^\/\*own:(.*?)\*\//s;

interface Session {
  send(bytes: Buffer): void;
  /** Resolves with the client's messages once `count` ReadyForQuery messages reached it. */
  ready(count: number): Promise<Message[]>;
  answers: Array<OwnResult | Error>;
  close(): void;
}

async function session(): Promise<Session> {
  const server = testUpstream();
  const upstream = await connectUpstream(
    { host: server.host, port: server.port, tls: 'disable', connectTimeoutMs: 5000 },
    { user: server.user, password: server.password },
    { database: 'postgres' },
  );
  const client = clientEnd();
  const answers: Array<OwnResult | Error> = [];
  let relay: Relay | undefined;
  // Runs the embedded statement, keeps what it returned, and lets the client's statement go on
  // (or refuses it when the gateway's statement could not run).
  const gate: StatementGate = {
    advance(statement) {
      const own = OWN.exec(statement.text)?.[1];
      if (own === undefined || statement.stage > 0) {
        statement.conclude(
          statement.text.includes('refuse_me')
            ? { sqlstate: '42501', message: 'refused by the test' }
            : undefined,
        );
        return undefined;
      }
      statement.stage = 1;
      return relay!.ownStatements.run(own).then(
        (result) => {
          answers.push(result);
          statement.conclude();
        },
        (error: Error) => {
          answers.push(error);
          statement.conclude({ sqlstate: '42501', message: `could not check: ${error.message}` });
        },
      );
    },
  };
  relay = new Relay({
    client: client.stream,
    upstream: upstream.socket,
    limits: { maxClientMessageBytes: 1 << 20, maxServerMessageBytes: 1 << 20, idleTimeoutMs: 0 },
    gate,
    metrics: new Metrics(),
    log: silentLogger,
    idle: new IdleSweeper(1000),
    onClose: () => undefined,
  });
  relay.start(Buffer.alloc(0), upstream.pending);
  return {
    send: (bytes) => client.stream.push(bytes),
    async ready(count) {
      const deadline = Date.now() + 5000;
      for (;;) {
        const messages = client.messages();
        if (messages.filter((m) => m.code === 'Z').length >= count) return messages;
        if (Date.now() > deadline) throw new Error(`timed out: ${messages.map((m) => m.code).join('')}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    answers,
    close: () => relay!.close('test over'),
  };
}

const codes = (messages: Message[]) => messages.map((m) => m.code).join('');
const statusOf = (messages: Message[]) =>
  messages.filter((m) => m.code === 'Z').map((m) => String.fromCharCode(m.body[0]!));
const values = (messages: Message[]) =>
  messages
    .filter((m) => m.code === 'D')
    .map((m) => {
      const length = m.body.readInt32BE(2);
      return m.body.toString('utf8', 6, 6 + length);
    });
const errorCodes = (messages: Message[]) =>
  messages.filter((m) => m.code === 'E').map((m) => /C([0-9A-Z]{5})\0/.exec(m.body.toString('latin1'))?.[1]);

describe("Relay: the gateway's own statements on the client's session", () => {
  let current: Session | undefined;
  afterEach(() => current?.close());

  it('runs one unseen outside a transaction', async () => {
    current = await session();
    current.send(query('/*own:SELECT current_database(), 1 AS one*/ SELECT 42'));
    const messages = await current.ready(1);
    expect(codes(messages)).toBe('TDCZ');
    expect(values(messages)).toEqual(['42']);
    expect(current.answers).toEqual([{ columns: ['current_database', 'one'], rows: [['postgres', '1']] }]);
  });

  it("sees the client's uncommitted work, and its error does not abort the client's block", async () => {
    current = await session();
    current.send(
      query('BEGIN; CREATE TEMP TABLE own_probe (x int) ON COMMIT DROP; INSERT INTO own_probe VALUES (7)'),
    );
    await current.ready(1);
    current.send(query('/*own:SELECT count(*) FROM own_probe*/ SELECT x FROM own_probe'));
    current.send(query('/*own:SELECT 1/0*/ SELECT x + 1 FROM own_probe'));
    current.send(query('COMMIT'));
    const messages = await current.ready(4);
    expect(values(messages)).toEqual(['7', '8']);
    expect(errorCodes(messages)).toEqual([]);
    expect(statusOf(messages)).toEqual(['T', 'T', 'T', 'I']);
    const [seen, failed] = current.answers as OwnResult[];
    expect(seen!.rows).toEqual([['1']]);
    expect(failed!.error?.code).toBe('22012');
  });

  it("is refused in a failed block, and the client's statement fails closed", async () => {
    current = await session();
    current.send(query('BEGIN; SELECT 1/0'));
    current.send(query('/*own:SELECT 1*/ SELECT 2'));
    current.send(query('ROLLBACK'));
    const messages = await current.ready(3);
    expect(statusOf(messages)).toEqual(['E', 'E', 'I']);
    expect(errorCodes(messages)).toEqual(['22012', '42501']);
    expect(String(current.answers[0])).toMatch(/transaction has failed/);
  });

  it('waits for requests still on the server, and refusals after it keep their place', async () => {
    current = await session();
    current.send(
      Buffer.concat([
        query('SELECT pg_sleep(0.2)::text'),
        query('/*own:SELECT 5*/ SELECT 3'),
        query('SELECT refuse_me'),
        query('SELECT 4'),
      ]),
    );
    const messages = await current.ready(4);
    expect(values(messages)).toEqual(['', '3', '4']);
    expect(errorCodes(messages)).toEqual(['42501']);
    expect((current.answers[0] as OwnResult).rows).toEqual([['5']]);
  });

  it('is refused inside an extended-protocol exchange, and runs after its Sync', async () => {
    current = await session();
    current.send(
      Buffer.concat([
        parse('', 'SELECT 1'),
        bind('', ''),
        execute(''),
        parse('s2', '/*own:SELECT 6*/ SELECT 2'),
        sync(),
        parse('s3', '/*own:SELECT 7*/ SELECT 3'),
        bind('', 's3'),
        execute(''),
        sync(),
      ]),
    );
    const messages = await current.ready(2);
    expect(values(messages)).toEqual(['1', '3']);
    expect(errorCodes(messages)).toEqual(['42501']);
    expect(String(current.answers[0])).toMatch(/extended-protocol exchange/);
    expect((current.answers[1] as OwnResult).rows).toEqual([['7']]);
  });
});
