import type { Duplex } from 'node:stream';
import type { RelayAudit } from '../audit/relay-audit';
import type { Metrics } from '../observability/metrics';

/**
 * The bytes a session sends its client, in order. With the audit on, bytes that carry a statement's
 * outcome wait until its record is in the spool (written once for all sessions at the end of this
 * event-loop turn), and everything after them waits behind them, so the client never learns of an
 * unrecorded statement. A client that cannot keep up pauses the upstream until it drains.
 */
export class ClientOutput {
  /** Bytes waiting for the audit spool, in order; null when nothing waits. */
  private heldForSpool: Buffer[] | null = null;
  private upstreamPaused = false;

  constructor(
    private readonly client: Duplex,
    private readonly upstream: Duplex,
    private readonly metrics: Metrics,
    private readonly audit: RelayAudit | undefined,
  ) {}

  /** Whether bytes wait for the spool (a message of the gateway's own must not overtake them). */
  get waiting(): boolean {
    return this.heldForSpool !== null;
  }

  /** Bytes the server sent (after the conversation's changes). */
  send(bytes: Buffer): void {
    this.metrics.data.bytesToClients += bytes.length;
    const { audit } = this;
    if (audit) {
      const mustWait = audit.toClient(bytes);
      if (this.heldForSpool !== null) {
        // Copied: chunks may be views of a reused read buffer.
        this.heldForSpool.push(Buffer.from(bytes));
        return;
      }
      if (mustWait) {
        this.heldForSpool = [Buffer.from(bytes)];
        audit.afterSpool(this.releaseHeld);
        return;
      }
    }
    this.write(bytes);
  }

  private readonly releaseHeld = (): void => {
    const held = this.heldForSpool;
    this.heldForSpool = null;
    if (held === null || this.client.destroyed) return;
    for (const bytes of held) this.write(bytes);
  };

  /** Before the gateway writes to the client itself or closes: what waits goes out first, recorded. */
  releaseNow(): void {
    if (this.heldForSpool === null) return;
    this.audit?.flushSpool();
    this.releaseHeld();
  }

  /** Writes at once (a message of the gateway's own, or bytes whose wait is over). */
  write(bytes: Buffer): void {
    const { upstream, client } = this;
    if (!client.write(bytes) && !this.upstreamPaused) {
      this.upstreamPaused = true;
      upstream.pause();
      client.once('drain', () => {
        this.upstreamPaused = false;
        upstream.resume();
      });
    }
  }
}
