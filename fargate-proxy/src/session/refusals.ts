import { randomBytes } from 'node:crypto';
import type { PgErrorFields } from '../protocol/error-fields';

/**
 * Refusing a statement without desynchronising the client: the refused statement is replaced by text
 * that the real server rejects at once (a syntax error naming a random marker). The server then does all
 * the protocol bookkeeping itself: the error lands at the statement's place in a pipeline, the rest up to
 * Sync is skipped, an open transaction is aborted, and ReadyForQuery carries the right status. The gateway
 * only recognises its marker in the server's ErrorResponse and swaps in its own error.
 *
 * A client cannot forge the marker: it is 128 random bits, fresh per refusal.
 */
export class PendingRefusals {
  private readonly pending = new Map<string, { fields: PgErrorFields; closesAtReady: number }>();

  get size(): number {
    return this.pending.size;
  }

  /**
   * Registers a refusal and returns the statement text to send instead.
   * @param closesAtReady the ReadyForQuery count after which the server can no longer report it
   *   (it skipped the statement because of an earlier error)
   */
  add(fields: PgErrorFields, closesAtReady: number): string {
    const marker = `gatehouse_refused_${randomBytes(16).toString('hex')}`;
    this.pending.set(marker, { fields, closesAtReady });
    return marker;
  }

  /** The gateway's error for a server error that reports one of our markers, or undefined. */
  take(serverMessage: string): PgErrorFields | undefined {
    const start = serverMessage.indexOf('gatehouse_refused_');
    if (start < 0) return undefined;
    const marker = serverMessage.slice(start, start + 'gatehouse_refused_'.length + 32);
    const entry = this.pending.get(marker);
    if (!entry) return undefined;
    this.pending.delete(marker);
    return entry.fields;
  }

  /** Forgets refusals the server skipped, once their batch is over. */
  settle(readyCount: number): void {
    for (const [marker, entry] of this.pending) {
      if (entry.closesAtReady <= readyCount) this.pending.delete(marker);
    }
  }
}
