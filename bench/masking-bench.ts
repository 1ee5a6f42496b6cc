import { type RowStreamTarget, streamRows } from './row-stream';

/**
 * Issue 5's target: a 10,000-row result with two masked columns (one partial, one token), in text
 * and binary result formats, through the gateway with masking on and with it off (the same grant
 * otherwise), interleaved round by round; rows per second and their ratio.
 */
export const MASKING_QUERY = 'SELECT id, name, ssn, card FROM masking_bench';
export const MASKING_TABLE_SQL = `CREATE TABLE masking_bench AS
  SELECT g AS id, 'customer ' || g AS name,
         lpad((g % 1000)::text, 3, '0') || '-45-' || lpad(g::text, 4, '0') AS ssn,
         (4000000000000000 + g * 7919)::text AS card
  FROM generate_series(1, 10000) g`;

export interface MaskingRun {
  round: number;
  format: 'text' | 'binary';
  masking: 'on' | 'off';
  rowsPerSecond: number;
}

export interface MaskingSummary {
  text: { on: number; off: number; ratio: number };
  binary: { on: number; off: number; ratio: number };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export async function runMaskingRounds(
  targets: { on: () => RowStreamTarget; off: () => RowStreamTarget },
  rounds: number,
  seconds: number,
  say: (line: string) => void,
): Promise<MaskingRun[]> {
  const runs: MaskingRun[] = [];
  // Warm: the plan is traced and cached, the JIT has seen the row path.
  for (const masking of ['on', 'off'] as const) await streamRows(targets[masking](), MASKING_QUERY, 0, 1);
  for (let round = 1; round <= rounds; round++) {
    for (const format of ['text', 'binary'] as const) {
      for (const masking of ['on', 'off'] as const) {
        const result = await streamRows(
          targets[masking](),
          MASKING_QUERY,
          format === 'text' ? 0 : 1,
          seconds,
        );
        const rowsPerSecond = result.rows / result.seconds;
        runs.push({ round, format, masking, rowsPerSecond });
        say(
          `round ${round}/${rounds}  masking ${masking.padEnd(3)} ${format.padEnd(6)} ${Math.round(rowsPerSecond).toLocaleString('en-US')} rows/s`,
        );
      }
    }
  }
  return runs;
}

export function summarizeMasking(runs: MaskingRun[]): MaskingSummary {
  const of = (format: 'text' | 'binary') => {
    const pick = (masking: 'on' | 'off') =>
      median(runs.filter((r) => r.format === format && r.masking === masking).map((r) => r.rowsPerSecond));
    const on = pick('on');
    const off = pick('off');
    return { on, off, ratio: on / off };
  };
  return { text: of('text'), binary: of('binary') };
}

export function formatMaskingReport(summary: MaskingSummary): string {
  const row = (label: string, s: MaskingSummary['text']) =>
    `${label.padEnd(8)} ${Math.round(s.on).toLocaleString('en-US').padStart(12)} ${Math.round(s.off).toLocaleString('en-US').padStart(12)} ${s.ratio.toFixed(2).padStart(7)}   issue 5 ≥ 0.9: ${s.ratio >= 0.9 ? 'met' : 'MISSED'}`;
  return [
    '',
    'Masking: 10,000-row result, 2 of 4 columns masked (partial, token), 1 client, rows/s (medians)',
    '         masking on  masking off   ratio',
    row('text', summary.text),
    row('binary', summary.binary),
  ].join('\n');
}
