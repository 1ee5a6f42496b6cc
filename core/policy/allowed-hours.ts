import type { AllowedHours } from './compiled-policy';
import type { Weekday } from './schema';

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timezone: string): Intl.DateTimeFormat {
  let format = formatters.get(timezone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timezone, format);
  }
  return format;
}

/**
 * Whether `at` falls within the allowed hours, read on the wall clock of their time zone. A window
 * whose end is before its start runs over midnight (22:00–06:00), and its day is the day it starts.
 */
export function withinAllowedHours(hours: AllowedHours, at: Date): boolean {
  const parts = formatter(hours.timezone).formatToParts(at);
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  const day = part('weekday').toLowerCase().slice(0, 3) as Weekday;
  const minute = Number(part('hour')) * 60 + Number(part('minute'));
  if (hours.from <= hours.to) return hours.days.has(day) && minute >= hours.from && minute < hours.to;
  if (minute >= hours.from) return hours.days.has(day);
  return hours.days.has(previousDay(day)) && minute < hours.to;
}

const ORDER: readonly Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

function previousDay(day: Weekday): Weekday {
  return ORDER[(ORDER.indexOf(day) + ORDER.length - 1) % ORDER.length]!;
}
