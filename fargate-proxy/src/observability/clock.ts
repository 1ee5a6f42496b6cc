/** Microseconds since the epoch, from the monotonic clock (audit records and recordings). */
export function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}
