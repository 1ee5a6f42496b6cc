import type { RelayAudit } from '../audit/relay-audit';
import { MASKING_SQLSTATE } from '../masking/result-masking';
import { scrubServerMessage } from '../masking/scrub';
import type { Metrics } from '../observability/metrics';
import { errorResponse } from '../protocol/backend-messages';
import { BackendCode, HEADER_LENGTH } from '../protocol/codes';
import { decodeErrorFields } from '../protocol/error-fields';
import type { PendingRefusals } from './refusals';
import type { StatementGate } from './statement-gate';
import type { Transaction } from './transaction';

/** 54000 (program_limit_exceeded): the grant's row limit ended the statement. */
const ROW_LIMIT_SQLSTATE = '54000';

export interface ServerRepliesOptions {
  gate?: StatementGate;
  audit?: RelayAudit;
  metrics: Metrics;
  /** The refusals the client side registered: their markers' errors are replaced here. */
  refusals: PendingRefusals;
  /** The client's transaction: told each ReadyForQuery. */
  transaction: Transaction;
  /** Client requests sent whose ReadyForQuery has not come back (after counting this one). */
  outstanding(): number;
  /** Whether the server's framer should hand over each row (masking a result, counting rows). */
  inspectRows(on: boolean): void;
}

/**
 * The server's side of the conversation, pure: each message the server sends is forwarded, replaced
 * or dropped. A refusal marker's error becomes the gateway's refusal; rows past the grant's limit
 * are dropped and the statement ends in 54000; masked results are rewritten (or withheld); notices
 * and errors are scrubbed of masked values; each end of a result is handed to the audit.
 * ReadyForQuery closes a batch: its count and the transaction status are kept here.
 */
export class ServerReplies {
  /** ReadyForQuery messages received. */
  readyCount = 0;
  /** The last ReadyForQuery's status: I (idle), T (in a transaction block), E (failed block). */
  transactionStatus = 0x49;
  /** The last error the server sent ended the session (FATAL, PANIC): its closing is expected. */
  lastErrorFatal = false;
  /** Rows (DataRow, COPY data) of the statement being answered, when the grant limits them. */
  private rowsSent = 0;
  /** Past the limit: further rows are dropped and the statement's end is replaced by an error. */
  private cutting = false;
  /** Whether rows are inspected now (masking turns it on only for results that need it). */
  private rowsInspected = true;

  constructor(private readonly options: ServerRepliesOptions) {}

  /** A message from the server: forwarded (undefined), replaced (a Buffer) or dropped (null). */
  reply(code: number, message: Buffer): Buffer | null | undefined {
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
      this.options.transaction.ready(this.transactionStatus, this.options.outstanding() <= 0);
      const { refusals } = this.options;
      if (refusals.size > 0) refusals.settle(this.readyCount);
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
    this.lastErrorFatal = fields.severity === 'FATAL' || fields.severity === 'PANIC';
    const { refusals } = this.options;
    const replacement = refusals.size === 0 ? undefined : refusals.take(fields.message);
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

  /**
   * Rows are inspected while the result the server is on needs masking (or the grant limits rows);
   * other results of a masked session pass without a look at each row.
   */
  inspectRowsIfMasked(): void {
    const masking = this.options.gate?.masking;
    if (!masking) return;
    const on = this.options.gate?.maxRows !== undefined || masking.needsRows();
    if (on === this.rowsInspected) return;
    this.rowsInspected = on;
    this.options.inspectRows(on);
  }
}
