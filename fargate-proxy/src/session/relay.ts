import type { Duplex } from 'node:stream';
import type { RelayAudit } from '../audit/relay-audit';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import { fatal, noticeResponse } from '../protocol/backend-messages';
import { BACKEND_SESSION_CODES, BackendCode, FRONTEND_SESSION_CODES, FrontendCode } from '../protocol/codes';
import { MessageTooLongError, ProtocolError } from '../protocol/errors';
import { MessageFramer } from '../protocol/message-framer';
import { ClientOutput } from './client-output';
import { Conversation, END, Hold } from './conversation';
import type { IdleCandidate, IdleSweeper } from './idle-sweeper';
import { clientMessagesInspected, serverMessagesInspected } from './inspected-messages';
import { OwnStatementPump } from './own-statement-pump';
import { PendingRefusals } from './refusals';
import { ServerReplies } from './server-replies';
import type { StatementGate } from './statement-gate';
import { Transaction } from './transaction';

export interface RelayLimits {
  maxClientMessageBytes: number;
  maxServerMessageBytes: number;
  idleTimeoutMs: number;
  /** How often a client whose statement waits for approval is reminded (a NoticeResponse). */
  approvalNoticeMs?: number;
}

export interface RelayOptions {
  client: Duplex;
  upstream: Duplex;
  limits: RelayLimits;
  gate?: StatementGate;
  metrics: Metrics;
  log: Logger;
  /** Ends sessions idle longer than `limits.idleTimeoutMs` (unless that is 0). */
  idle: IdleSweeper;
  /** When present, every executed statement becomes an audit record. */
  audit?: RelayAudit;
  /** Called once, with why the session ended. */
  onClose: (reason: string) => void;
}

const TERMINATE = Buffer.from([FrontendCode.Terminate, 0, 0, 0, 4]);

/**
 * The session's data path once both sides are authenticated: the I/O pump around the conversation.
 * Client and server bytes are framed in both directions but forwarded as received unless a message
 * must change (see MessageFramer); what changes, and why, the pure Conversation (client messages)
 * and ServerReplies (server messages) decide. The pump owns what they must not: sockets,
 * backpressure, holding a client's stream while a statement waits (with the notices it gets), timers,
 * and keeping results back until their audit records are in the spool.
 */
export class Relay implements IdleCandidate {
  private readonly clientFramer: MessageFramer;
  private readonly serverFramer: MessageFramer;
  private readonly conversation: Conversation;
  private readonly transaction = new Transaction();
  private readonly replies: ServerReplies;
  private busySince = 0;
  private closed = false;
  /** Set when the gateway itself ends the session (drain, idle); sent at the next server message boundary. */
  private endWith: Buffer | undefined;
  private clientTerminated = false;
  /** Sweeper tick of the last traffic in either direction. */
  private lastActive = 0;
  private clientPaused = false;
  private readonly output: ClientOutput;

  constructor(private readonly options: RelayOptions) {
    const { limits, gate, audit } = options;
    this.clientFramer = new MessageFramer({
      allowed: FRONTEND_SESSION_CODES,
      inspect: clientMessagesInspected(gate, audit),
      maxMessageLength: limits.maxClientMessageBytes,
      maxInspectedLength: limits.maxClientMessageBytes,
      onMessage: (code, message) => this.onClientMessage(code, message),
      // Parse, Bind, Describe and Close are counted so that the last one passed on is known (see
      // OwnStatementPump); requests and executions for the relay's own counts.
      counted: [
        FrontendCode.Query,
        FrontendCode.Sync,
        FrontendCode.Execute,
        FrontendCode.FunctionCall,
        FrontendCode.Parse,
        FrontendCode.Bind,
        FrontendCode.Describe,
        FrontendCode.Close,
      ],
      emit: (bytes) => this.toUpstream(bytes),
    });
    this.serverFramer = new MessageFramer({
      allowed: BACKEND_SESSION_CODES,
      inspect: serverMessagesInspected(gate, audit),
      maxMessageLength: limits.maxServerMessageBytes,
      maxInspectedLength: limits.maxServerMessageBytes,
      onMessage: (code, message) => this.onServerMessage(code, message),
      emit: (bytes) => this.output.send(bytes),
    });
    const { metrics, log } = options;
    this.output = new ClientOutput(options.client, options.upstream, metrics, audit);
    const refusals = new PendingRefusals();
    this.replies = new ServerReplies({
      gate,
      transaction: this.transaction,
      outstanding: () => this.outstanding,
      audit,
      metrics,
      refusals,
      inspectRows: (on) => {
        this.serverFramer.setInspected(BackendCode.DataRow, on);
        this.serverFramer.setInspected(BackendCode.CopyData, on);
      },
    });
    this.conversation = new Conversation({
      gate,
      transaction: this.transaction,
      audit,
      metrics,
      log,
      refusals,
      readyCount: () => this.replies.readyCount,
      outstanding: () => this.outstanding,
      inspectBinds: (on) => this.clientFramer.setInspected(FrontendCode.Bind, on),
      rowsChanged: () => this.replies.inspectRowsIfMasked(),
    });
  }

