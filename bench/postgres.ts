import path from 'node:path';
import { Client } from 'pg';
import { type RunningPostgres, startEmbeddedPostgres } from '../local/embedded-postgres';
import { MASKING_TABLE_SQL } from './masking-bench';
import { runPgbenchProcess } from './pgbench';

/**
 * The benchmark's own PostgreSQL: the embedded server, tuned like the reference measurement (pgproxy.md
 * appendix) so the server is not the bottleneck, with room for the idle-connection test's 2,000 sessions.
 */
export const BENCH_DATABASE = 'bench';
const SCALE = 10;

export interface BenchPostgres extends RunningPostgres {
  version: string;
  /** The superuser's SCRAM secret from pg_authid: what pgbouncer's auth_file holds instead of a password. */
  scramSecret: string;
}

export async function query<Row extends Record<string, unknown>>(
  postgres: RunningPostgres,
  database: string,
  sql: string,
  parameters: unknown[] = [],
): Promise<Row[]> {
  const client = new Client({
    host: postgres.host,
    port: postgres.port,
    user: postgres.user,
    password: postgres.password,
    database,
  });
  await client.connect();
  try {
    return (await client.query<Row>(sql, parameters)).rows;
  } finally {
    await client.end();
  }
}

async function pgbenchInit(pgbench: string, postgres: RunningPostgres): Promise<void> {
  const args = [
    '-i',
    '-q',
    '-s',
    String(SCALE),
    '-h',
    postgres.host,
    '-p',
    String(postgres.port),
    '-U',
    postgres.user,
    BENCH_DATABASE,
  ];
  const env = { ...process.env, PGPASSWORD: postgres.password, PGSSLMODE: 'disable' };
  const { code, output } = await runPgbenchProcess(pgbench, args, env);
  if (code !== 0) throw new Error(`pgbench -i failed (${code}):\n${output.trim()}`);
}

export async function startBenchPostgres(
  directory: string,
  port: number,
  pgbench: string,
  maxConnections: number,
): Promise<BenchPostgres> {
  const log: string[] = [];
  const postgres = await startEmbeddedPostgres({
    dataDir: path.join(directory, 'pgdata'),
    port,
    settings: {
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      shared_buffers: '512MB',
      max_connections: maxConnections,
    },
    onLog: (line) => {
      log.push(line);
      if (log.length > 50) log.shift();
    },
  });
  try {
    await query(postgres, 'postgres', `CREATE DATABASE ${BENCH_DATABASE}`);
    await pgbenchInit(pgbench, postgres);
    await query(postgres, BENCH_DATABASE, MASKING_TABLE_SQL);
    const [version] = await query<{ server_version: string }>(
      postgres,
      BENCH_DATABASE,
      'SHOW server_version',
    );
    const [secret] = await query<{ rolpassword: string }>(
      postgres,
      'postgres',
      'SELECT rolpassword FROM pg_authid WHERE rolname = current_user',
    );
    if (!secret?.rolpassword.startsWith('SCRAM-SHA-256$'))
      throw new Error('the superuser has no SCRAM secret; initdb --auth=scram-sha-256 should have set one');
    return { ...postgres, version: version?.server_version ?? 'unknown', scramSecret: secret.rolpassword };
  } catch (error) {
    await postgres.stop();
    throw new Error(
      `setting up the benchmark database failed: ${(error as Error).message}\n${log.join('').slice(-2000)}`,
    );
  }
}

/** Sessions the server has open for `applicationName`: proof that the gateway holds an upstream per client. */
export async function countSessions(postgres: RunningPostgres, applicationName: string): Promise<number> {
  const [row] = await query<{ count: string }>(
    postgres,
    'postgres',
    "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND application_name = $1",
    [applicationName],
  );
  return Number(row?.count ?? 0);
}
