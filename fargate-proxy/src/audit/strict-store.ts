/**
 * What a `strict` statement leaves in the shared store before it is forwarded: who, where, what, when.
 * Its outcome follows in the ordinary (buffered) statement record of the session's chain.
 */
export interface StrictItem {
  session: string;
  /** Position of the statement among the session's strict items, from 0. */
  index: number;
  writer: string;
  /** Microseconds since the epoch. */
  time: number;
  issuer: string;
  subject: string;
  database: string;
  command: string;
  class: string;
  /** Redacted like the audit record's. */
  text: string;
  textSha256: string;
}

/** A store that acknowledges only what it holds durably, beyond the loss of this instance. */
export interface StrictStore {
  /** Resolves once the items are durable; rejects (with why) when they cannot be made so. */
  put(items: readonly StrictItem[]): Promise<void>;
}

export class StrictStoreError extends Error {}

/**
 * Group commit in front of a store: every item asked for during one turn of the event loop goes in one
 * write; items that arrive while a write is under way go in the next. Each caller waits at most
 * `timeoutMs` for its acknowledgement.
 */
export class GroupCommit {
  private queued: { items: readonly StrictItem[]; settle: (error?: Error) => void }[] = [];
  private writing = false;
  private scheduled = false;

  constructor(
    private readonly write: (items: StrictItem[]) => Promise<void>,
    private readonly timeoutMs: number,
  ) {}

  put(items: readonly StrictItem[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        done = true;
        reject(new StrictStoreError(`the audit store did not acknowledge within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.queued.push({
        items,
        settle: (error) => {
          clearTimeout(timer);
          if (done) return;
          done = true;
          if (error) reject(error);
          else resolve();
        },
      });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.writing || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    const batch = this.queued;
    if (batch.length === 0) return;
    this.queued = [];
    this.writing = true;
    let failure: Error | undefined;
    try {
      await this.write(batch.flatMap((entry) => entry.items));
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error));
    }
    this.writing = false;
    for (const entry of batch) entry.settle(failure);
    this.schedule();
  }
}
