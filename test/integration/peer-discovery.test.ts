import { Client } from 'pg';
import type { HostResolver } from '../../fargate-proxy/src/cancel/peer-directory';
import { parseGatewayConfig } from '../../fargate-proxy/src/config';
import { createLogger } from '../../fargate-proxy/src/observability/logger';
import { type RunningGateway, startGateway } from '../../fargate-proxy/src/server/primary';
import { StaticCredentialSource } from '../../fargate-proxy/src/upstream/credential-source';
import { sendCancel } from '../support/cancel';
import { testIssuer, testUpstream } from '../support/environment';
import { baseTestConfig } from '../support/gateway';
import { fixedTestPort } from '../support/ports';

// Two gateway instances the way two Fargate tasks run them: each binds the same peer port on its own
// address (two loopback addresses here; Linux routes all of 127/8 to the loopback interface), and both
// discover each other as the A records of one name, which a fake resolver answers.
const DNS_NAME = 'gateway.gatehouse.test';
const ADDRESS_A = '127.0.0.2';
const ADDRESS_B = '127.0.0.3';

/** A resolver whose answer the test changes: a name that fails, tasks that come and go. */
class TestResolver implements HostResolver {
  readonly lookups: string[] = [];
  answer: () => Promise<string[]> = async () => [ADDRESS_A, ADDRESS_B];

  resolve4(hostname: string): Promise<string[]> {
    this.lookups.push(hostname);
    return this.answer();
  }
}

interface Instance {
  gateway: RunningGateway;
  resolver: TestResolver;
  /** The instance's warnings and errors, parsed. */
  logs: () => { level: string; msg: string }[];
}

async function startInstance(address: string, peerPort: number, refreshMs: number): Promise<Instance> {
  const resolver = new TestResolver();
  const lines: string[] = [];
  const upstream = testUpstream();
  const config = parseGatewayConfig(
    baseTestConfig({
      cancel: {
        peerHost: address,
        peerPort,
        peerDiscovery: { dnsName: DNS_NAME, port: peerPort, refreshMs },
      },
    }),
  );
  const gateway = await startGateway(config, {
    log: createLogger('warn', {}, (line) => lines.push(line)),
    credentials: new StaticCredentialSource({ user: upstream.user, password: upstream.password }),
    peerResolver: resolver,
  });
  return { gateway, resolver, logs: () => lines.map((line) => JSON.parse(line)) };
}

function client(instance: Instance, subject = 'peer-discovery-job'): Client {
  return new Client({
    host: '127.0.0.1',
    port: instance.gateway.port,
    user: subject,
    password: testIssuer().sign({ sub: subject }, 600),
    database: 'postgres',
    ssl: { rejectUnauthorized: false },
  });
}

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * Starts `sql` tagged with a marker and resolves once the server runs it, with the query's outcome
 * (wrapped: an async function would wait for a promise it returns).
 */
async function running(target: Client, sql: string): Promise<{ outcome: Promise<unknown> }> {
  const marker = `peer-discovery-${Math.random().toString(36).slice(2)}`;
  const outcome = target.query(`${sql} -- ${marker}`);
  outcome.catch(() => undefined); // observed by the caller
  const observer = new Client({ ...testUpstream(), database: 'postgres' });
  await observer.connect();
  try {
    await until(async () => {
      const rows = await observer.query(
        "SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1",
        [`%${marker}`],
      );
      return (rows.rowCount ?? 0) > 0;
    }, `${marker} to run`);
  } finally {
    await observer.end();
  }
  return { outcome };
}

describe('cancel forwarding between instances found by DNS (cancel.peerDiscovery)', () => {
  let a: Instance;
  let b: Instance;

  beforeAll(async () => {
    const peerPort = await fixedTestPort(ADDRESS_A);
    // A keeps its answer the default 5 s; B resolves for every cancel, so the test can change its answer.
    a = await startInstance(ADDRESS_A, peerPort, 5_000);
    b = await startInstance(ADDRESS_B, peerPort, 0);
  });
  afterAll(async () => {
    await Promise.all([a?.gateway.stop(), b?.gateway.stop()]);
  });

  it('cancels a statement on the instance holding the session when the cancel reaches the other one', async () => {
    // GIVEN: a session on each instance
    const onA = client(a);
    const onB = client(b);
    await Promise.all([onA.connect(), onB.connect()]);
    try {
      // WHEN: each session's cancel is sent to the other instance
      const sleepingOnA = (await running(onA, 'SELECT pg_sleep(30)')).outcome;
      await sendCancel(b.gateway.port, onA);
      const sleepingOnB = (await running(onB, 'SELECT pg_sleep(30)')).outcome;
      await sendCancel(a.gateway.port, onB);
      // THEN
      await expect(sleepingOnA).rejects.toMatchObject({ code: '57014' });
      await expect(sleepingOnB).rejects.toMatchObject({ code: '57014' });
      expect(b.resolver.lookups).toContain(DNS_NAME);
      expect(a.resolver.lookups).toContain(DNS_NAME);
      // Both sessions go on.
      expect((await onA.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
      expect((await onB.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
    } finally {
      await Promise.all([onA.end(), onB.end()]);
    }
  });

  it('drops the cancel without harm when the name does not resolve, and follows the answer as it changes', async () => {
    const onA = client(a);
    await onA.connect();
    try {
      // GIVEN: B's look-up fails
      b.resolver.answer = () =>
        Promise.reject(Object.assign(new Error(`queryA ENOTFOUND ${DNS_NAME}`), { code: 'ENOTFOUND' }));
      // WHEN: a cancel for A's session reaches B
      let statement = (await running(onA, 'SELECT pg_sleep(1.5) AS done')).outcome;
      await sendCancel(b.gateway.port, onA);
      // THEN: B says so and drops it; the statement ends normally, and B still serves sessions
      await until(
        () => b.logs().some((l) => l.msg === 'cancel not forwarded: the peers could not be discovered'),
        'the warning',
      );
      await expect(statement).resolves.toMatchObject({ rows: [{ done: '' }] });
      const onB = client(b);
      await onB.connect();
      expect((await onB.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
      await onB.end();

      // GIVEN: the name resolves, but A is not registered yet
      const lookups = b.resolver.lookups.length;
      b.resolver.answer = async () => [ADDRESS_B];
      // WHEN / THEN: nobody to forward to; the statement ends normally
      statement = (await running(onA, 'SELECT pg_sleep(1.5) AS done')).outcome;
      await sendCancel(b.gateway.port, onA);
      await until(() => b.resolver.lookups.length > lookups, 'the look-up');
      await expect(statement).resolves.toMatchObject({ rows: [{ done: '' }] });

      // GIVEN: A has registered
      b.resolver.answer = async () => [ADDRESS_A, ADDRESS_B];
      // WHEN / THEN: the next cancel reaches it
      statement = (await running(onA, 'SELECT pg_sleep(30)')).outcome;
      await sendCancel(b.gateway.port, onA);
      await expect(statement).rejects.toMatchObject({ code: '57014' });
      expect(b.logs().filter((l) => l.level === 'error')).toEqual([]);
    } finally {
      b.resolver.answer = async () => [ADDRESS_A, ADDRESS_B];
      await onA.end();
    }
  });
});
