import {
  emptySnapshot,
  Metrics,
  sumSnapshots,
  toEmbeddedMetric,
  toPrometheus,
} from '../../../fargate-proxy/src/observability/metrics';

describe('Metrics', () => {
  it('sums worker snapshots, histogram buckets included', () => {
    const a = new Metrics();
    const b = new Metrics();
    a.data.statements = 3;
    b.data.statements = 4;
    a.observeLatency(0.0004);
    b.observeLatency(0.3);
    const total = sumSnapshots([a.snapshot(), b.snapshot()]);
    expect(total.statements).toBe(7);
    expect(total.latencyCount).toBe(2);
    expect(total.latencyBuckets[0]).toBe(1);
    expect(total.latencyBuckets.reduce((x, y) => x + y, 0)).toBe(2);
  });

  it('renders a cumulative Prometheus histogram', () => {
    const m = new Metrics();
    m.observeLatency(0.002);
    m.observeLatency(20);
    const text = toPrometheus(m.snapshot());
    expect(text).toContain('gatehouse_statement_duration_seconds_bucket{le="0.001"} 0');
    expect(text).toContain('gatehouse_statement_duration_seconds_bucket{le="0.0025"} 1');
    expect(text).toContain('gatehouse_statement_duration_seconds_bucket{le="10"} 1');
    expect(text).toContain('gatehouse_statement_duration_seconds_bucket{le="+Inf"} 2');
    expect(text).toContain('gatehouse_statement_duration_seconds_count 2');
  });

  it('writes CloudWatch embedded-metric records with deltas since the previous one', () => {
    const previous = emptySnapshot();
    previous.statements = 10;
    const current = {
      ...emptySnapshot(),
      statements: 25,
      connectionsActive: 3,
      latencySum: 0.03,
      latencyCount: 15,
    };
    const record = toEmbeddedMetric(current, previous, 1_700_000_000_000) as Record<string, unknown> & {
      _aws: {
        Timestamp: number;
        CloudWatchMetrics: Array<{ Namespace: string; Metrics: Array<{ Name: string; Unit: string }> }>;
      };
    };
    expect(record._aws.Timestamp).toBe(1_700_000_000_000);
    expect(record._aws.CloudWatchMetrics[0]!.Namespace).toBe('Gatehouse');
    expect(record.Statements).toBe(15);
    expect(record.Connections).toBe(3);
    expect(record.AverageLatency).toBeCloseTo(2);
    // Every value named in the directive is present in the record, as the format requires.
    for (const { Name } of record._aws.CloudWatchMetrics[0]!.Metrics)
      expect(typeof record[Name]).toBe('number');
  });
});
