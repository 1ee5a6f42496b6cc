import { formatBaselineReport, type Summary } from '../../bench/report';

/** Medians as summarize() leaves them, for the four configurations the baseline comparison reads. */
function summary(now: { tps: number; cpu: number }, before: { tps: number; cpu: number }): Summary {
  const medians: Summary['medians'] = {};
  for (const protocol of ['simple', 'prepared']) {
    for (const [target, figures] of [
      ['gateway', now],
      ['gateway-policy', now],
      ['baseline', before],
      ['baseline-policy', before],
    ] as const) {
      medians[`${target}/${protocol}/c8`] = {
        runs: 3,
        tps: figures.tps,
        latencyMs: 1,
        cpuUsPerTxn: figures.cpu,
      };
    }
  }
  return { medians } as Summary;
}

describe('formatBaselineReport', () => {
  it('prints nothing when no baseline ran', () => {
    expect(formatBaselineReport(summary({ tps: 1, cpu: 1 }, { tps: 1, cpu: 1 }), undefined)).toBe('');
  });

  it('meets the targets within 3 % of the baseline, and misses them beyond', () => {
    // GIVEN this build at 98 % of the baseline's TPS and 102 % of its CPU
    const close = formatBaselineReport(
      summary({ tps: 9800, cpu: 51 }, { tps: 10000, cpu: 50 }),
      '/b/gatehouse.js',
    );
    // THEN every row is met, and the ratios are shown
    expect(close).toContain('9,800 / 10,000 = 0.98');
    expect(close.match(/TPS ≥ 0.97: met; CPU ≤ 1.03: met/g)).toHaveLength(4);
    // GIVEN a 5 % loss of TPS and 10 % more CPU
    const worse = formatBaselineReport(
      summary({ tps: 9500, cpu: 55 }, { tps: 10000, cpu: 50 }),
      '/b/gatehouse.js',
    );
    expect(worse.match(/TPS ≥ 0.97: MISSED; CPU ≤ 1.03: MISSED/g)).toHaveLength(4);
  });
});
