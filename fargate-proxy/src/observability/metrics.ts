/**
 * The gateway's counters, per process. The primary sums workers' snapshots for /metrics and the
 * CloudWatch embedded-metric log lines.
 */

/** Upper bounds (seconds) of the statement latency histogram buckets. */
export const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export interface MetricsSnapshot {
  connectionsAccepted: number;
  connectionsActive: number;
  connectionsRejected: number;
  authFailures: number;
  statements: number;
  refusals: number;
  errors: number;
  protocolErrors: number;
  cancelRequests: number;
  policyReloadFailures: number;
  /** Statements refused because their strict audit record could not be stored. */
  auditStrictFailures: number;
  /** Failed writes of the audit spool (records wait in memory and are retried). */
  auditSpoolFailures: number;
  /** Sealed audit files waiting to be shipped to the store (a gauge). */
  auditShipBacklog: number;
  /** Audit events dropped from the CloudWatch Logs copy while it was unreachable. */
  auditCloudWatchDropped: number;
  /** Self-checks of the signed files waiting on the local disk, and what they found changed or gone. */
  auditSelfChecks: number;
  auditSelfCheckProblems: number;
  /** Approval requests opened. */
  approvalsRequested: number;
  /** Statements held on the wire for approval now (a gauge). */
  approvalsHeld: number;
  /** Approval requests this gateway's sessions saw end, by how (each counted once, by its session). */
  approvalsApproved: number;
  approvalsDenied: number;
  approvalsTimedOut: number;
  approvalsCancelled: number;
  bytesFromClients: number;
  bytesToClients: number;
  /** Cumulative counts per LATENCY_BUCKETS entry, plus one for +Inf. */
  latencyBuckets: number[];
  latencySum: number;
  latencyCount: number;
}

export function emptySnapshot(): MetricsSnapshot {
  return {
    connectionsAccepted: 0,
    connectionsActive: 0,
    connectionsRejected: 0,
    authFailures: 0,
    statements: 0,
    refusals: 0,
    errors: 0,
    protocolErrors: 0,
    cancelRequests: 0,
    policyReloadFailures: 0,
    auditStrictFailures: 0,
    auditSpoolFailures: 0,
    auditShipBacklog: 0,
    auditCloudWatchDropped: 0,
    auditSelfChecks: 0,
    auditSelfCheckProblems: 0,
    approvalsRequested: 0,
    approvalsHeld: 0,
    approvalsApproved: 0,
    approvalsDenied: 0,
    approvalsTimedOut: 0,
    approvalsCancelled: 0,
    bytesFromClients: 0,
    bytesToClients: 0,
    latencyBuckets: new Array(LATENCY_BUCKETS.length + 1).fill(0),
    latencySum: 0,
    latencyCount: 0,
  };
}

export class Metrics {
  readonly data: MetricsSnapshot = emptySnapshot();

  observeLatency(seconds: number): void {
    const d = this.data;
    d.latencySum += seconds;
    d.latencyCount++;
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
    d.latencyBuckets[i]!++;
  }

  snapshot(): MetricsSnapshot {
    return { ...this.data, latencyBuckets: [...this.data.latencyBuckets] };
  }
}

export function sumSnapshots(snapshots: readonly MetricsSnapshot[]): MetricsSnapshot {
  const total = emptySnapshot();
  for (const s of snapshots) {
    for (const key of Object.keys(total) as Array<keyof MetricsSnapshot>) {
      if (key === 'latencyBuckets') continue;
      (total[key] as number) += s[key] as number;
    }
    s.latencyBuckets.forEach((count, i) => {
      total.latencyBuckets[i]! += count;
    });
  }
  return total;
}

