import { Client } from 'pg';
import { instanceTagOf, workerSlotOf } from '../../fargate-proxy/src/cancel/cancel-key';
import { sendCancel } from '../support/cancel';
import { testIssuer, testUpstream } from '../support/environment';
import { type GatewayChild, spawnGateway } from '../support/gateway-process';
import { fixedTestPort } from '../support/ports';

const ssl = { rejectUnauthorized: false };

function connection(gateway: GatewayChild, subject = 'cluster-job') {
  return {
    host: '127.0.0.1',
    port: gateway.port,
    user: subject,
    password: testIssuer().sign({ sub: subject }, 600),
    database: 'postgres',
    ssl,
  };
}

/** Waits until the server runs the statement tagged `marker`, so the cancel has something to cancel. */
async function waitUntilRunning(marker: string, outcome: () => string): Promise<void> {
  const observer = new Client({ ...testUpstream(), database: 'postgres' });
  await observer.connect();
  try {
    // Generous: the whole suite runs in parallel on two cores.
    for (let i = 0; i < 300; i++) {
      const rows = await observer.query(
        "SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1",
        [`%${marker}`],
      );
      if (rows.rowCount) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`statement ${marker} not seen running; client side: ${outcome()}`);
  } finally {
    await observer.end();
  }
}

async function expectCancelled(target: Client, cancelVia: number): Promise<void> {
  const marker = `cancel-probe-${Math.random().toString(36).slice(2)}`;
  const running = target.query(`SELECT pg_sleep(20) -- ${marker}`);
  let settled = 'still waiting';
  running.then(
    () => {
      settled = 'completed';
    },
    (error: { code?: string }) => {
      settled = `failed with ${error.code}`;
    },
  );
  await waitUntilRunning(marker, () => settled);
  await sendCancel(cancelVia, target);
  await expect(running).rejects.toMatchObject({ code: '57014' });
}

describe('the gateway as a cluster of worker processes', () => {
  let gateway: GatewayChild;

  beforeAll(async () => {
    gateway = await spawnGateway({ workers: 2 });
  });
  afterAll(async () => {
    await gateway.terminate();
  });

  it('spreads sessions over both workers, each key naming its worker', async () => {
    const clients = Array.from({ length: 6 }, () => new Client(connection(gateway)));
    await Promise.all(clients.map((c) => c.connect()));
    const slots = new Set(
      clients.map((c) => workerSlotOf((c as unknown as { processID: number }).processID)),
    );
    expect([...slots].sort()).toEqual([0, 1]);
    await Promise.all(clients.map((c) => c.end()));
  });

  it('cancels the right statement whichever worker the cancel request lands on', async () => {
    const clients = Array.from({ length: 4 }, () => new Client(connection(gateway)));
    await Promise.all(clients.map((c) => c.connect()));
    // Connections are dealt round-robin, so successive cancels land on both workers.
    for (const client of clients) {
      await expectCancelled(client, gateway.port);
      await expectCancelled(client, gateway.port);
      expect((await client.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);
    }
    await Promise.all(clients.map((c) => c.end()));
  });

  it('ignores a cancel request with a wrong key', async () => {
    const client = new Client(connection(gateway));
    await client.connect();
    const running = client.query('SELECT pg_sleep(0.5) AS done');
    const forged = client as unknown as { secretKey: number };
    const real = forged.secretKey;
    forged.secretKey = real ^ 1;
    await sendCancel(gateway.port, client);
    forged.secretKey = real;
    await expect(running).resolves.toMatchObject({ rowCount: 1 });
    await client.end();
  });

  it('reports the sum of all workers on /metrics', async () => {
    const clients = Array.from({ length: 4 }, () => new Client(connection(gateway)));
    await Promise.all(clients.map((c) => c.connect()));
    const text = await (await fetch(`http://127.0.0.1:${gateway.healthPort}/metrics`)).text();
    expect(Number(/^gatehouse_connections_active (\d+)/m.exec(text)?.[1])).toBe(4);
    await Promise.all(clients.map((c) => c.end()));
  });
});

describe('cancel requests between gateway instances', () => {
  it('forwards a cancel that reached the wrong instance to the one holding the session', async () => {
    const peerA = await fixedTestPort();
    const peerB = peerA + 1;
    const a = await spawnGateway({
      workers: 2,
      cancel: { peerHost: '127.0.0.1', peerPort: peerA, peers: [`127.0.0.1:${peerB}`] },
    });
    const b = await spawnGateway({
      workers: 2,
      cancel: { peerHost: '127.0.0.1', peerPort: peerB, peers: [`127.0.0.1:${peerA}`] },
    });
    try {
      const onA = new Client(connection(a));
      await onA.connect();
      const key = (onA as unknown as { processID: number }).processID;
      expect(instanceTagOf(key)).not.toBe(Number.NaN);
      // The cancel goes to instance B, which does not hold the session.
      await expectCancelled(onA, b.port);
      await expectCancelled(onA, b.port);
      await onA.end();
    } finally {
      await Promise.all([a.terminate(), b.terminate()]);
    }
  });
});

describe('graceful shutdown', () => {
  it('on SIGTERM refuses new sessions, lets running ones finish, then ends the rest with 57P01', async () => {
    const gateway = await spawnGateway({ workers: 2, drainMs: 1500 });
    const finishing = new Client(connection(gateway));
    const lingering = new Client(connection(gateway));
    await finishing.connect();
    await lingering.connect();
    const ended = new Promise<{ code?: string }>((resolve) =>
      lingering.on('error', (error) => resolve(error as { code?: string })),
    );
    const running = finishing.query('SELECT pg_sleep(0.7) AS done');
    const exited = gateway.terminate();
    await new Promise((resolve) => setTimeout(resolve, 200));
    await expect(new Client(connection(gateway)).connect()).rejects.toBeTruthy();
    await expect(running).resolves.toMatchObject({ rowCount: 1 });
    await finishing.end();
    expect(await ended).toMatchObject({ code: '57P01' });
    expect(await exited).toBe(0);
  });
});
