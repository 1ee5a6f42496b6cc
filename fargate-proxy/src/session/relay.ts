import { isUtf8 } from 'node:buffer';
import type { Duplex } from 'node:stream';
import { AUDITED_CLIENT_CODES, AUDITED_SERVER_CODES, type RelayAudit } from '../audit/relay-audit';
import type { AuditedDecision } from '../audit/statement-tracker';
import { MASKING_SQLSTATE } from '../masking/result-masking';
import { scrubServerMessage } from '../masking/scrub';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import { errorResponse, fatal, noticeResponse } from '../protocol/backend-messages';
import {
  BACKEND_SESSION_CODES,
  BackendCode,
  FRONTEND_SESSION_CODES,
  FrontendCode,
  HEADER_LENGTH,
} from '../protocol/codes';
import { decodeErrorFields } from '../protocol/error-fields';
import { MessageTooLongError, ProtocolError } from '../protocol/errors';
import {
  decodeBind,
  decodeExecute,
  decodeParse,
  decodeQuery,
  decodeTarget,
  encodeBind,
  encodeParse,
  encodeQuery,
} from '../protocol/frontend-messages';
import { MessageFramer } from '../protocol/message-framer';
import type { IdleCandidate, IdleSweeper } from './idle-sweeper';
import { PendingRefusals } from './refusals';
import { type Judgement, Statement } from './statement';
import { type Refusal, refusalFields, type StatementGate } from './statement-gate';

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

const ROW_LIMIT_SQLSTATE = '54000';

/** io_error: the audit store could not take a strict statement's record. */
const STRICT_AUDIT_SQLSTATE = '58030';

const INVALID_UTF8: Refusal = { sqlstate: '22021', message: 'invalid byte sequence for encoding "UTF8"' };

/** The statement text's bytes in a Query or Parse message (Parse: after the statement name). */
function statementBytes(code: number, message: Buffer): Buffer {
  let start = HEADER_LENGTH;
  if (code === FrontendCode.Parse) start = message.indexOf(0, start) + 1;
  const end = message.indexOf(0, start);
  return message.subarray(start, end === -1 ? message.length : end);
}

/** How the audit trail names a fastpath function call (it has no SQL text). */
const FUNCTION_CALL_TEXT = '(function call)';

/** Client messages result masking follows (besides Query and Parse, which the gate sees). */
const MASKING_CLIENT_CODES = [
  FrontendCode.Bind,
  FrontendCode.Describe,
  FrontendCode.Execute,
  FrontendCode.Close,
  FrontendCode.Sync,
];

/** Server messages result masking follows: what answers each client message, and the rows. */
const MASKING_SERVER_CODES = [
  BackendCode.ParseComplete,
  BackendCode.BindComplete,
  BackendCode.CloseComplete,
  BackendCode.NoData,
  BackendCode.RowDescription,
  BackendCode.DataRow,
  BackendCode.CopyOutResponse,
  BackendCode.CopyData,
  BackendCode.CommandComplete,
  BackendCode.EmptyQueryResponse,
  BackendCode.PortalSuspended,
  // Errors and notices can echo stored values (a unique violation's key): scrubbed.
  BackendCode.NoticeResponse,
];

/** Server messages the row limit looks at: rows, and the ends of a statement. */
const ROW_LIMIT_CODES = [
  BackendCode.DataRow,
  BackendCode.CopyData,
  BackendCode.CopyDone,
  BackendCode.CommandComplete,
  BackendCode.EmptyQueryResponse,
];

/**
 * The session's data path once both sides are authenticated. Client and server bytes are framed in both
 * directions but forwarded as received unless a message must change; see MessageFramer.
 */
