import { Client } from 'pg';
import { treeRssKb } from './process-stats';

/**
 * What an idle session costs the gateway in memory: open many authenticated TLS sessions through it,
 * confirm the server holds one backend for each, and compare the gateway's resident memory before and after.
 */
export interface IdleTest {
  host: string;
  port: number;
  database: string;
  user: string;
  token: () => string;
  count: number;
  /** Connections opened at once; enough to be quick, few enough not to trip the auth timeout. */
  concurrency: number;
  gatewayPid: number;
  /** Marks the sessions so the server-side count finds exactly them. */
  applicationName: string;
  countServerSessions: () => Promise<number>;
}

export interface IdleResult {
  count: number;
  serverSessions: number;
  openSeconds: number;
  rssBeforeKb: number;
  rssAfterKb: number;
  perConnectionKb: number;
}

/** How long the sessions sit idle before memory is read, so buffers of the handshakes can be collected. */
const SETTLE_MS = 3000;

/** Opens the sessions into `clients` as they are created, so a failure part-way still closes every one. */
async function openAll(test: IdleTest, clients: Client[]): Promise<void> {
  let next = 0;
  const openOne = async () => {
    const client = new Client({
      host: test.host,
      port: test.port,
      database: test.database,
      user: test.user,
      password: test.token(),
      // Client TLS on, as a real deployment's clients connect; the self-signed certificate is not checked.
      ssl: { rejectUnauthorized: false },
      application_name: test.applicationName,
    });
    client.on('error', () => undefined); // a session dropped while idle shows up in the server count
    clients.push(client);
    await client.connect();
  };
  const lane = async () => {
    while (next < test.count) {
      next++;
      await openOne();
    }
  };
  await Promise.all(Array.from({ length: test.concurrency }, lane));
}

export async function measureIdleConnections(test: IdleTest): Promise<IdleResult> {
  const rssBeforeKb = treeRssKb(test.gatewayPid);
  const started = performance.now();
  const clients: Client[] = [];
  try {
    await openAll(test, clients);
    const openSeconds = (performance.now() - started) / 1000;
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const rssAfterKb = treeRssKb(test.gatewayPid);
    const serverSessions = await test.countServerSessions();
    if (serverSessions < test.count) {
      throw new Error(
        `only ${serverSessions} of ${test.count} gateway sessions have an upstream session on the server`,
      );
    }
    return {
      count: test.count,
      serverSessions,
      openSeconds,
      rssBeforeKb,
      rssAfterKb,
      perConnectionKb: (rssAfterKb - rssBeforeKb) / test.count,
    };
  } finally {
    await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
  }
}
