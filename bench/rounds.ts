import { type Endpoint, runPgbench } from './pgbench';
import { cpuBetween, cpuSnapshot } from './process-stats';
import type { RunRecord } from './report';
import { BASELINE_ROUND, ROUND, type Scenario, type TargetName } from './scenarios';
import type { BenchSettings } from './settings';

/** How pgbench reaches each target, and which process tree to charge the CPU to (none for direct). */
export interface Targets {
  endpoint(target: TargetName, sslmode: Scenario['sslmode']): Endpoint;
  pid(target: TargetName): number | undefined;
}

/** JIT, the server's buffers and pgbouncer's pool are warm before anything is recorded. */
export async function warmUp(
  pgbench: string,
  targets: Targets,
  seconds: number,
  baseline: boolean,
): Promise<void> {
  const warmed: TargetName[] = ['direct', 'gateway', 'gateway-policy', 'pgbouncer', 'gateway-cluster'];
  if (baseline) warmed.push('baseline', 'baseline-policy');
  for (const target of warmed) {
    await runPgbench(pgbench, targets.endpoint(target, 'disable'), {
      protocol: 'simple',
      clients: 8,
      threads: 2,
      seconds,
    });
  }
}

async function measure(
  pgbench: string,
  targets: Targets,
  scenario: Scenario,
  seconds: number,
  round: number,
) {
  const pid = targets.pid(scenario.target);
  const before = pid === undefined ? undefined : cpuSnapshot(pid);
  const result = await runPgbench(pgbench, targets.endpoint(scenario.target, scenario.sslmode), {
    ...scenario.run,
    seconds,
  });
  let cpuUsPerTxn: number | null = null;
  let warning: string | undefined;
  if (pid !== undefined && before) {
    const usage = cpuBetween(before, cpuSnapshot(pid));
    if (usage.lostProcesses > 0) {
      warning = `${usage.lostProcesses} ${scenario.target} process(es) exited during the run; its CPU figure is low`;
    }
    cpuUsPerTxn = usage.micros / result.transactions;
  }
  const record: RunRecord = {
    round,
    scenario: scenario.id,
    tps: result.tps,
    latencyMs: result.latencyMs,
    transactions: result.transactions,
    cpuUsPerTxn,
  };
  return { record, warning };
}

/** Every scenario of a round, round after round, so the targets interleave; one progress line per run. */
export async function runRounds(
  pgbench: string,
  targets: Targets,
  settings: BenchSettings,
  say: (line: string) => void,
): Promise<RunRecord[]> {
  const records: RunRecord[] = [];
  const scenarios = settings.baselineOnly
    ? BASELINE_ROUND
    : settings.baselineCli
      ? [...ROUND, ...BASELINE_ROUND]
      : ROUND;
  for (let round = 1; round <= settings.rounds; round++) {
    for (const scenario of scenarios) {
      const { record, warning } = await measure(pgbench, targets, scenario, settings.seconds, round);
      records.push(record);
      const cpu = record.cpuUsPerTxn === null ? '' : `  ${record.cpuUsPerTxn.toFixed(1)} µs CPU/txn`;
      say(
        `round ${round}/${settings.rounds}  ${scenario.run.protocol.padEnd(8)} c${scenario.run.clients}  ` +
          `${scenario.label.padEnd(21)}${Math.round(record.tps).toString().padStart(7)} tps  ` +
          `${record.latencyMs.toFixed(3)} ms${cpu}`,
      );
      if (warning) say(`  warning: ${warning}`);
    }
  }
  return records;
}
