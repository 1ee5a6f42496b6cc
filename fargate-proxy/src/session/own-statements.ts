import { BackendCode, HEADER_LENGTH } from '../protocol/codes';
import { decodeErrorFields, type PgErrorFields } from '../protocol/error-fields';
import { encodeQuery } from '../protocol/frontend-messages';

/** What one of the gateway's own statements returned: its rows, in text, or the server's error. */
export interface OwnResult {
  columns: string[];
  rows: Array<Array<string | null>>;
  /** The server's error; the client's session and transaction are as they were before. */
  error?: PgErrorFields;
}

/**
 * Runs the gateway's own statements on a client's upstream session (the policy asks the catalogue
 * what a statement will reach, in the snapshot and with the locks of the client's own transaction).
 * Only while the client's statement is held for its judgement; rejects when the session is at a
 * point where a statement of its own cannot be run unseen (see OwnStatements).
 */
export interface OwnStatementRunner {
  run(sql: string): Promise<OwnResult>;
}

/** Why the gateway could not run its own statement: the caller fails closed. */
export class OwnStatementError extends Error {
  override readonly name = 'OwnStatementError';
}

/**
 * A savepoint of the gateway's own: its statement's error rolls back to it, so the client's block
 * goes on as if nothing had run. Released at once, so the client's own savepoints are untouched.
 */
const SAVEPOINT = 'gatehouse_own_statement';
const RESTORE = encodeQuery(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}; RELEASE SAVEPOINT ${SAVEPOINT}`);

const IDLE = 0x49; // 'I'
const IN_BLOCK = 0x54; // 'T'

interface Request {
  sql: string;
  resolve: (result: OwnResult) => void;
  reject: (error: Error) => void;
}

interface Running {
  request: Request;
  result: OwnResult;
  /** Restoring the client's block after the statement failed in it. */
  restoring: boolean;
}

/** What the relay does with a server message while one of the gateway's statements runs. */
export interface OwnReply {
  /** The message belongs to the gateway's statement: the client never sees it. */
  consumed: boolean;
  /** Bytes the relay sends upstream next (the restore of the client's block). */
  send?: Buffer;
  /** The gateway's statement is over: the server is where the client left it. */
  done?: boolean;
}

/**
 * The gateway's own statements, pure: what to send for one, and what the server's answers to it
 * mean. The relay sends one only between two of the client's requests (every request answered, no
 * extended-protocol message since the last Sync), so the server is at rest and its last
 * ReadyForQuery says where the client's transaction is:
 *
 * - idle: the statement runs alone, in a transaction of its own;
 * - in a block: inside a savepoint of the gateway's own, released when it succeeds and rolled back
 *   to when it fails, so an error does not abort the client's transaction;
 * - in a failed block: nothing can run; the request is rejected.
 *
 * Everything the server answers up to the statement's own ReadyForQuery is the gateway's, except
 * the messages the server may send at any time (notifications, parameter changes), which are the
 * client's. Statements are run one at a time, in the order asked.
 */
export class OwnStatements {
  private readonly queue: Request[] = [];
  private running: Running | undefined;

  request(sql: string): Promise<OwnResult> {
    return new Promise((resolve, reject) => this.queue.push({ sql, resolve, reject }));
  }

  /** One of the gateway's statements is on the server: its answers are read here. */
  get active(): boolean {
    return this.running !== undefined;
  }

  /** Statements wait to be sent. */
  get queued(): boolean {
    return this.queue.length > 0;
  }

  /**
   * The next statement's bytes, for a server at rest whose last ReadyForQuery said `status`;
   * undefined (and the request rejected) when it cannot run there.
   */
  start(status: number): Buffer | undefined {
    const request = this.queue.shift();
    if (!request) return undefined;
    if (status !== IDLE && status !== IN_BLOCK) {
      request.reject(
        new OwnStatementError(
          "the client's transaction has failed: the gateway cannot consult the server until it ends",
        ),
      );
      return undefined;
    }
    this.running = { request, result: { columns: [], rows: [] }, restoring: false };
    const sql =
      status === IN_BLOCK
        ? `SAVEPOINT ${SAVEPOINT}; ${request.sql}; RELEASE SAVEPOINT ${SAVEPOINT}`
        : request.sql;
    return encodeQuery(sql);
  }

  /** A server message while a statement of the gateway's runs. */
  reply(code: number, message: Buffer): OwnReply {
    const running = this.running!;
    switch (code) {
      case BackendCode.NotificationResponse:
      case BackendCode.ParameterStatus:
        return { consumed: false };
      case BackendCode.RowDescription:
        if (!running.restoring) running.result.columns = columnNames(message);
        return { consumed: true };
      case BackendCode.DataRow:
        if (!running.restoring) running.result.rows.push(rowValues(message));
        return { consumed: true };
      case BackendCode.ErrorResponse:
        // The first error is the statement's; one while restoring is kept only if there was none.
        running.result.error ??= decodeErrorFields(message.subarray(HEADER_LENGTH));
        return { consumed: true };
      case BackendCode.ReadyForQuery:
        return this.ready(running, message[HEADER_LENGTH] ?? IDLE);
      default:
        return { consumed: true };
    }
  }

  private ready(running: Running, status: number): OwnReply {
    // Failed inside the client's block: back to the savepoint before anything of the client's runs.
    if (status !== IDLE && status !== IN_BLOCK && !running.restoring && running.result.error) {
      running.restoring = true;
      return { consumed: true, send: RESTORE };
    }
    this.running = undefined;
    running.request.resolve(running.result);
    return { consumed: true, done: true };
  }

  /** The session ends: nothing waiting will run. */
  rejectAll(reason: string): void {
    const waiting = this.running ? [this.running.request, ...this.queue] : [...this.queue];
    this.running = undefined;
    this.queue.length = 0;
    for (const request of waiting) request.reject(new OwnStatementError(reason));
  }

  /** The waiting statements cannot run now (see the relay): rejected with `reason`. */
  rejectQueued(reason: string): void {
    for (const request of this.queue.splice(0)) request.reject(new OwnStatementError(reason));
  }
}

function columnNames(message: Buffer): string[] {
  const count = message.readInt16BE(HEADER_LENGTH);
  const names: string[] = [];
  let position = HEADER_LENGTH + 2;
  for (let i = 0; i < count; i++) {
    const end = message.indexOf(0, position);
    names.push(message.toString('utf8', position, end));
    // Name, then table OID, column number, type OID, type size, modifier, format: 18 bytes.
    position = end + 1 + 18;
  }
  return names;
}

function rowValues(message: Buffer): Array<string | null> {
  const count = message.readInt16BE(HEADER_LENGTH);
  const values: Array<string | null> = [];
  let position = HEADER_LENGTH + 2;
  for (let i = 0; i < count; i++) {
    const length = message.readInt32BE(position);
    position += 4;
    if (length < 0) {
      values.push(null);
      continue;
    }
    values.push(message.toString('utf8', position, position + length));
    position += length;
  }
  return values;
}
