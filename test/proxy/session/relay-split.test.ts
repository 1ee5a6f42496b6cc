import { silentLogger } from '../../../fargate-proxy/src/observability/logger';
import { Metrics } from '../../../fargate-proxy/src/observability/metrics';
import { IdleSweeper } from '../../../fargate-proxy/src/session/idle-sweeper';
import { Relay } from '../../../fargate-proxy/src/session/relay';
import type { StatementGate } from '../../../fargate-proxy/src/session/statement-gate';
import { memoryEnd } from '../../support/memory-stream';
import { bind, execute, parse, query, sync, typed } from '../../support/wire';

/** Refuses what mentions `refuse_me`; the rest goes (the policy's place in the relay). */
const gate: StatementGate = {
  advance(statement) {
    statement.conclude(
      statement.text.includes('refuse_me')
        ? { sqlstate: '42501', message: 'refused by the test' }
        : undefined,
    );
    return undefined;
  },
};

/** Markers are random per refusal: compared by their place, not their bits. */
const normalised = (bytes: Buffer) =>
  bytes.toString('latin1').replace(/gatehouse_refused_[0-9a-f]{32}/g, 'gatehouse_refused_MARKER');

/** The bytes the relay forwards upstream for `chunks` from the client. */
async function forwarded(chunks: Buffer[]): Promise<string> {
  const client = memoryEnd();
  const upstream = memoryEnd();
  const relay = new Relay({
    client: client.stream,
    upstream: upstream.stream,
    limits: { maxClientMessageBytes: 1 << 20, maxServerMessageBytes: 1 << 20, idleTimeoutMs: 0 },
    gate,
    metrics: new Metrics(),
    log: silentLogger,
    idle: new IdleSweeper(1000),
    onClose: () => undefined,
  });
  relay.start(Buffer.alloc(0), Buffer.alloc(0));
  for (const chunk of chunks) client.stream.push(chunk);
  await new Promise((resolve) => setImmediate(resolve));
  relay.close('test over');
  return normalised(Buffer.concat(upstream.written));
}

describe('Relay: the client direction at every split point', () => {
  // A pipeline with one Sync, then simple queries, refused statements among them, and a Terminate.
  const session = Buffer.concat([
    parse('s1', 'SELECT 1'),
    bind('p1', 's1'),
    execute('p1'),
    parse('s2', 'SELECT refuse_me'),
    bind('p2', 's2'),
    execute('p2'),
    sync(),
    query('SELECT 2'),
    query('SELECT refuse_me; SELECT 3'),
    typed('X'),
  ]);

  it('forwards the same bytes however the client stream is cut', async () => {
    const whole = await forwarded([session]);
    // The refused ones travel as markers in their own place, everything else as it was sent.
    expect(whole).toContain('SELECT 1');
    expect(whole).toContain('SELECT 2');
    expect(whole).not.toContain('refuse_me');
    expect(whole.match(/gatehouse_refused_MARKER/g)).toHaveLength(2);
    expect(whole.endsWith('X\u0000\u0000\u0000\u0004')).toBe(true);
    for (let cut = 1; cut < session.length; cut++) {
      expect(await forwarded([session.subarray(0, cut), session.subarray(cut)])).toBe(whole);
    }
    // And byte by byte.
    expect(await forwarded([...session].map((byte) => Buffer.from([byte])))).toBe(whole);
  });
});
