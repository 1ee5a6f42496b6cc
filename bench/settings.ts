import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The benchmark's knobs, all from the environment so `npm run bench` needs no arguments. */
export interface BenchSettings {
  /** Length of each pgbench run (BENCH_SECONDS, default 10). */
  seconds: number;
  /** Interleaved rounds; medians are taken over them (BENCH_ROUNDS, default 3). */
  rounds: number;
  /**
   * Worker processes of the gateway the targets are measured on (BENCH_GATEWAY_WORKERS, default 1): one
   * process, as pgbouncer is, on a machine whose cores pgbench and PostgreSQL also use.
   */
  gatewayWorkers: number;
  /** Workers of the second gateway, shown beside it (one per core, the deployed default). */
  clusterWorkers: number;
  /** Idle TLS sessions opened for the memory measurement (BENCH_IDLE_CONNECTIONS, default 2000). */
  idleConnections: number;
  /** Extra node flags for the gateway primary (BENCH_GATEWAY_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p"). */
  gatewayNodeArgs: string[];
  /**
   * Another build's CLI (BENCH_BASELINE_CLI, e.g. /tmp/before/dist/bin/gatehouse.js): run as a second
   * gateway beside this one, its runs interleaved with this one's, and compared in the report.
   */
  baselineCli: string | undefined;
  /** Only this build against the baseline, nothing else (BENCH_BASELINE_ONLY=1): a quicker A/B run. */
  baselineOnly: boolean;
}

function positiveInteger(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 1): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min)
    throw new Error(`${name} must be an integer ≥ ${min}, got "${raw}"`);
  return value;
}

function baselineCli(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  const file = path.resolve(raw);
  if (!existsSync(file))
    throw new Error(`BENCH_BASELINE_CLI: no file ${file} (build the other checkout first)`);
  return file;
}

export function readSettings(env: NodeJS.ProcessEnv = process.env): BenchSettings {
  if (env.BENCH_BASELINE_ONLY === '1' && !env.BENCH_BASELINE_CLI)
    throw new Error('BENCH_BASELINE_ONLY=1 needs BENCH_BASELINE_CLI (the build to compare with)');
  return {
    seconds: positiveInteger(env, 'BENCH_SECONDS', 10),
    rounds: positiveInteger(env, 'BENCH_ROUNDS', 3),
    gatewayWorkers: positiveInteger(env, 'BENCH_GATEWAY_WORKERS', 1, 0),
    clusterWorkers: os.availableParallelism(),
    idleConnections: positiveInteger(env, 'BENCH_IDLE_CONNECTIONS', 2000),
    gatewayNodeArgs: (env.BENCH_GATEWAY_NODE_ARGS ?? '').split(/\s+/).filter((arg) => arg !== ''),
    baselineCli: baselineCli(env.BENCH_BASELINE_CLI),
    baselineOnly: env.BENCH_BASELINE_ONLY === '1',
  };
}