const COUNTERS: Array<[keyof MetricsSnapshot, string, string, 'counter' | 'gauge']> = [
  ['connectionsAccepted', 'gatehouse_connections_accepted_total', 'Client connections accepted', 'counter'],
  ['connectionsActive', 'gatehouse_connections_active', 'Client sessions open now', 'gauge'],
  [
    'connectionsRejected',
    'gatehouse_connections_rejected_total',
    'Connections refused before a session began',
    'counter',
  ],
  ['authFailures', 'gatehouse_auth_failures_total', 'Tokens rejected', 'counter'],
  ['statements', 'gatehouse_statements_total', 'Statements executed (Query and Execute messages)', 'counter'],
  ['refusals', 'gatehouse_refusals_total', 'Statements refused by the gateway', 'counter'],
  ['errors', 'gatehouse_errors_total', 'ErrorResponses sent to clients', 'counter'],
  [
    'protocolErrors',
    'gatehouse_protocol_errors_total',
    'Connections closed for malformed messages',
    'counter',
  ],
  ['cancelRequests', 'gatehouse_cancel_requests_total', 'Cancel requests received', 'counter'],
  [
    'policyReloadFailures',
    'gatehouse_policy_reload_failures_total',
    'Policy file changes that did not load (the previous policy stayed in force)',
    'counter',
  ],
  [
    'auditStrictFailures',
    'gatehouse_audit_strict_failures_total',
    'Statements refused because their strict audit record could not be stored (alarm on any)',
    'counter',
  ],
  [
    'auditSpoolFailures',
    'gatehouse_audit_spool_failures_total',
    'Failed writes of the audit spool (records are kept and retried; alarm on any)',
    'counter',
  ],
  [
    'auditShipBacklog',
    'gatehouse_audit_ship_backlog_files',
    'Sealed audit files waiting to be shipped to the store (alarm when it keeps growing)',
    'gauge',
  ],
  [
    'auditCloudWatchDropped',
    'gatehouse_audit_cloudwatch_dropped_total',
    'Audit events dropped from the CloudWatch Logs copy while it was unreachable (the S3 store keeps them)',
    'counter',
  ],
  [
    'auditSelfChecks',
    'gatehouse_audit_self_checks_total',
    'Self-checks of signed files not yet shipped',
    'counter',
  ],
  [
    'auditSelfCheckProblems',
    'gatehouse_audit_self_check_problems_total',
    'Signed files found changed or missing before shipping by the self-check (alarm on any)',
    'counter',
  ],
  ['approvalsRequested', 'gatehouse_approvals_requested_total', 'Approval requests opened', 'counter'],
  ['approvalsHeld', 'gatehouse_approvals_held', 'Statements held on the wire for approval now', 'gauge'],
  [
    'approvalsApproved',
    'gatehouse_approvals_approved_total',
    'Approval requests that ended approved',
    'counter',
  ],
  ['approvalsDenied', 'gatehouse_approvals_denied_total', 'Approval requests that ended denied', 'counter'],
  ['approvalsTimedOut', 'gatehouse_approvals_timed_out_total', 'Approval requests that timed out', 'counter'],
  [
    'approvalsCancelled',
    'gatehouse_approvals_cancelled_total',
    'Approval requests withdrawn by their client (cancel or disconnect)',
    'counter',
  ],
  ['bytesFromClients', 'gatehouse_client_bytes_received_total', 'Bytes received from clients', 'counter'],
  ['bytesToClients', 'gatehouse_client_bytes_sent_total', 'Bytes sent to clients', 'counter'],
];

/** Prometheus text exposition format 0.0.4. */
export function toPrometheus(s: MetricsSnapshot): string {
  const lines: string[] = [];
  for (const [key, name, help, type] of COUNTERS) {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${s[key] as number}`);
  }
  const name = 'gatehouse_statement_duration_seconds';
  lines.push(
    `# HELP ${name} Time from a client request to the server's ReadyForQuery`,
    `# TYPE ${name} histogram`,
  );
  let cumulative = 0;
  LATENCY_BUCKETS.forEach((bound, i) => {
    cumulative += s.latencyBuckets[i]!;
    lines.push(`${name}_bucket{le="${bound}"} ${cumulative}`);
  });
  cumulative += s.latencyBuckets[LATENCY_BUCKETS.length]!;
  lines.push(
    `${name}_bucket{le="+Inf"} ${cumulative}`,
    `${name}_sum ${s.latencySum}`,
    `${name}_count ${s.latencyCount}`,
  );
  return `${lines.join('\n')}\n`;
}

/**
 * One CloudWatch embedded-metric-format record: logged as a JSON line, CloudWatch Logs turns it into
 * metrics without an API call. Counters are reported as deltas since the previous record.
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */
export function toEmbeddedMetric(
  current: MetricsSnapshot,
  previous: MetricsSnapshot,
  now = Date.now(),
): Record<string, unknown> {
  const delta = (key: keyof MetricsSnapshot) => (current[key] as number) - (previous[key] as number);
  const latencyCount = current.latencyCount - previous.latencyCount;
  const values = {
    Connections: current.connectionsActive,
    ConnectionsAccepted: delta('connectionsAccepted'),
    AuthFailures: delta('authFailures'),
    Statements: delta('statements'),
    Refusals: delta('refusals'),
    Errors: delta('errors'),
    ProtocolErrors: delta('protocolErrors'),
    ApprovalsRequested: delta('approvalsRequested'),
    ApprovalsPending: current.approvalsHeld,
    ApprovalsApproved: delta('approvalsApproved'),
    ApprovalsDenied: delta('approvalsDenied'),
    ApprovalsTimedOut: delta('approvalsTimedOut'),
    ApprovalsCancelled: delta('approvalsCancelled'),
    AuditBacklog: current.auditShipBacklog,
    AuditFailures: delta('auditStrictFailures') + delta('auditSpoolFailures'),
    AuditSelfCheckProblems: delta('auditSelfCheckProblems'),
    BytesIn: delta('bytesFromClients'),
    BytesOut: delta('bytesToClients'),
    AverageLatency: latencyCount > 0 ? ((current.latencySum - previous.latencySum) / latencyCount) * 1000 : 0,
  };
  const unit = (name: string) =>
    name.startsWith('Bytes') ? 'Bytes' : name === 'AverageLatency' ? 'Milliseconds' : 'Count';
  return {
    _aws: {
      Timestamp: now,
      CloudWatchMetrics: [
        {
          Namespace: 'Gatehouse',
          Dimensions: [['Service']],
          Metrics: Object.keys(values).map((Name) => ({ Name, Unit: unit(Name) })),
        },
      ],
    },
    Service: 'gateway',
    ...values,
  };
}
