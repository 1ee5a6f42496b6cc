import type { IdleResult } from './idle-connections';
import type { Machine } from './machine';
import type { BenchSettings } from './settings';

/** One pgbench run as measured. */
export interface RunRecord {
  round: number;
  scenario: string;
  tps: number;
  latencyMs: number;
  transactions: number;
  /** CPU of the proxy (all its processes) per transaction, in µs; null when pgbench talks to the server. */
  cpuUsPerTxn: number | null;
}

export interface Medians {
  runs: number;
  tps: number;
  latencyMs: number;
  cpuUsPerTxn: number | null;
}

export interface Ratios {
  gatewayToPgbouncerTps: number;
  gatewayToPgbouncerCpu: number;
  gatewayToDirectTps: number;
  pgbouncerToDirectTps: number;
}

/** The two gateway configurations the targets are set for: policy only, and everything on. */
export type Variant = 'gateway-policy' | 'gateway';
const VARIANTS: readonly Variant[] = ['gateway-policy', 'gateway'];
type PerProtocol<T> = { simple: T; prepared: T };

export interface Summary {
  medians: Record<string, Medians>;
  ratios: Record<Variant, PerProtocol<Ratios>>;
  /** Gateway minus direct average latency at one client, in µs. */
  addedLatencyUs: Record<Variant, PerProtocol<number>>;
  /** The same for pgbouncer: the cost of one extra hop on this machine, for reference. */
  pgbouncerAddedLatencyUs: PerProtocol<number>;
  idle: IdleResult;
}

/**
 * The goals from the issues, printed beside the measurements, never enforced. Issue 3 (policy) is
 * judged on the policy-only row, issue 4 (policy, audit record of every statement, recording) on the
 * full gateway, and issue 2's data-path goals, set for a gateway without policy, on the policy-only
 * row, the nearest configuration the bench runs.
 */
const DATA_PATH = { tpsRatio: 0.85, cpuRatio: 1.5, addedLatencyUs: 60, idleKb: 40 };
const VARIANT_TARGETS: Record<Variant, { label: string; issue: number; tpsRatio: number; cpuRatio: number }> =
  {
    'gateway-policy': { label: 'policy only', issue: 3, tpsRatio: 0.8, cpuRatio: 1.8 },
    gateway: { label: 'policy + audit + recording', issue: 4, tpsRatio: 0.75, cpuRatio: 2 },
  };

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Medians of each scenario's runs. */
export function mediansOf(runs: readonly RunRecord[]): Record<string, Medians> {
  const medians: Record<string, Medians> = {};
  for (const id of new Set(runs.map((run) => run.scenario))) {
    const mine = runs.filter((run) => run.scenario === id);
    const cpu = mine.flatMap((run) => (run.cpuUsPerTxn === null ? [] : [run.cpuUsPerTxn]));
    medians[id] = {
      runs: mine.length,
      tps: median(mine.map((run) => run.tps)),
      latencyMs: median(mine.map((run) => run.latencyMs)),
      cpuUsPerTxn: cpu.length > 0 ? median(cpu) : null,
    };
  }
  return medians;
}

export function summarize(runs: readonly RunRecord[], idle: IdleResult): Summary {
  const medians = mediansOf(runs);
  const get = (id: string): Medians => {
    const found = medians[id];
    if (!found) throw new Error(`no runs of ${id}`);
    return found;
  };
  const ratios = (variant: Variant, protocol: 'simple' | 'prepared'): Ratios => {
    const direct = get(`direct/${protocol}/c8`);
    const gateway = get(`${variant}/${protocol}/c8`);
    const pgbouncer = get(`pgbouncer/${protocol}/c8`);
    return {
      gatewayToPgbouncerTps: gateway.tps / pgbouncer.tps,
      gatewayToPgbouncerCpu: (gateway.cpuUsPerTxn ?? Number.NaN) / (pgbouncer.cpuUsPerTxn ?? Number.NaN),
      gatewayToDirectTps: gateway.tps / direct.tps,
      pgbouncerToDirectTps: pgbouncer.tps / direct.tps,
    };
  };
  const added = (target: Variant | 'pgbouncer', protocol: 'simple' | 'prepared') =>
    (get(`${target}/${protocol}/c1`).latencyMs - get(`direct/${protocol}/c1`).latencyMs) * 1000;
  const both = <T>(f: (protocol: 'simple' | 'prepared') => T): PerProtocol<T> => ({
    simple: f('simple'),
    prepared: f('prepared'),
  });
  const perVariant = <T>(f: (variant: Variant) => T) =>
    Object.fromEntries(VARIANTS.map((variant) => [variant, f(variant)])) as Record<Variant, T>;
  return {
    medians,
    ratios: perVariant((variant) => both((protocol) => ratios(variant, protocol))),
    addedLatencyUs: perVariant((variant) => both((protocol) => added(variant, protocol))),
    pgbouncerAddedLatencyUs: both((protocol) => added('pgbouncer', protocol)),
    idle,
  };
}