  /**
   * Runs the gateway's own statements on this session's upstream, while a client's statement is
   * held for its judgement: the client sees nothing of them (see OwnStatementPump).
   */
  get ownStatements(): OwnStatementPump {
    // Made on first use: most sessions never need one, and an idle session's memory counts.
    this.pump ??= new OwnStatementPump({
      closed: () => this.closed,
      clientHeld: () => this.clientFramer.suspended,
      lastClientMessage: () => this.clientFramer.lastCountedCode,
      outstanding: () => this.outstanding,
      transactionStatus: () => this.replies.transactionStatus,
      inspectEverything: () => this.serverFramer.inspectEverything(),
      toUpstream: (bytes) => this.toUpstream(bytes),
    });
    return this.pump;
  }

  private pump: OwnStatementPump | undefined;

  /** Whether the client's next statement runs inside a transaction block (see Transaction). */
  get inTransaction(): boolean {
    return this.transaction.inBlock;
  }

  /** Requests sent (Query, Sync, FunctionCall) whose ReadyForQuery has not come back. */
  private get outstanding(): number {
    const framer = this.clientFramer;
    return (
      framer.count(FrontendCode.Query) +
      framer.count(FrontendCode.Sync) +
      framer.count(FrontendCode.FunctionCall) -
      this.replies.readyCount
    );
  }

  /** Starts relaying; `clientPending`/`upstreamPending` are bytes each side sent before the relay existed. */
  start(clientPending: Buffer, upstreamPending: Buffer): void {
    const { client, upstream } = this.options;
    client.on('data', (chunk: Buffer) => this.fromClient(chunk));
    upstream.on('data', (chunk: Buffer) => this.fromUpstream(chunk));
    client.on('error', (error) => this.close('client error', error));
    upstream.on('error', (error) => this.close('upstream error', error));
    client.on('close', () => this.close('client closed'));
    client.on('end', () => this.close('client closed'));
    upstream.on('close', () => this.onUpstreamGone());
    upstream.on('end', () => this.onUpstreamGone());
    if (this.options.limits.idleTimeoutMs > 0) {
      this.lastActive = this.options.idle.tick;
      this.options.idle.add(this);
    }
    if (upstreamPending.length > 0) this.fromUpstream(upstreamPending);
    if (clientPending.length > 0) this.fromClient(clientPending);
    client.resume();
    upstream.resume();
  }

  /** Called by the sweeper: a session with a statement running is never idle, whatever the clock says. */
  checkIdle(tick: number): void {
    if (this.outstanding > 0 || this.busySince !== 0) {
      this.lastActive = tick;
      return;
    }
    const { idle, limits } = this.options;
    if ((tick - this.lastActive) * idle.tickMs >= limits.idleTimeoutMs) {
      this.terminate('57P05', 'terminating connection due to idle-session timeout');
    }
  }

  /** Query, Execute and FunctionCall messages forwarded so far: each runs a statement. */
  private statementsSent(): number {
    const framer = this.clientFramer;
    return (
      framer.count(FrontendCode.Query) +
      framer.count(FrontendCode.Execute) +
      framer.count(FrontendCode.FunctionCall)
    );
  }

  private fromClient(chunk: Buffer): void {
    if (this.closed) return;
    this.lastActive = this.options.idle.tick;
    this.options.metrics.data.bytesFromClients += chunk.length;
    this.options.audit?.fromClient(chunk.length);
    if (this.busySince === 0) this.busySince = performance.now();
    this.frameClientBytes(() => this.clientFramer.push(chunk));
  }

  /** Runs the client framer (push or resume), counting statements and handling violations. */
  private frameClientBytes(run: () => void): void {
    const before = this.statementsSent();
    try {
      run();
    } catch (error) {
      this.protocolViolation(error);
      return;
    }
    this.options.metrics.data.statements += this.statementsSent() - before;
    if (this.clientTerminated) this.close('client terminated');
  }

  /**
   * Holds the client's stream at the message being decided until `decision` settles, then frames it
   * again (the gate answers at once the second time). The client is paused meanwhile, so a held
   * statement costs no more memory than the socket's buffers.
   */
  private hold(decision: Promise<unknown>): void {
    this.clientFramer.suspend();
    this.options.client.pause();
    const release = () => {
      if (this.closed) return;
      // A statement of the gateway's own still on the server: the client's bytes follow its end.
      if (this.pump?.holdsRelease(release)) return;
      if (!this.clientPaused) this.options.client.resume();
      this.frameClientBytes(() => this.clientFramer.resume());
    };
    decision.then(release, release);
  }

  private fromUpstream(chunk: Buffer): void {
    if (this.closed) return;
    this.lastActive = this.options.idle.tick;
    // Masking rewrites rows one message at a time: what one chunk produces goes out in one write.
    const corked = this.options.gate?.masking !== undefined;
    if (corked) this.options.client.cork();
    try {
      this.pushFromUpstream(chunk);
    } finally {
      if (corked) this.options.client.uncork();
    }
  }

