/**
 * Counts failed authentications per source address in a fixed window. A source over the limit is
 * refused before its token is even looked at, until its window ends: guessing or replaying tokens
 * costs the gateway nothing and gets nowhere.
 */
export class FailureThrottle {
  private readonly failures = new Map<string, { count: number; since: number }>();

  constructor(
    private readonly maxFailures: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  blocked(source: string): boolean {
    const entry = this.failures.get(source);
    if (!entry) return false;
    if (this.now() - entry.since >= this.windowMs) {
      this.failures.delete(source);
      return false;
    }
    return entry.count >= this.maxFailures;
  }

  record(source: string): void {
    const now = this.now();
    const entry = this.failures.get(source);
    if (entry && now - entry.since < this.windowMs) {
      entry.count++;
      return;
    }
    // Bounded under a flood of distinct sources: old windows are dropped first.
    if (this.failures.size >= 100_000) {
      for (const [key, value] of this.failures)
        if (now - value.since >= this.windowMs) this.failures.delete(key);
      if (this.failures.size >= 100_000) this.failures.clear();
    }
    this.failures.set(source, { count: 1, since: now });
  }
}