/** Right-aligns every column but the first. */
function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  return rows
    .map((row) =>
      row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('   '),
    )
    .join('\n');
}

const tps = (value: number) => Math.round(value).toLocaleString('en-US');
const ms = (value: number) => `${value.toFixed(3)} ms`;
const us = (value: number | null) => (value === null ? '–' : `${value.toFixed(1)} µs`);
const signed = (micros: number) => `${micros >= 0 ? '+' : ''}${micros.toFixed(1)} µs`;
const ratio = (value: number) => value.toFixed(2);
const verdict = (met: boolean) => (met ? 'met' : 'MISSED');
/** A value as printed, so a verdict never contradicts the number beside it (60.00000001 shows as 60.0). */
const shown = (value: number, decimals: number) => Number(value.toFixed(decimals));

/** 1-minute load averages when the measurements began and ended: anything else running shows up here. */
export interface Load {
  start: number;
  end: number;
}

export function formatReport(
  summary: Summary,
  machine: Machine,
  settings: BenchSettings,
  load: Load,
): string {
  const m = (id: string) => summary.medians[id];
  const row = (label: string, target: string): string[] => {
    const cells = [label];
    for (const protocol of ['simple', 'prepared']) {
      const found = m(`${target}/${protocol}/c8`);
      if (found) cells.push(tps(found.tps), ms(found.latencyMs), us(found.cpuUsPerTxn));
      else cells.push('', '', '');
    }
    return cells;
  };
  const { idle } = summary;
  const worst = (values: number[], pick: (...v: number[]) => number) => shown(pick(...values), 2);
  const ratioRows = VARIANTS.flatMap((variant) => {
    const { simple, prepared } = summary.ratios[variant];
    const goal = VARIANT_TARGETS[variant];
    const tpsWorst = worst([simple.gatewayToPgbouncerTps, prepared.gatewayToPgbouncerTps], Math.min);
    const cpuWorst = worst([simple.gatewayToPgbouncerCpu, prepared.gatewayToPgbouncerCpu], Math.max);
    const dataPath =
      variant === 'gateway-policy'
        ? {
            tps: `; data path ≥ ${DATA_PATH.tpsRatio}: ${verdict(tpsWorst >= DATA_PATH.tpsRatio)}`,
            cpu: `; data path ≤ ${DATA_PATH.cpuRatio}: ${verdict(cpuWorst <= DATA_PATH.cpuRatio)}`,
          }
        : { tps: '', cpu: '' };
    return [
      [
        `${goal.label}: TPS`,
        ratio(simple.gatewayToPgbouncerTps),
        ratio(prepared.gatewayToPgbouncerTps),
        `issue ${goal.issue} ≥ ${goal.tpsRatio}: ${verdict(tpsWorst >= goal.tpsRatio)}${dataPath.tps}`,
      ],
      [
        `${goal.label}: CPU per txn`,
        ratio(simple.gatewayToPgbouncerCpu),
        ratio(prepared.gatewayToPgbouncerCpu),
        `issue ${goal.issue} ≤ ${goal.cpuRatio}: ${verdict(cpuWorst <= goal.cpuRatio)}${dataPath.cpu}`,
      ],
    ];
  });
  const full = summary.ratios.gateway;
  const lines = [
    '',
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.kernel}`,
    `         Node ${machine.node}, PostgreSQL ${machine.postgres}, ${machine.pgbouncer}, ${machine.pgbench}`,
    `Method:  pgbench -S, medians of ${settings.rounds} interleaved round(s) of ${settings.seconds} s per run; gateway: ${settings.gatewayWorkers} worker(s) (targets), ${settings.clusterWorkers} in the last row; CPU = utime+stime of all the proxy's processes ÷ transactions`,
    `Load:    1-minute load average ${load.start.toFixed(2)} at the start, ${load.end.toFixed(2)} at the end (on ${machine.cores} cores)`,
    '',
    'Throughput, 8 clients (-c 8 -j 2), client TLS off unless noted',
    table([
      ['', 'simple TPS', 'latency', 'CPU/txn', 'prepared TPS', 'latency', 'CPU/txn'],
      row('direct', 'direct'),
      row('gateway, policy only', 'gateway-policy'),
      row('gateway, policy + audit + recording', 'gateway'),
      row('gateway, all on, reads strict (fsync)', 'gateway-strict'),
      row('pgbouncer (session, SCRAM)', 'pgbouncer'),
      row('gateway (all on), client TLS', 'gateway-tls'),
      row(`gateway (all on), ${settings.clusterWorkers} workers`, 'gateway-cluster'),
    ]),
    '',
    table([
      ['Gateway / pgbouncer', 'simple', 'prepared', 'target (worst of the two)'],
      ...ratioRows,
      ...((strict) =>
        strict
          ? [
              [
                'all on, reads strict: TPS',
                ratio(strict.simple.tps / (m('pgbouncer/simple/c8')?.tps ?? Number.NaN)),
                ratio(strict.prepared.tps / (m('pgbouncer/prepared/c8')?.tps ?? Number.NaN)),
                'no target (strict is for writes)',
              ],
            ]
          : [])(
        m('gateway-strict/simple/c8') && m('gateway-strict/prepared/c8')
          ? { simple: m('gateway-strict/simple/c8')!, prepared: m('gateway-strict/prepared/c8')! }
          : undefined,
      ),
      [
        'gateway (all on) / direct TPS',
        ratio(full.simple.gatewayToDirectTps),
        ratio(full.prepared.gatewayToDirectTps),
        '',
      ],
      [
        'pgbouncer / direct TPS',
        ratio(full.simple.pgbouncerToDirectTps),
        ratio(full.prepared.pgbouncerToDirectTps),
        '',
      ],
    ]),
    '',
    'Latency at 1 client (-c 1 -j 1), average per transaction',
    table([
      ['', 'direct', 'policy only', 'added', 'target', 'all on', 'added', 'pgbouncer', 'added (reference)'],
      ...(['simple', 'prepared'] as const).map((protocol) => {
        const latency = (target: string) =>
          us((m(`${target}/${protocol}/c1`)?.latencyMs ?? Number.NaN) * 1000);
        const policyAdded = summary.addedLatencyUs['gateway-policy'][protocol];
        return [
          protocol,
          latency('direct'),
          latency('gateway-policy'),
          signed(policyAdded),
          `≤ ${DATA_PATH.addedLatencyUs} µs: ${verdict(shown(policyAdded, 1) <= DATA_PATH.addedLatencyUs)}`,
          latency('gateway'),
          signed(summary.addedLatencyUs.gateway[protocol]),
          latency('pgbouncer'),
          signed(summary.pgbouncerAddedLatencyUs[protocol]),
        ];
      }),
    ]),
    '',
    `Idle connections: ${idle.count} authenticated client-TLS sessions through the gateway, opened in ${idle.openSeconds.toFixed(1)} s`,
    `  upstream sessions on the server (pg_stat_activity): ${idle.serverSessions}`,
    `  gateway RSS (primary + workers): ${(idle.rssBeforeKb / 1024).toFixed(1)} MiB before, ${(idle.rssAfterKb / 1024).toFixed(1)} MiB after`,
    `  per connection: ${idle.perConnectionKb.toFixed(1)} KB (target < ${DATA_PATH.idleKb} KB: ${verdict(shown(idle.perConnectionKb, 1) < DATA_PATH.idleKb)})`,
    '',
  ];
  return lines.join('\n');
}