export class Relay implements IdleCandidate {
  private readonly clientFramer: MessageFramer;
  private readonly serverFramer: MessageFramer;
  private readonly refusals = new PendingRefusals();
  private readyCount = 0;
  private busySince = 0;
  private closed = false;
  /** Set when the gateway itself ends the session (drain, idle); sent at the next server message boundary. */
  private endWith: Buffer | undefined;
  private lastServerErrorFatal = false;
  private transactionStatus = 0x49; // 'I'
  private clientTerminated = false;
  /** Sweeper tick of the last traffic in either direction. */
  private lastActive = 0;
  private clientPaused = false;
  private upstreamPaused = false;
  /** Rows (DataRow, COPY data) of the statement being answered, when the grant limits them. */
  private rowsSent = 0;
  /** Past the limit: further rows are dropped and the statement's end is replaced by an error. */
  private cutting = false;
  /**
   * The statement whose message the client framer is suspended at: held for its judgement or its
   * strict record. The framer hands the same message over again when the hold ends, and it is
   * picked up from this object, never judged again.
   */
  private current: Statement | undefined;
  /** The Execute the framer is suspended at has had its turn from the pacer. */
  private executePaced = false;

  constructor(private readonly options: RelayOptions) {
    const { limits, gate, audit } = options;
    const inspectFromClient = new Set<number>([FrontendCode.Terminate, FrontendCode.FunctionCall]);
    if (gate || audit) {
      inspectFromClient.add(FrontendCode.Query);
      inspectFromClient.add(FrontendCode.Parse);
      if (gate?.onExecute) inspectFromClient.add(FrontendCode.Execute);
    }
    if (audit) for (const code of AUDITED_CLIENT_CODES) inspectFromClient.add(code);
    if (gate?.masking) for (const code of MASKING_CLIENT_CODES) inspectFromClient.add(code);
    this.clientFramer = new MessageFramer({
      allowed: FRONTEND_SESSION_CODES,
      inspect: inspectFromClient,
      maxMessageLength: limits.maxClientMessageBytes,
      maxInspectedLength: limits.maxClientMessageBytes,
      onMessage: (code, message) => this.onClientMessage(code, message),
      counted: [FrontendCode.Query, FrontendCode.Sync, FrontendCode.Execute, FrontendCode.FunctionCall],
      emit: (bytes) => this.toUpstream(bytes),
    });
    const inspectFromServer = new Set<number>([BackendCode.ReadyForQuery, BackendCode.ErrorResponse]);
    if (gate?.maxRows !== undefined) {
      for (const code of ROW_LIMIT_CODES) inspectFromServer.add(code);
    }
    if (audit) for (const code of AUDITED_SERVER_CODES) inspectFromServer.add(code);
    if (gate?.masking) for (const code of MASKING_SERVER_CODES) inspectFromServer.add(code);
    this.serverFramer = new MessageFramer({
      allowed: BACKEND_SESSION_CODES,
      inspect: inspectFromServer,
      maxMessageLength: limits.maxServerMessageBytes,
      maxInspectedLength: limits.maxServerMessageBytes,
      onMessage: (code, message) => this.onServerMessage(code, message),
      emit: (bytes) => this.toClient(bytes),
    });
  }

  get inTransaction(): boolean {
    return this.transactionStatus !== 0x49;
  }

