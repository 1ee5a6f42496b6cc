import { z } from 'zod';
import type { EvidencePeriod } from '../../core/evidence/evidence-package';
import { PeriodError, parsePeriod } from '../../core/evidence/evidence-period';
import type { ScheduledPeriod } from './config';

/**
 * What the export function is invoked with:
 *
 * - the EventBridge rule's scheduled event (`"source": "aws.events"`, `"detail-type": "Scheduled
 *   Event"`): the period is the full UTC day (or month, SCHEDULED_PERIOD) before the event's `time`,
 *   the time it was scheduled for, so a retried or late delivery exports the same period;
 * - on demand (`aws lambda invoke`): `{"from": "2026-11-01", "to": "2026-11-08"}`, dates (midnight
 *   UTC) or times with their zone, `[from, to)`; `"rerun": true` writes a new package for a period that
 *   already has one (the earlier one stays: the bucket is locked).
 */
export interface ExportRequest {
  readonly trigger: 'schedule' | 'on-demand';
  readonly period: EvidencePeriod;
  /** Write another package when the period already has a complete one. */
  readonly rerun: boolean;
}

/** The event is not one the function understands; the message says what it expects. */
export class ExportEventError extends Error {
  override readonly name = 'ExportEventError';
}

export const ON_DEMAND_SHAPE = '{"from": "2026-11-01", "to": "2026-11-02"} (optionally "rerun": true)';

const scheduledEvent = z.object({
  source: z.literal('aws.events'),
  'detail-type': z.literal('Scheduled Event'),
  time: z.string().datetime({ offset: true }),
});

const onDemandEvent = z
  .object({
    from: z.string().min(1).max(40),
    to: z.string().min(1).max(40),
    rerun: z.boolean().default(false),
  })
  .strict();

const DAY_MS = 86_400_000;

/** `YYYY-MM-DD` of a UTC instant in milliseconds. */
function utcDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The full UTC day or calendar month that ended at or before `scheduled` (ms). */
export function scheduledPeriod(scheduled: number, unit: ScheduledPeriod): EvidencePeriod {
  const at = new Date(scheduled);
  const end =
    unit === 'day'
      ? Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate())
      : Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1);
  const start =
    unit === 'day'
      ? end - DAY_MS
      : Date.UTC(new Date(end).getUTCFullYear(), new Date(end).getUTCMonth() - 1, 1);
  return parsePeriod(utcDate(start), utcDate(end));
}

/**
 * The request an event stands for, or an ExportEventError naming what is wrong and the shape
 * expected. A period that has not ended by `now` (ms) is refused: a package is written once per
 * period, so one written early would stand in for the whole period.
 */
export function exportRequest(event: unknown, unit: ScheduledPeriod, now: number): ExportRequest {
  const scheduled = scheduledEvent.safeParse(event);
  if (scheduled.success) {
    return {
      trigger: 'schedule',
      period: scheduledPeriod(Date.parse(scheduled.data.time), unit),
      rerun: false,
    };
  }
  const onDemand = onDemandEvent.safeParse(event);
  if (!onDemand.success) {
    const problems = onDemand.error.issues
      .map((issue) => `${issue.path.join('.') || 'event'}: ${issue.message}`)
      .join('; ');
    throw new ExportEventError(
      `the event is neither an EventBridge scheduled event nor ${ON_DEMAND_SHAPE}: ${problems}`,
    );
  }
  let period: EvidencePeriod;
  try {
    period = parsePeriod(onDemand.data.from, onDemand.data.to);
  } catch (error) {
    if (error instanceof PeriodError)
      throw new ExportEventError(error.message.replace(/--(from|to)\b/g, '$1'));
    throw error;
  }
  if (period.toMicros > now * 1000) {
    throw new ExportEventError(
      `to (${onDemand.data.to}) is in the future: a package covers a period that has ended; ` +
        'export up to now or an earlier time',
    );
  }
  return { trigger: 'on-demand', period, rerun: onDemand.data.rerun };
}

/** A UTC instant (µs) as a key segment: `2026-11-01` at midnight, else `2026-11-01T083000Z`. */
function instantLabel(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const rest = micros - ms * 1000;
  if (rest === 0 && ms % DAY_MS === 0) return utcDate(ms);
  const iso = new Date(ms).toISOString(); // 2026-11-01T08:30:00.123Z
  const seconds = iso.slice(0, 19).replace(/:/g, '');
  const fraction = `${iso.slice(20, 23)}${rest === 0 ? '' : String(rest).padStart(3, '0')}`.replace(
    /0+$/,
    '',
  );
  return `${seconds}${fraction ? `.${fraction}` : ''}Z`;
}

/**
 * The key segment of a period, `<from>_<to>` in UTC: the same period written differently
 * (`2026-11-01`, `2026-11-01T02:00:00+02:00`) is the same segment, so a period has one place.
 */
export function periodLabel(period: EvidencePeriod): string {
  return `${instantLabel(period.fromMicros)}_${instantLabel(period.toMicros)}`;
}
