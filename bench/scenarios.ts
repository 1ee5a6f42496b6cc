import type { PgbenchRun } from './pgbench';

/**
 * The ways pgbench reaches the server. `gateway` is the gateway with everything on (policy, audit
 * record of every statement, session recording); `gateway-policy` the same process under a grant
 * whose audit selects nothing (policy only); `gateway-strict` the same under a grant whose reads are
 * audited in strict mode (each waits for its fsynced record); `gateway-cluster` the full gateway with
 * one worker per core.
 */
export type TargetName =
  | 'direct'
  | 'gateway'
  | 'gateway-policy'
  | 'gateway-strict'
  | 'pgbouncer'
  | 'gateway-cluster'
  // Another build (BENCH_BASELINE_CLI) under the all-on and the policy-only grants.
  | 'baseline'
  | 'baseline-policy';

export interface Scenario {
  /** Stable key in the results JSON. */
  id: string;
  label: string;
  target: TargetName;
  sslmode: 'disable' | 'require';
  run: Omit<PgbenchRun, 'seconds'>;
}

const throughput = (
  target: TargetName,
  protocol: PgbenchRun['protocol'],
  sslmode: Scenario['sslmode'] = 'disable',
): Scenario => ({
  id: `${target}${sslmode === 'require' ? '-tls' : ''}/${protocol}/c8`,
  label: `${target}${sslmode === 'require' ? ' (client TLS)' : ''}`,
  target,
  sslmode,
  run: { protocol, clients: 8, threads: 2 },
});

const oneClient = (target: TargetName, protocol: PgbenchRun['protocol']): Scenario => ({
  id: `${target}/${protocol}/c1`,
  label: target,
  target,
  sslmode: 'disable',
  run: { protocol, clients: 1, threads: 1 },
});

/**
 * One round, in order. The targets alternate run by run (direct, gateway, pgbouncer, direct, …) so that
 * a slow patch on this shared machine hits all of them alike rather than one configuration's whole set.
 */
export const ROUND: readonly Scenario[] = [
  throughput('direct', 'simple'),
  throughput('gateway', 'simple'),
  throughput('pgbouncer', 'simple'),
  throughput('gateway-policy', 'simple'),
  throughput('direct', 'prepared'),
  throughput('gateway', 'prepared'),
  throughput('pgbouncer', 'prepared'),
  throughput('gateway-policy', 'prepared'),
  throughput('gateway', 'simple', 'require'),
  throughput('gateway-strict', 'simple'),
  throughput('gateway-strict', 'prepared'),
  throughput('gateway-cluster', 'simple'),
  throughput('gateway-cluster', 'prepared'),
  // pgbouncer at one client is not a target; it shows what any extra hop costs on this machine.
  oneClient('direct', 'simple'),
  oneClient('gateway', 'simple'),
  oneClient('gateway-policy', 'simple'),
  oneClient('pgbouncer', 'simple'),
  oneClient('direct', 'prepared'),
  oneClient('gateway', 'prepared'),
  oneClient('gateway-policy', 'prepared'),
  oneClient('pgbouncer', 'prepared'),
];

/**
 * With a baseline build: this build and the baseline, run after run, under both grants and both
 * protocols, so each pair meets the same moment of a shared machine. At 8 clients, and at 1: one
 * client's CPU per transaction does not move with how many messages each read happens to carry,
 * so it tells a few per cent apart where 8 clients' cannot on a shared 2-core machine.
 */
export const BASELINE_ROUND: readonly Scenario[] = (['simple', 'prepared'] as const).flatMap((protocol) => [
  throughput('gateway', protocol),
  throughput('baseline', protocol),
  throughput('gateway-policy', protocol),
  throughput('baseline-policy', protocol),
  oneClient('gateway', protocol),
  oneClient('baseline', protocol),
  oneClient('gateway-policy', protocol),
  oneClient('baseline-policy', protocol),
]);
