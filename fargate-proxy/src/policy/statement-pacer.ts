/**
 * Paces statements per identity with a token bucket (burst = one second's worth): a statement over the
 * rate is held until its turn rather than refused, so well-behaved clients just slow down. Shared by all
 * sessions of the process.
 */
export class StatementPacer {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Undefined when the statement may go now; otherwise a promise that resolves at its turn. */
  wait(key: string, perSecond: number): Promise<void> | undefined {
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { tokens: perSecond, at: now };
      this.buckets.set(key, bucket);
      if (this.buckets.size > 100_000) this.buckets.clear(); // bounded; forgetting only forgives
    }
    bucket.tokens = Math.min(perSecond, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
    bucket.at = now;
    bucket.tokens -= 1;
    if (bucket.tokens >= 0) return undefined;
    const delayMs = (-bucket.tokens / perSecond) * 1000;
    return new Promise((resolve) => setTimeout(resolve, delayMs));
  }
}