  private pushFromUpstream(chunk: Buffer): void {
    try {
      this.serverFramer.push(chunk);
    } catch (error) {
      this.options.log.error('upstream message refused', { error });
      // A result too large for the gateway's limit is a limit of ours, not a broken server.
      this.sendAndClose(
        error instanceof MessageTooLongError
          ? fatal('54000', `a message from the server exceeds the gateway's limit of ${error.limit} bytes`)
          : fatal('08P01', 'the upstream server sent a malformed message'),
      );
      return;
    }
    if (this.endWith && this.serverFramer.atBoundary) this.sendAndClose(this.endWith);
  }

  /** A client message the framer inspects: the conversation's action, carried out. */
  private onClientMessage(code: number, message: Buffer): Buffer | null | undefined {
    const action = this.conversation.client(code, message);
    if (action === END) {
      // Nothing after a Terminate may reach the server (PostgreSQL stops reading there). Closing here
      // would overtake the bytes of this chunk before it, so close once the chunk is forwarded.
      this.clientFramer.halt();
      this.clientTerminated = true;
      return null;
    }
    if (action instanceof Hold) {
      this.holdWithNotices(action.until, action.notice, action.announce);
      return undefined;
    }
    return action;
  }

  /** A server message the framer inspects: the conversation's reply, and the latency of a batch. */
  private onServerMessage(code: number, message: Buffer): Buffer | null | undefined {
    if (this.pump?.active) return this.pump.serverMessage(code, message);
    const reply = this.replies.reply(code, message);
    if (code === BackendCode.ReadyForQuery) this.pump?.clientRequestAnswered();
    if (code === BackendCode.ReadyForQuery && this.busySince !== 0 && this.outstanding <= 0) {
      this.options.metrics.observeLatency((performance.now() - this.busySince) / 1000);
      this.busySince = 0;
    }
    return reply;
  }

  /**
   * Holds the client's stream until `decision` settles; when the gate held the statement for an
   * approval, the client is told at once, and again every `noticeIntervalMs`, what it waits for. The
   * protocol lets a NoticeResponse come at any time, so a notice only has to fall between the server's
   * messages (never inside one being forwarded) and behind any bytes still waiting for the spool.
   */
  private holdWithNotices(decision: Promise<unknown>, text: string | undefined, announce: boolean): void {
    this.hold(decision);
    if (text === undefined) return;
    const { metrics } = this.options;
    metrics.data.approvalsHeld++;
    const notify = () => {
      if (this.closed || !this.serverFramer.atBoundary || this.output.waiting) return;
      this.output.write(noticeResponse({ severity: 'NOTICE', code: '00000', message: text }));
    };
    if (announce) notify();
    const timer = setInterval(notify, this.options.limits.approvalNoticeMs ?? 30_000);
    timer.unref();
    const stop = () => {
      clearInterval(timer);
      metrics.data.approvalsHeld--;
    };
    decision.then(stop, stop);
  }

  /** Backpressure: a side that cannot keep up pauses the other until it drains. */
  private toUpstream(bytes: Buffer): void {
    const { upstream, client } = this.options;
    if (!upstream.write(bytes) && !this.clientPaused) {
      this.clientPaused = true;
      client.pause();
      upstream.once('drain', () => {
        this.clientPaused = false;
        client.resume();
      });
    }
  }

  private protocolViolation(error: unknown): void {
    const message = error instanceof ProtocolError ? error.message : 'malformed message';
    this.options.metrics.data.protocolErrors++;
    this.options.log.warn('client protocol violation', { reason: message });
    // The server stream may be mid-message; a FATAL can only be inserted at a boundary.
    if (this.serverFramer.atBoundary)
      this.sendAndClose(fatal('08P01', `invalid message from client: ${message}`));
    else this.close('protocol violation');
  }

  /** Ends the session from the gateway side with a FATAL error, at the next point the client can read it. */
  terminate(sqlstate: string, message: string): void {
    if (this.closed) return;
    this.endWith = fatal(sqlstate, message);
    if (this.serverFramer.atBoundary) this.sendAndClose(this.endWith);
  }

  private sendAndClose(message: Buffer): void {
    if (this.closed) return;
    this.output.releaseNow();
    this.options.client.write(message);
    this.close('ended by gateway');
  }

  private onUpstreamGone(): void {
    if (this.closed) return;
    if (!this.replies.lastErrorFatal && this.serverFramer.atBoundary) {
      this.sendAndClose(fatal('08006', 'the upstream server closed the connection unexpectedly'));
      return;
    }
    this.close('upstream closed');
  }

  close(reason: string, error?: unknown): void {
    if (this.closed) return;
    this.output.releaseNow();
    this.closed = true;
    const { client, upstream, log } = this.options;
    if (error) log.debug('session closing', { reason, error });
    if (!upstream.destroyed) {
      if (this.clientFramer.atBoundary) upstream.end(TERMINATE);
      else upstream.destroy();
    }
    client.end();
    // Do not wait forever for a peer that does not read its FIN.
    setTimeout(() => {
      client.destroy();
      upstream.destroy();
    }, 5000).unref();
    this.options.idle.delete(this);
    this.pump?.close();
    this.options.onClose(reason);
  }
}
