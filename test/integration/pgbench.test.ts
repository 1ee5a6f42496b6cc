import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Client } from 'pg';
import { libpqEnvironment, requireClient, testUpstream } from '../support/environment';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { type Outcome, runCommand } from '../support/run-command';

/** Debian's pgbench binary, else whatever pgbench is on PATH. */
function findPgbench(): string | undefined {
  const debian = '/usr/lib/postgresql/15/bin/pgbench';
  if (existsSync(debian)) return debian;
  const which = spawnSync('sh', ['-c', 'command -v pgbench'], { encoding: 'utf8' });
  const found = which.stdout.trim();
  return which.status === 0 && found ? found : undefined;
}

const PGBENCH = findPgbench();
const available = requireClient('pgbench', PGBENCH !== undefined);
const describeIfPgbench = available ? describe : describe.skip;

function pgbench(env: NodeJS.ProcessEnv, args: string[]): Promise<Outcome> {
  return runCommand(PGBENCH!, args, { env });
}

const CLIENTS = 4;
const TRANSACTIONS = 200;

describeIfPgbench('pgbench through the gateway', () => {
  let gateway: TestGateway;
  const database = `gatehouse_pgbench_${process.pid}_${Date.now()}`;

  /** Runs `work` on a direct connection to the upstream server, bypassing the gateway. */
  async function onUpstream<T>(db: string, work: (client: Client) => Promise<T>): Promise<T> {
    const client = new Client({ ...testUpstream(), database: db });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  }

  const historyRows = () =>
    onUpstream(
      database,
      async (c) => (await c.query('SELECT count(*)::int AS n FROM pgbench_history')).rows[0].n as number,
    );

  function environment(): NodeJS.ProcessEnv {
    const connection = gateway.connection('pgbench-job');
    return libpqEnvironment({ ...connection, database }, { PGCONNECT_TIMEOUT: '10' });
  }

  beforeAll(async () => {
    gateway = await startTestGateway();
    // A fresh database, created through the gateway: the sessions below ask for it by name.
    const client = new Client({ ...gateway.connection('pgbench-job'), ssl: { rejectUnauthorized: false } });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${database}`);
    } finally {
      await client.end();
    }
  });

  afterAll(async () => {
    await gateway?.stop();
    await onUpstream('postgres', (c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
  });

  it('initialises scale 1 through the gateway (client-side COPY generation)', async () => {
    const result = await pgbench(environment(), ['-i', '-s', '1', '-q']);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/done in [\d.]+ s/);
    expect(result.stderr).not.toMatch(/error|FATAL/i);

    const counts = await onUpstream(database, (c) =>
      c.query(
        'SELECT (SELECT count(*)::int FROM pgbench_accounts) AS accounts, (SELECT count(*)::int FROM pgbench_branches) AS branches, (SELECT count(*)::int FROM pgbench_tellers) AS tellers',
      ),
    );
    expect(counts.rows[0]).toEqual({ accounts: 100_000, branches: 1, tellers: 10 });
  });

  const runs = (['simple', 'extended', 'prepared'] as const).flatMap((mode) => [
    { mode, script: 'tpcb-like' as const },
    { mode, script: 'select-only' as const },
  ]);

  it.each(runs)(
    'runs the $script script with -M $mode and no failed transaction',
    async ({ mode, script }) => {
      const before = await historyRows();
      const args = ['-n', '-M', mode, '-c', String(CLIENTS), '-j', '2', '-t', String(TRANSACTIONS)];
      if (script === 'select-only') args.push('-S');
      const result = await pgbench(environment(), args);
      expect(result.stderr).not.toMatch(/aborted|error|FATAL/i);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`query mode: ${mode}`);
      expect(result.stdout).toContain(`number of clients: ${CLIENTS}`);
      expect(result.stdout).toContain(
        `number of transactions actually processed: ${CLIENTS * TRANSACTIONS}/${CLIENTS * TRANSACTIONS}`,
      );
      expect(result.stdout).toMatch(/number of failed transactions: 0 \(0\.000%\)/);
      // tpcb-like writes one history row per transaction; select-only writes none.
      const after = await historyRows();
      expect(after - before).toBe(script === 'tpcb-like' ? CLIENTS * TRANSACTIONS : 0);
    },
  );
});
