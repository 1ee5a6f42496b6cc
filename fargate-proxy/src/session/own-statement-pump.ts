import { FrontendCode } from '../protocol/codes';
import { type OwnResult, type OwnStatementRunner, OwnStatements } from './own-statements';

/** What the pump needs of the relay around it. */
export interface OwnStatementPort {
  closed(): boolean;
  /** The client's stream is held at a statement (the one whose judgement asks). */
  clientHeld(): boolean;
  /** Type byte of the last counted client message passed on (see MessageFramer.lastCountedCode). */
  lastClientMessage(): number;
  /** Client requests sent whose ReadyForQuery has not come back. */
  outstanding(): number;
  /** The status byte of the server's last ReadyForQuery. */
  transactionStatus(): number;
  /** Hands every server message to the relay until the function returned is called. */
  inspectEverything(): () => void;
  toUpstream(bytes: Buffer): void;
}

/** Extended-protocol messages that leave the server inside an exchange until the next Sync. */
const UNSYNCED: ReadonlySet<number> = new Set([
  FrontendCode.Parse,
  FrontendCode.Bind,
  FrontendCode.Describe,
  FrontendCode.Close,
  FrontendCode.Execute,
]);

/**
 * The I/O side of the gateway's own statements (OwnStatements is the pure side): sends each once the
 * server is between two of the client's requests, reads its answer out of the server's stream, and
 * keeps the client's stream held until the last one is over.
 *
 * The server is between two requests when every request it was sent has been answered and no
 * extended-protocol message was passed on since the last Sync. Inside an exchange, a statement of
 * the gateway's would end the exchange's implicit transaction: such a request is rejected, and the
 * caller fails closed.
 */
export class OwnStatementPump implements OwnStatementRunner {
  private readonly own = new OwnStatements();
  /** Puts back the server framer's inspection once an answer is read. */
  private restoreInspection: (() => void) | undefined;
  /** The release of the client's stream, waiting for the gateway's statements to end. */
  private afterOwn: (() => void) | undefined;

  constructor(private readonly port: OwnStatementPort) {}

  run(sql: string): Promise<OwnResult> {
    const result = this.own.request(sql);
    // Sent once the relay holds the statement that asked (it asks from within its judgement).
    queueMicrotask(this.send);
    return result;
  }

  /** A statement of the gateway's is on the server: every server message goes to `serverMessage`. */
  get active(): boolean {
    return this.own.active;
  }

  /** Whether the client's stream must wait: its release is kept and run when the last statement ends. */
  holdsRelease(release: () => void): boolean {
    if (!this.own.active && !this.own.queued) return false;
    this.afterOwn = release;
    return true;
  }

  /** A ReadyForQuery answered a client request: a statement waiting for the server to rest may go. */
  clientRequestAnswered(): void {
    if (this.own.queued) queueMicrotask(this.send);
  }

  /** A server message while a statement of the gateway's runs: its answers are kept from the client. */
  serverMessage(code: number, message: Buffer): Buffer | null | undefined {
    const reply = this.own.reply(code, message);
    if (reply.send) this.port.toUpstream(reply.send);
    if (reply.done) {
      this.restoreInspection?.();
      this.restoreInspection = undefined;
      if (this.own.queued) queueMicrotask(this.send);
      else this.releaseClient();
    }
    return reply.consumed ? null : undefined;
  }

  close(): void {
    this.own.rejectAll('the session ended');
  }

  private readonly send = (): void => {
    const { own, port } = this;
    if (port.closed() || own.active || !own.queued) return;
    if (!port.clientHeld()) {
      own.rejectQueued("the gateway runs its own statements only while a client's statement is held");
      return;
    }
    if (UNSYNCED.has(port.lastClientMessage())) {
      own.rejectQueued('the client is inside an extended-protocol exchange (no Sync since its last message)');
      this.releaseClient();
      return;
    }
    // Requests still on the server: sent at the ReadyForQuery that answers the last of them.
    if (port.outstanding() > 0) return;
    const bytes = own.start(port.transactionStatus());
    if (!bytes) {
      if (own.queued) this.send();
      else this.releaseClient();
      return;
    }
    this.restoreInspection = port.inspectEverything();
    port.toUpstream(bytes);
  };

  private releaseClient(): void {
    if (this.own.active || this.own.queued) return;
    const release = this.afterOwn;
    this.afterOwn = undefined;
    release?.();
  }
}
