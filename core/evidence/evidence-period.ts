import type { EvidencePeriod } from './evidence-package';

/**
 * The period of an export, `[from, to)`: a record belongs to it when its `time` is at or after `from`
 * and before `to`. A date alone (`2026-03-01`) is midnight UTC of that day, so `--from 2026-03-01 --to
 * 2026-04-01` is the month of March. A time must carry its zone (`Z` or `+02:00`): a time without one
 * would depend on the machine the export runs on.
 */
export class PeriodError extends Error {
  override readonly name = 'PeriodError';
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/;

/** Microseconds since the epoch of an ISO 8601 date or date-time with zone. */
export function parseInstant(text: string, what: string): number {
  const trimmed = text.trim();
  if (DATE.test(trimmed)) {
    const ms = Date.parse(`${trimmed}T00:00:00Z`);
    if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== trimmed)
      throw new PeriodError(`${what}: ${text} is not a date`);
    return ms * 1000;
  }
  if (!DATE_TIME.test(trimmed)) {
    throw new PeriodError(
      `${what}: expected a date (2026-03-01) or a time with its zone (2026-03-01T08:00:00Z), got "${text}"`,
    );
  }
  const ms = Date.parse(trimmed);
  if (Number.isNaN(ms)) throw new PeriodError(`${what}: ${text} is not a valid time`);
  // Date keeps milliseconds; microseconds given beyond them are kept here.
  const fraction = /\.(\d{1,6})/.exec(trimmed)?.[1] ?? '';
  const extraMicros = fraction.length > 3 ? Number(fraction.padEnd(6, '0').slice(3)) : 0;
  return ms * 1000 + extraMicros;
}

export function parsePeriod(from: string, to: string): EvidencePeriod {
  const fromMicros = parseInstant(from, '--from');
  const toMicros = parseInstant(to, '--to');
  if (toMicros <= fromMicros) throw new PeriodError(`--to (${to}) must be after --from (${from})`);
  return { from, to, fromMicros, toMicros };
}

export function inPeriod(period: EvidencePeriod, time: number): boolean {
  return time >= period.fromMicros && time < period.toMicros;
}

/** The UTC day of a time in microseconds (`2026-03-01`). */
export function utcDayOf(micros: number): string {
  return new Date(Math.floor(micros / 1000)).toISOString().slice(0, 10);
}