/** Targets of a change that must not cost throughput (issue 13): against the build before it. */
const BASELINE_TARGETS = { tps: 0.97, cpu: 1.03 };

/**
 * This build against the baseline build, from runs interleaved in the same rounds: TPS and CPU per
 * transaction, new ÷ old, under both grants and protocols; empty when no baseline ran.
 */
export function formatBaselineReport(
  summary: Pick<Summary, 'medians'>,
  baselineCli: string | undefined,
): string {
  if (!baselineCli) return '';
  const m = (id: string) => summary.medians[id];
  const section = (clients: 8 | 1) => {
    const rows = VARIANTS.flatMap((variant) =>
      (['simple', 'prepared'] as const).map((protocol) => {
        const now = m(`${variant}/${protocol}/c${clients}`);
        const before = m(`${variant.replace('gateway', 'baseline')}/${protocol}/c${clients}`);
        if (!now || !before) return [`${VARIANT_TARGETS[variant].label}, ${protocol}`, '–', '–', ''];
        const tpsRatio = now.tps / before.tps;
        const cpuRatio = (now.cpuUsPerTxn ?? Number.NaN) / (before.cpuUsPerTxn ?? Number.NaN);
        return [
          `${VARIANT_TARGETS[variant].label}, ${protocol}`,
          `${tps(now.tps)} / ${tps(before.tps)} = ${ratio(tpsRatio)}`,
          `${us(now.cpuUsPerTxn)} / ${us(before.cpuUsPerTxn)} = ${ratio(cpuRatio)}`,
          `TPS ≥ ${BASELINE_TARGETS.tps}: ${verdict(shown(tpsRatio, 2) >= BASELINE_TARGETS.tps)}; CPU ≤ ${BASELINE_TARGETS.cpu}: ${verdict(shown(cpuRatio, 2) <= BASELINE_TARGETS.cpu)}`,
        ];
      }),
    );
    return [
      `This build / baseline (${baselineCli}), ${clients === 8 ? '8 clients' : '1 client'}, the same rounds`,
      table([['', 'TPS (this / baseline)', 'CPU per txn (this / baseline)', 'targets'], ...rows]),
      '',
    ];
  };
  return [...section(8), ...section(1)].join('\n');
}