  /** Requests sent (Query, Sync, FunctionCall) whose ReadyForQuery has not come back. */
  private get outstanding(): number {
    const framer = this.clientFramer;
    return (
      framer.count(FrontendCode.Query) +
      framer.count(FrontendCode.Sync) +
      framer.count(FrontendCode.FunctionCall) -
      this.readyCount
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

  private onClientMessage(code: number, message: Buffer): Buffer | null | undefined {
    if (code === FrontendCode.Terminate) {
      // Nothing after a Terminate may reach the server (PostgreSQL stops reading there). Closing here
      // would overtake the bytes of this chunk before it, so close once the chunk is forwarded.
      this.clientFramer.halt();
      this.clientTerminated = true;
      return null;
    }
    const { gate, audit } = this.options;
    const masking = gate?.masking;
    if (code === FrontendCode.FunctionCall) {
      // The fastpath interface calls a function by OID: no SQL for the policy or masking to read. Only
      // a grant that allows what cannot be analysed may use it; otherwise the server fails a refusal
      // marker in its place (one ReadyForQuery, as a FunctionCall would get).
      const allowed = gate?.allowsFunctionCalls === true;
      audit?.query(
        FUNCTION_CALL_TEXT,
        allowed ? { decision: 'allowed' } : { decision: 'refused', rule: 'function-call' },
        message.length,
      );
      masking?.query(undefined);
      if (allowed) return undefined;
      return encodeQuery(
        this.addRefusal({
          sqlstate: '42501',
          message:
            'permission denied by policy: the function call interface is not allowed through the gateway',
          hint: 'Call the function in a SELECT statement, where the policy can see it.',
        }),
      );
    }
    if (code === FrontendCode.Sync) {
      audit?.clientMessage(code, message);
      masking?.sync();
      return undefined;
    }
    if (code === FrontendCode.Describe || code === FrontendCode.Close) {
      const target = decodeTarget(message, code);
      if (code === FrontendCode.Describe) masking?.describe(target.kind, target.name);
      else masking?.close(target.kind, target.name);
      return undefined;
    }
    if (code === FrontendCode.Execute) {
      const pace = this.executePaced ? undefined : gate?.onExecute?.();
      if (pace) {
        this.executePaced = true;
        this.hold(pace);
        return undefined;
      }
      this.executePaced = false;
      audit?.clientMessage(code, message);
      if (masking) {
        masking.execute(decodeExecute(message).portal);
        this.inspectRowsIfMasked();
      }
      return undefined;
    }
    if (code === FrontendCode.Bind) return this.onBind(message);
    return this.onStatement(code, message);
  }

  /** A Query or Parse: its statement is judged (once), made durable if strict, then forwarded or refused. */
  private onStatement(code: number, message: Buffer): Buffer | null | undefined {
    const { gate, audit } = this.options;
    let statement = this.current;
    this.current = undefined;
    if (!statement) {
      statement =
        code === FrontendCode.Parse
          ? Statement.parse(decodeParse(message))
          : Statement.query(decodeQuery(message));
      // Invalid UTF-8 decodes to U+FFFD: only then are the bytes checked (valid text rarely has one).
      if (gate?.requiresUtf8 && statement.text.includes('\uFFFD') && !isUtf8(statementBytes(code, message))) {
        statement.decided = { decision: 'refused', rule: 'encoding' };
        statement.conclude(INVALID_UTF8);
      } else if (!gate) {
        statement.conclude();
      }
    }
    if (!this.ready(statement)) return undefined;
    const { refusal, decided, judgement } = this.outcomeOf(statement);
    const parse = statement.parse;
    if (parse) {
      // Binds are looked at only while a statement's decision waits for its parameters (or for audit).
      if (gate && !audit && !gate.masking)
        this.clientFramer.setInspected(FrontendCode.Bind, gate.awaitsBind === true);
      audit?.parse(parse.statementName, statement.text, decided!);
    } else {
      audit?.query(statement.text, decided!, message.length, statement.arrived);
    }
    const masking = gate?.masking;
    if (masking) {
      const plans = refusal ? undefined : judgement.masking;
      if (parse) masking.parse(parse.statementName, plans?.[0]);
      else masking.query(plans);
      this.inspectRowsIfMasked();
    }
    if (!refusal) {
      const rewrite = judgement.rewrite;
      if (rewrite === undefined) return undefined;
      return parse ? encodeParse({ ...parse, query: rewrite }) : encodeQuery(rewrite);
    }
    // A refused Query is closed by its own ReadyForQuery; a refused Parse by the next Sync's.
    const marker = this.addRefusal(refusal);
    return parse
      ? encodeParse({
          statementName: parse.statementName,
          query: marker,
          parameterTypes: parse.parameterTypes,
        })
      : encodeQuery(marker);
  }

  /**
   * Takes the statement through what must happen before it is forwarded: its judgement, then (strict
   * audit) its record in the shared store. False while it is held: the framer is suspended at its
   * message and hands it over again once the wait is over.
   */
  private ready(statement: Statement): boolean {
    if (!statement.judgement) {
      const wait = this.options.gate!.advance(statement);
      if (wait) {
        this.current = statement;
        this.holdWithNotices(wait, statement);
        return false;
      }
    }
    if (statement.durability === undefined) {
      const durable = this.strictRecord(statement);
      if (!durable) {
        statement.durability = 'none';
        return true;
      }
      this.current = statement;
      this.holdForStrictRecord(durable, statement);
      return false;
    }
    return true;
  }

  /** Strict audit: the record a statement that runs must have in the shared store before it is forwarded. */
  private strictRecord(statement: Statement): Promise<void> | undefined {
    const { audit } = this.options;
    const judgement = statement.judgement!;
    if (!audit || judgement.refusal) return undefined;
    if (statement.kind === 'query') return audit.strictBeforeQuery(statement.text, judgement.decided!);
    if (statement.kind === 'bind') return audit.strictBeforeBind(statement.bind!.statementName);
    return undefined;
  }

  /** The statement's judgement, with a strict record that could not be stored turned into a refusal. */
  private outcomeOf(statement: Statement): {
    refusal: Refusal | undefined;
    decided: AuditedDecision | undefined;
    judgement: Judgement;
  } {
    const judgement = statement.judgement!;
    const durability = statement.durability;
    if (typeof durability !== 'object')
      return { refusal: judgement.refusal, decided: judgement.decided, judgement };
    return {
      refusal: {
        sqlstate: STRICT_AUDIT_SQLSTATE,
        message: 'the statement was not run: its audit record could not be stored (strict audit)',
        detail: durability.failed,
        hint: 'The gateway runs this class of statement only once the audit store has its record; retry when the store is reachable.',
      },
      decided: {
        ...(judgement.decided ?? { decision: 'allowed' }),
        decision: 'refused',
        rule: 'strict-audit',
      },
      judgement,
    };
  }

  /**
   * Strict audit: the Query or Bind waits (with everything after it) until its record is held by the
   * shared store; if the store cannot take it, the statement is refused instead of run.
   */
  private holdForStrictRecord(durable: Promise<void>, statement: Statement): void {
    this.hold(
      durable.then(
        () => {
          statement.durability = 'stored';
        },
        (error: Error) => {
          this.options.metrics.data.auditStrictFailures++;
          this.options.log.error('strict audit record not stored; statement refused', { error });
          statement.durability = { failed: error.message };
        },
      ),
    );
  }

  /** Registers a refusal; the text returned makes the server fail in the refused statement's place. */
  private addRefusal(refusal: Refusal): string {
    this.options.metrics.data.refusals++;
    return this.refusals.add(refusalFields(refusal), this.readyCount + this.outstanding + 1);
  }

  /**
   * A Bind starts one execution of a prepared statement. One refused (by a decision that needed its
   * parameters, its approval, or its strict record) is replaced by a Parse of the refusal marker under
   * a name of the gateway's own, so the server fails it at the Bind's place (and skips to Sync)
   * without touching the client's statements.
   */
  private onBind(message: Buffer): Buffer | undefined {
    const { gate, audit } = this.options;
    let statement = this.current;
    this.current = undefined;
    if (!statement) {
      statement = Statement.bind(decodeBind(message));
      if (!gate?.awaitsBind) statement.conclude();
    }
    if (!this.ready(statement)) return undefined;
    const { refusal, decided, judgement } = this.outcomeOf(statement);
    const bind = statement.bind!;
    audit?.bind(bind, decided, statement.arrived);
    gate?.masking?.bind(bind.portal, bind.statementName, bind.resultFormats);
    if (!refusal) return judgement.bindRewrite ? encodeBind(judgement.bindRewrite) : undefined;
    return encodeParse({
      statementName: 'gatehouse_refused_bind',
      query: this.addRefusal(refusal),
      parameterTypes: [],
    });
  }

  private onServerMessage(code: number, message: Buffer): Buffer | null | undefined {
    const { audit } = this.options;
    const masked = this.options.gate?.masking?.server(code, message);
    if (this.options.gate?.masking) this.inspectRowsIfMasked();
    if (masked === null) return null;
    if (masked !== undefined) {
      if (code === BackendCode.DataRow) return this.rowLimited() ? null : masked;
      // The end of a result that could not be masked: its rows were dropped, the client gets an error.
      this.rowsSent = 0;
      this.cutting = false;
      this.options.metrics.data.errors++;
      audit?.serverMessage(
        BackendCode.ErrorResponse,
        message,
        MASKING_SQLSTATE,
        this.options.gate?.masking?.lastNote,
      );
      return masked;
    }
    if (code === BackendCode.DataRow || code === BackendCode.CopyData)
      return this.rowLimited() ? null : undefined;
    if (code === BackendCode.CopyDone) return this.cutting ? null : undefined;
    if (code === BackendCode.CommandComplete || code === BackendCode.EmptyQueryResponse) {
      const cut = this.endOfStatement();
      const note = this.options.gate?.masking?.lastNote;
      if (cut) audit?.serverMessage(BackendCode.ErrorResponse, message, ROW_LIMIT_SQLSTATE, note);
      else audit?.serverMessage(code, message, undefined, note);
      return cut;
    }
    if (code === BackendCode.PortalSuspended) {
      audit?.serverMessage(code, message, undefined, this.options.gate?.masking?.lastNote);
      return undefined;
    }
    if (code === BackendCode.FunctionCallResponse) {
      audit?.serverMessage(code, message);
      return undefined;
    }
    if (code === BackendCode.ReadyForQuery) {
      this.rowsSent = 0;
      this.cutting = false;
      this.readyCount++;
      this.transactionStatus = message[HEADER_LENGTH] ?? 0x49;
      if (this.refusals.size > 0) this.refusals.settle(this.readyCount);
      if (this.busySince !== 0 && this.outstanding <= 0) {
        this.options.metrics.observeLatency((performance.now() - this.busySince) / 1000);
        this.busySince = 0;
      }
      audit?.serverMessage(code, message);
      return undefined;
    }
    if (code === BackendCode.NoticeResponse) return scrubServerMessage(code, message);
    // Other messages inspected for masking only (descriptions, ParseComplete…).
    if (code !== BackendCode.ErrorResponse) return undefined;
    if (this.cutting) {
      audit?.serverMessage(code, message, ROW_LIMIT_SQLSTATE);
      return this.endOfStatement();
    }
    this.rowsSent = 0;
    this.options.metrics.data.errors++;
    const fields = decodeErrorFields(message.subarray(HEADER_LENGTH));
    this.lastServerErrorFatal = fields.severity === 'FATAL' || fields.severity === 'PANIC';
    const replacement = this.refusals.size === 0 ? undefined : this.refusals.take(fields.message);
    audit?.serverMessage(code, message, replacement?.code ?? fields.code);
    if (replacement) return errorResponse(replacement);
    return this.options.gate?.masking ? scrubServerMessage(code, message) : undefined;
  }

  /**
   * The grant's row limit: rows beyond it are never sent, and the statement ends in an error. The
   * server is not asked to cancel: a cancel names only the session, and one that lands late would
   * kill the client's next statement. The rest of the rows are read and dropped; statementTimeoutMs
   * bounds the server's work.
   */
  private rowLimited(): boolean {
    const limit = this.options.gate?.maxRows;
    if (limit === undefined) return false;
    if (this.cutting) return true;
    if (++this.rowsSent <= limit) return false;
    this.cutting = true;
    return true;
  }

  /** A statement ended (CommandComplete, EmptyQuery, or its error): past the limit, it ends in an error. */
  private endOfStatement(): Buffer | undefined {
    this.rowsSent = 0;
    if (!this.cutting) return undefined;
    this.cutting = false;
    this.options.metrics.data.errors++;
    const limit = this.options.gate!.maxRows!;
    return errorResponse({
      severity: 'ERROR',
      code: ROW_LIMIT_SQLSTATE,
      message: `the statement returned more than ${limit} rows, the limit of this identity's grant`,
      detail: `Rows after the first ${limit} were not sent.`,
    });
  }

  /** Whether rows are inspected now (masking turns it on only for results that need it). */
  private rowsInspected = true;

  /**
   * Rows are inspected while the result the server is on needs masking (or the grant limits rows);
   * other results of a masked session pass without a look at each row.
   */
  private inspectRowsIfMasked(): void {
    const masking = this.options.gate?.masking;
    if (!masking) return;
    const on = this.options.gate?.maxRows !== undefined || masking.needsRows();
    if (on === this.rowsInspected) return;
    this.rowsInspected = on;
    this.serverFramer.setInspected(BackendCode.DataRow, on);
    this.serverFramer.setInspected(BackendCode.CopyData, on);
  }

  /**
   * Holds the client's stream until `decision` settles; when the gate held the statement for an
   * approval, the client is told at once, and again every `noticeIntervalMs`, what it waits for. The
   * protocol lets a NoticeResponse come at any time, so a notice only has to fall between the server's
   * messages (never inside one being forwarded) and behind any bytes still waiting for the spool.
   */
  private holdWithNotices(decision: Promise<unknown>, statement: Statement): void {
    this.hold(decision);
    const text = statement.notice;
    if (text === undefined) return;
    const { metrics } = this.options;
    metrics.data.approvalsHeld++;
    const notify = () => {
      if (this.closed || !this.serverFramer.atBoundary || this.heldForSpool !== null) return;
      this.writeToClient(noticeResponse({ severity: 'NOTICE', code: '00000', message: text }));
    };
    notify();
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

  /**
   * Bytes for the client. With the audit on, bytes that carry a statement's outcome wait until its
   * record is in the spool (written once for all sessions at the end of this event-loop turn), and
   * everything after them waits behind them, so the client never learns of an unrecorded statement.
   */
  private toClient(bytes: Buffer): void {
    this.options.metrics.data.bytesToClients += bytes.length;
    const { audit } = this.options;
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
    this.writeToClient(bytes);
  }

  /** Bytes waiting for the audit spool, in order; null when nothing waits. */
  private heldForSpool: Buffer[] | null = null;

  private readonly releaseHeld = (): void => {
    const held = this.heldForSpool;
    this.heldForSpool = null;
    if (held === null || this.options.client.destroyed) return;
    for (const bytes of held) this.writeToClient(bytes);
  };

  /** Before the gateway writes to the client itself or closes: what waits goes out first, recorded. */
  private releaseHeldNow(): void {
    if (this.heldForSpool === null) return;
    this.options.audit?.flushSpool();
    this.releaseHeld();
  }

  private writeToClient(bytes: Buffer): void {
    const { upstream, client } = this.options;
    if (!client.write(bytes) && !this.upstreamPaused) {
      this.upstreamPaused = true;
      upstream.pause();
      client.once('drain', () => {
        this.upstreamPaused = false;
        upstream.resume();
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
    this.releaseHeldNow();
    this.options.client.write(message);
    this.close('ended by gateway');
  }

  private onUpstreamGone(): void {
    if (this.closed) return;
    if (!this.lastServerErrorFatal && this.serverFramer.atBoundary) {
      this.sendAndClose(fatal('08006', 'the upstream server closed the connection unexpectedly'));
      return;
    }
    this.close('upstream closed');
  }

  close(reason: string, error?: unknown): void {
    if (this.closed) return;
    this.releaseHeldNow();
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
    this.options.onClose(reason);
  }
}
