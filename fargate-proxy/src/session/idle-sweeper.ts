/** A session that the sweeper asks, once per tick, whether it has been idle too long. */
export interface IdleCandidate {
  checkIdle(tick: number): void;
}

/**
 * Idle detection for every session of a process with one coarse timer. A per-socket timeout would be
 * re-armed on every read and write (four times per transaction); here a session only copies the current
 * tick number when it sees traffic, and the sweeper compares ticks. Resolution: `tickMs`.
 */
export class IdleSweeper {
  tick = 0;
  private readonly candidates = new Set<IdleCandidate>();
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly tickMs: number) {}

  /** One tick per eighth of the timeout, between 25 ms and 1 s. */
  static forTimeout(idleTimeoutMs: number): IdleSweeper {
    return new IdleSweeper(Math.min(1000, Math.max(25, Math.floor(idleTimeoutMs / 8))));
  }

  add(candidate: IdleCandidate): void {
    this.candidates.add(candidate);
    this.timer ??= setInterval(() => this.sweep(), this.tickMs).unref();
  }

  delete(candidate: IdleCandidate): void {
    this.candidates.delete(candidate);
    if (this.candidates.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private sweep(): void {
    this.tick++;
    for (const candidate of this.candidates) candidate.checkIdle(this.tick);
  }
}
