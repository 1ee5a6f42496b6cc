import type { StatementRecord } from '../../../core/audit/records';
import type { StatementAnalysis, StatementClass } from '../../../core/sql/analysis';
import { nowMicros } from '../observability/clock';
import { BackendCode, FrontendCode, HEADER_LENGTH } from '../protocol/codes';
import { type BindMessage, decodeExecute } from '../protocol/frontend-messages';
import type { SessionRecorder } from '../recording/session-recorder';
import { OutputWalker } from './output-walker';
import { redact } from './redaction';
import { type AuditedDecision, type StatementTracker, sha256 } from './statement-tracker';
import type { StrictItem, StrictStore } from './strict-store';

/** Client messages the audit needs to see whole (besides Query and Parse, which the gate sees). */
export const AUDITED_CLIENT_CODES = [FrontendCode.Bind, FrontendCode.Execute, FrontendCode.Sync] as const;
/** Server messages that end an execution or a batch. */
export const AUDITED_SERVER_CODES = [
  BackendCode.FunctionCallResponse,
  BackendCode.CommandComplete,
  BackendCode.EmptyQueryResponse,
  BackendCode.PortalSuspended,
  BackendCode.ErrorResponse,
  BackendCode.ReadyForQuery,
] as const;

/** The messages that end a statement's result, as the client receives them. */
const RESULT_ENDS = new Set<number>([
  BackendCode.FunctionCallResponse,
  BackendCode.CommandComplete,
  BackendCode.EmptyQueryResponse,
  BackendCode.PortalSuspended,
  BackendCode.ErrorResponse,
]);

/** Strict mode for one session: its store, the classes it applies to, and who the session is. */
export interface StrictAudit {
  store: StrictStore;
  classes: ReadonlySet<StatementClass>;
  facts: Pick<StrictItem, 'session' | 'writer' | 'issuer' | 'subject' | 'database'>;
  /** Index of the session's next strict item. */
  next: number;
}

/** What the relay's audit needs of the writer's spool. */
export interface Spool {
  readonly hasPending: boolean;
  /** Sessions of this process waiting for the server (each counts itself in and out). */
  awaitingServer: number;
  flush(): void;
  afterFlush(then: () => void): void;
}

/**
 * The relay's side of the audit: it hands over the messages it inspects, already decided; this turns
 * them into tracker calls. Kept apart so the relay stays a relay.
 */
export class RelayAudit {
  /** Bytes of the result being sent, since the end of the previous one. */
  private resultBytes = 0;
  private readonly walker = new OutputWalker((code, total) => this.visit(code, total));
  /** Kept bytes go to the recording; absent when the session is not recorded. */
  private readonly recorded: ((bytes: Buffer) => void) | undefined;
  /** Counted in the spool's `awaitingServer`. */
  private counted = false;
  private closed = false;

  constructor(
    readonly tracker: StatementTracker,
    private readonly spool: Spool,
    private readonly recorder?: SessionRecorder,
    private readonly strict?: StrictAudit,
  ) {
    this.recorded = recorder && ((bytes) => recorder.server(bytes));
  }

  /**
   * Bytes about to be written to the client: the records of the statements whose outcome they carry
   * are made here. Returns whether they must wait for the spool (see `afterSpool`) before they go out.
   */
  toClient(bytes: Buffer): boolean {
    this.tracker.bytesOut += bytes.length;
    this.walker.walk(bytes, this.recorded);
    if (!this.spool.hasPending) return false;
    // Adaptive group commit: when no other session waits for the server, no other result can arrive
    // in this turn to share the write, and waiting for the turn's end only adds an event-loop pass
    // (about 20 µs per statement at one client). Write now; the bytes need not wait.
    if (this.spool.awaitingServer - (this.counted ? 1 : 0) === 0) {
      this.spool.flush();
      return this.spool.hasPending;
    }
    return true;
  }

  /** Keeps the spool's count of sessions waiting for the server after the tracker moved. */
  private recount(): void {
    const awaiting = this.tracker.awaitingServer && !this.closed;
    if (awaiting === this.counted) return;
    this.counted = awaiting;
    this.spool.awaitingServer += awaiting ? 1 : -1;
  }

  /** Whether an execution of this prepared statement must have a strict record before it runs. */
  strictAtBind(statementName: string): boolean {
    if (!this.strict) return false;
    const analysis = this.tracker.prepared(statementName)?.decided.statements?.[0];
    return analysis !== undefined && this.strict.classes.has(analysis.class);
  }

  /** Calls `then` once every record made so far is in the spool (group commit, end of this turn). */
  afterSpool(then: () => void): void {
    this.spool.afterFlush(then);
  }

  /** Writes the spool now: the session must write to its client before the turn ends (it is closing). */
  flushSpool(): void {
    this.spool.flush();
  }

