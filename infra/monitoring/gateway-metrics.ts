/**
 * The CloudWatch metrics the gateway emits as embedded-metric-format log lines
 * (fargate-proxy/src/observability/metrics.ts `toEmbeddedMetric`): namespace `Gatehouse`, one
 * dimension `Service=gateway`, one record per task every `health.emfIntervalMs` (60 s by default).
 * Counters are deltas since the task's previous record, gauges are the task's value at the time.
 *
 * `statistic` is how the dashboard and alarms aggregate the tasks' records: Sum for counters; for
 * gauges Sum (per period of one EMF interval, the total over tasks) or Maximum (the worst task).
 */
export const GATEWAY_METRICS = {
  Connections: { kind: 'gauge', statistic: 'Sum', unit: 'Count', label: 'Open sessions' },
  ConnectionsAccepted: { kind: 'counter', statistic: 'Sum', unit: 'Count', label: 'Connections accepted' },
  AuthFailures: { kind: 'counter', statistic: 'Sum', unit: 'Count', label: 'Tokens rejected' },
  Statements: { kind: 'counter', statistic: 'Sum', unit: 'Count', label: 'Statements' },
  Refusals: { kind: 'counter', statistic: 'Sum', unit: 'Count', label: 'Refused by policy' },
  Errors: { kind: 'counter', statistic: 'Sum', unit: 'Count', label: 'ErrorResponses sent' },
  ProtocolErrors: {
    kind: 'counter',
    statistic: 'Sum',
    unit: 'Count',
    label: 'Closed for malformed messages',
  },
  ApprovalsRequested: { kind: 'counter', statistic: 'Sum', unit: 'Count', label: 'Approval requests opened' },
  ApprovalsPending: { kind: 'gauge', statistic: 'Sum', unit: 'Count', label: 'Statements held for approval' },
  ApprovalsApproved: { kind: 'counter', statistic: 'Sum', unit: 'Count', label: 'Requests approved' },
  ApprovalsDenied: { kind: 'counter', statistic: 'Sum', unit: 'Count', label: 'Requests denied' },
  ApprovalsTimedOut: { kind: 'counter', statistic: 'Sum', unit: 'Count', label: 'Requests timed out' },
  ApprovalsCancelled: {
    kind: 'counter',
    statistic: 'Sum',
    unit: 'Count',
    label: 'Requests withdrawn by their client',
  },
  AuditBacklog: { kind: 'gauge', statistic: 'Maximum', unit: 'Count', label: 'Sealed files not yet shipped' },
  AuditFailures: {
    kind: 'counter',
    statistic: 'Sum',
    unit: 'Count',
    label: 'Strict audit refusals + spool write failures',
  },
  AuditSelfCheckProblems: {
    kind: 'counter',
    statistic: 'Sum',
    unit: 'Count',
    label: 'Signed files changed before shipping',
  },
  BytesIn: { kind: 'counter', statistic: 'Sum', unit: 'Bytes', label: 'Bytes from clients' },
  BytesOut: { kind: 'counter', statistic: 'Sum', unit: 'Bytes', label: 'Bytes to clients' },
  AverageLatency: {
    kind: 'gauge',
    statistic: 'Average',
    unit: 'Milliseconds',
    label: 'Statement latency (mean of tasks)',
  },
} as const;

export type GatewayMetricName = keyof typeof GATEWAY_METRICS;

/** The namespace and dimension value the gateway writes (`toEmbeddedMetric`). */
export const GATEWAY_NAMESPACE = 'Gatehouse';
export const GATEWAY_SERVICE_DIMENSION = 'gateway';
