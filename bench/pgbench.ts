import { spawn } from 'node:child_process';

/** Where pgbench connects. The password goes through the environment, never the command line. */
export interface Endpoint {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  sslmode: 'disable' | 'require';
}

export interface PgbenchRun {
  protocol: 'simple' | 'prepared';
  clients: number;
  threads: number;
  seconds: number;
}

export interface PgbenchResult {
  tps: number;
  latencyMs: number;
  transactions: number;
  failed: number;
}

function number(output: string, pattern: RegExp, what: string): number {
  const match = pattern.exec(output);
  if (!match) throw new Error(`pgbench output has no ${what}:\n${output}`);
  return Number(match[1]);
}

/** Reads the summary pgbench prints at the end of a run (format of pgbench 15 and later). */
export function parsePgbenchOutput(output: string): PgbenchResult {
  // Older pgbench versions do not print failures; no line means none were counted.
  const failed = /^number of failed transactions: (\d+)/m.exec(output);
  return {
    tps: number(output, /^tps = ([\d.]+) \(without initial connection time\)/m, 'tps'),
    latencyMs: number(output, /^latency average = ([\d.]+) ms/m, 'average latency'),
    transactions: number(output, /^number of transactions actually processed: (\d+)/m, 'transaction count'),
    failed: failed ? Number(failed[1]) : 0,
  };
}

/** `pgbench -S` (select only) against `endpoint`; `-n` because the tables were vacuumed after loading. */
export async function runPgbench(
  pgbench: string,
  endpoint: Endpoint,
  run: PgbenchRun,
): Promise<PgbenchResult> {
  const args = [
    '-S',
    '-n',
    '-M',
    run.protocol,
    '-c',
    String(run.clients),
    '-j',
    String(run.threads),
    '-T',
    String(run.seconds),
    '-h',
    endpoint.host,
    '-p',
    String(endpoint.port),
    '-U',
    endpoint.user,
    endpoint.database,
  ];
  const env = {
    ...process.env,
    PGPASSWORD: endpoint.password,
    PGSSLMODE: endpoint.sslmode,
    PGAPPNAME: 'gatehouse-bench',
  };
  const { code, output } = await runPgbenchProcess(pgbench, args, env);
  if (code !== 0) {
    throw new Error(
      `pgbench against ${endpoint.host}:${endpoint.port} exited with ${code}:\n${output.trim()}`,
    );
  }
  const result = parsePgbenchOutput(output);
  if (result.failed > 0)
    throw new Error(`pgbench counted ${result.failed} failed transactions:\n${output.trim()}`);
  return result;
}

/** Runs pgbench and returns its exit code with stdout and stderr together, as it prints them. */
export function runPgbenchProcess(
  pgbench: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(pgbench, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, output }));
  });
}