  /** Each message the client is about to receive: counted to its statement; kept in the recording? */
  private visit(code: number, total: number): boolean {
    const keep = this.recorder ? this.recorder.keep(code, total) : true;
    // ReadyForQuery belongs to no statement: it closes a batch.
    if (code === BackendCode.ReadyForQuery) return keep;
    this.resultBytes += total;
    if (RESULT_ENDS.has(code)) {
      this.tracker.resultSent(this.resultBytes, this.recorder?.statementEnded());
      this.resultBytes = 0;
    }
    return keep;
  }

  /**
   * Strict mode, simple protocol: a promise when a statement of the Query must have its record in the
   * shared store before the Query is forwarded (the relay holds it meanwhile); undefined otherwise.
   */
  strictBeforeQuery(text: string, decided: AuditedDecision): Promise<void> | undefined {
    if (!this.strict || (decided.decision !== 'allowed' && decided.decision !== 'approved')) return undefined;
    const statements = decided.statements ?? [];
    const strictOnes = statements.filter((s) => this.strict!.classes.has(s.class));
    if (strictOnes.length === 0) return undefined;
    const textSha256 = sha256(text);
    return this.strict.store.put(
      strictOnes.map((s) =>
        this.strictItem(statements.length > 1 ? s.text : text, textSha256, s, decided.withholdLiterals),
      ),
    );
  }

  /** Strict mode, extended protocol: the same at the Bind that starts an execution. */
  strictBeforeBind(statementName: string): Promise<void> | undefined {
    if (!this.strict) return undefined;
    const prepared = this.tracker.prepared(statementName);
    const analysis = prepared?.decided.statements?.[0];
    if (!prepared || !analysis) return undefined;
    if (prepared.decided.decision !== 'allowed' && prepared.decided.decision !== 'approved') return undefined;
    if (!this.strict.classes.has(analysis.class)) return undefined;
    return this.strict.store.put([
      this.strictItem(prepared.text, prepared.sha256, analysis, prepared.decided.withholdLiterals),
    ]);
  }

  /** `withholdLiterals`: the statement reads masked columns, so its literals stay out of the record. */
  private strictItem(
    text: string,
    textSha256: string,
    analysis: StatementAnalysis,
    withholdLiterals?: boolean,
  ): StrictItem {
    const { facts } = this.strict!;
    return {
      ...facts,
      index: this.strict!.next++,
      time: nowMicros(),
      command: analysis.command,
      class: analysis.class,
      text: redact(text, withholdLiterals).text,
      textSha256,
    };
  }

  /** The session is over. */
  close(reason: string): void {
    this.closed = true;
    if (this.counted) {
      this.counted = false;
      this.spool.awaitingServer--;
    }
    this.tracker.drain();
    this.recorder?.end(reason);
  }

  query(text: string, decided: AuditedDecision, bytes: number, arrived?: number): void {
    this.tracker.query(text, decided, bytes, arrived);
    this.recount();
    this.recorder?.client({ type: 'query', ...redact(text, decided.withholdLiterals) });
  }

  parse(statementName: string, text: string, decided: AuditedDecision): void {
    this.tracker.parse(statementName, text, decided);
    this.recorder?.client({
      type: 'parse',
      statement: statementName,
      ...redact(text, decided.withholdLiterals),
    });
  }

  /** `decided`: the execution's own decision, when its Bind was decided (else its statement's applies). */
  bind(bind: BindMessage, decided?: AuditedDecision, arrived?: number): void {
    this.tracker.bind(
      bind.portal,
      bind.statementName,
      bind.parameterFormats,
      bind.parameters,
      decided,
      arrived,
    );
    this.recorder?.client({
      type: 'bind',
      portal: bind.portal,
      statement: bind.statementName,
      parameters: bind.parameters.length,
    });
  }

  /** Execute and Sync. */
  clientMessage(code: number, message: Buffer): void {
    if (code === FrontendCode.Execute) {
      const { portal, maxRows } = decodeExecute(message);
      this.tracker.execute(portal, message.length);
      this.recorder?.client({ type: 'execute', portal, maxRows });
    } else if (code === FrontendCode.Sync) {
      this.tracker.sync();
      this.recount();
      this.recorder?.client({ type: 'sync' });
    }
  }

  /**
   * `sqlstate`: the error the client actually gets (a refusal replaces the server's); `masking`: what
   * masking did to the result that ends here.
   */
  serverMessage(
    code: number,
    message: Buffer,
    sqlstate?: string,
    masking?: StatementRecord['masking'],
  ): void {
    switch (code) {
      case BackendCode.CommandComplete:
        this.tracker.completed(message.toString('utf8', HEADER_LENGTH, message.length - 1), false, masking);
        return;
      case BackendCode.EmptyQueryResponse:
        this.tracker.completed(undefined);
        return;
      case BackendCode.FunctionCallResponse:
        this.tracker.completed('FUNCTION CALL');
        return;
      case BackendCode.PortalSuspended:
        this.tracker.completed(undefined, true, masking);
        return;
      case BackendCode.ErrorResponse:
        this.tracker.failed(sqlstate ?? '', masking);
        return;
      case BackendCode.ReadyForQuery:
        this.tracker.ready();
        this.recount();
    }
  }

  fromClient(bytes: number): void {
    this.tracker.bytesIn += bytes;
  }
}
