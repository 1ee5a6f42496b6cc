import { isUtf8 } from 'node:buffer';
import type { RelayAudit } from '../audit/relay-audit';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import { FrontendCode, HEADER_LENGTH } from '../protocol/codes';
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
import type { PendingRefusals } from './refusals';
import { type Judgement, Statement } from './statement';
import { type Refusal, refusalFields, type StatementGate } from './statement-gate';
import type { Transaction } from './transaction';

/** io_error: the audit store could not take a strict statement's record. */
const STRICT_AUDIT_SQLSTATE = '58030';

const INVALID_UTF8: Refusal = { sqlstate: '22021', message: 'invalid byte sequence for encoding "UTF8"' };

/** How the audit trail names a fastpath function call (it has no SQL text). */
const FUNCTION_CALL_TEXT = '(function call)';

/** The statement text's bytes in a Query or Parse message (Parse: after the statement name). */
function statementBytes(code: number, message: Buffer): Buffer {
  let start = HEADER_LENGTH;
  if (code === FrontendCode.Parse) start = message.indexOf(0, start) + 1;
  const end = message.indexOf(0, start);
  return message.subarray(start, end === -1 ? message.length : end);
}

/**
 * The message waits (and everything after it) until `until` settles; the framer then hands the same
 * message over again. `notice`: what the client is told meanwhile (a statement held for approval).
 */
export class Hold {
  constructor(
    readonly until: Promise<unknown>,
    readonly notice?: string,
    /** The client has not been told this notice yet: it is sent at once (else only as reminders). */
    readonly announce = notice !== undefined,
  ) {}
}

/** The client sent Terminate: nothing after it may reach the server. */
export const END = Symbol('end of session');

/** Forward the message as received (undefined), replace it (a Buffer), drop it (null), hold it, or end. */
export type ClientAction = Buffer | null | undefined | Hold | typeof END;

export interface ConversationOptions {
  gate?: StatementGate;
  audit?: RelayAudit;
  metrics: Metrics;
  log: Logger;
  /** The client's transaction: told what is passed on (see Transaction). */
  transaction: Transaction;
  /** Refusals whose markers the server will fail (see PendingRefusals), shared with ServerReplies. */
  refusals: PendingRefusals;
  /** ReadyForQuery messages received so far. */
  readyCount(): number;
  /** Requests forwarded (Query, Sync, FunctionCall) whose ReadyForQuery has not come back. */
  outstanding(): number;
  /** Binds are handed over only while a statement's decision needs them. */
  inspectBinds(on: boolean): void;
  /** Masking followed a client message: whether rows need a look may have changed. */
  rowsChanged(): void;
}

/**
 * The client's side of the conversation, pure: no sockets, no timers. Each client message the framer
 * inspects becomes an action for the relay (the I/O pump): forward, replace (a rewrite, or a refusal
 * marker the server will fail in the statement's place), drop, hold until a promise settles, or end.
 * Each Query, Parse and Bind is one Statement, judged once (SessionPolicy.advance) and carried
 * through its strict record to the audit and result masking; a held one is picked up again, never
 * judged again, when the framer hands its message over after the wait.
 */
export class Conversation {
  /**
   * The statement whose message the client framer is suspended at: held for its judgement or its
   * strict record.
   */
  private current: Statement | undefined;
  /** The Execute the framer is suspended at has had its turn from the pacer. */
  private executePaced = false;

  constructor(private readonly options: ConversationOptions) {}

  /** A message from the client: forwarded, replaced, dropped, held, or the end of the session. */
  client(code: number, message: Buffer): ClientAction {
    if (code === FrontendCode.Terminate) return END;
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
      else {
        masking?.close(target.kind, target.name);
        this.options.transaction.close(target.kind, target.name);
      }
      return undefined;
    }
    if (code === FrontendCode.Execute) {
      const pace = this.executePaced ? undefined : gate?.onExecute?.();
      if (pace) {
        this.executePaced = true;
        return new Hold(pace);
      }
      this.executePaced = false;
      audit?.clientMessage(code, message);
      const { portal } = decodeExecute(message);
      this.options.transaction.execute(portal);
      if (masking) {
        masking.execute(portal);
        this.options.rowsChanged();
      }
      return undefined;
    }
    if (code === FrontendCode.Bind) return this.onBind(message);
    return this.onStatement(code, message);
  }

  /** A Query or Parse: its statement is judged (once), made durable if strict, then forwarded or refused. */
  private onStatement(code: number, message: Buffer): ClientAction {
    const { gate, audit } = this.options;
    let statement = this.current;
    this.current = undefined;
    if (!statement) {
      statement =
        code === FrontendCode.Parse
          ? Statement.parse(decodeParse(message))
          : Statement.query(decodeQuery(message));
      if (audit) statement.stamp();
      // Invalid UTF-8 decodes to U+FFFD: only then are the bytes checked (valid text rarely has one).
      if (gate?.requiresUtf8 && statement.text.includes('\uFFFD') && !isUtf8(statementBytes(code, message))) {
        statement.decided = { decision: 'refused', rule: 'encoding' };
        statement.conclude(INVALID_UTF8);
      } else if (!gate) {
        statement.conclude();
      }
    }
    const held = this.ready(statement);
    if (held) return held;
    const judgement = this.outcomeOf(statement);
    const { refusal, decided } = judgement;
    const parse = statement.parse;
    if (parse) {
      // Binds are looked at only while a statement's decision waits for its parameters (or for audit).
      if (gate && !audit && !gate.masking) this.options.inspectBinds(gate.awaitsBind === true);
      audit?.parse(parse.statementName, statement.text, decided!);
    } else {
      audit?.query(statement.text, decided!, message.length, statement.arrived);
    }
    const masking = gate?.masking;
    if (masking) {
      const plans = refusal ? undefined : judgement.masking;
      if (parse) masking.parse(parse.statementName, plans?.[0]);
      else masking.query(plans);
      this.options.rowsChanged();
    }
    if (!refusal) {
      const { transaction } = this.options;
      const analysed = statement.analysis?.statements;
      if (parse) transaction.parse(parse.statementName, analysed);
      else transaction.query(analysed);
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
   * audit) its record in the shared store. A Hold while it waits: the framer is suspended at its
   * message and hands it over again once the wait is over; undefined once it may go on.
   */
  private ready(statement: Statement): Hold | undefined {
    if (!statement.judgement) {
      const wait = this.options.gate!.advance(statement);
      if (wait) {
        this.current = statement;
        // A statement held again for the same request (its state is read after each change) has been
        // told already: only reminders follow.
        const notice = statement.notice;
        const announce = notice !== undefined && notice !== statement.announced;
        statement.announced = notice;
        return new Hold(wait, notice, announce);
      }
    }
    if (statement.durability === undefined) {
      const durable = this.strictRecord(statement);
      if (!durable) {
        statement.durability = 'none';
        return undefined;
      }
      this.current = statement;
      return this.holdForStrictRecord(durable, statement);
    }
    return undefined;
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
  private outcomeOf(statement: Statement): Judgement {
    const judgement = statement.judgement!;
    const durability = statement.durability;
    if (typeof durability !== 'object') return judgement;
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
    };
  }

  /**
   * Strict audit: the Query or Bind waits (with everything after it) until its record is held by the
   * shared store; if the store cannot take it, the statement is refused instead of run.
   */
  private holdForStrictRecord(durable: Promise<void>, statement: Statement): Hold {
    return new Hold(
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
    const { refusals, readyCount, outstanding } = this.options;
    return refusals.add(refusalFields(refusal), readyCount() + outstanding() + 1);
  }

  /**
   * A Bind starts one execution of a prepared statement. One refused (by a decision that needed its
   * parameters, its approval, or its strict record) is replaced by a Parse of the refusal marker under
   * a name of the gateway's own, so the server fails it at the Bind's place (and skips to Sync)
   * without touching the client's statements.
   */
  private onBind(message: Buffer): ClientAction {
    const { gate, audit } = this.options;
    let statement = this.current;
    this.current = undefined;
    if (!statement) {
      const bind = decodeBind(message);
      // The common case, on every execution of a prepared statement: nothing to decide at the Bind
      // and no strict record to wait for, so no statement object either.
      if (!gate?.awaitsBind && !audit?.strictAtBind(bind.statementName)) {
        audit?.bind(bind);
        gate?.masking?.bind(bind.portal, bind.statementName, bind.resultFormats);
        this.options.transaction.bind(bind.portal, bind.statementName);
        return undefined;
      }
      statement = Statement.bind(bind);
      if (audit) statement.stamp();
      if (!gate?.awaitsBind) statement.conclude();
    }
    const held = this.ready(statement);
    if (held) return held;
    const { refusal, decided, bindRewrite } = this.outcomeOf(statement);
    const bind = statement.bind!;
    audit?.bind(bind, decided, statement.arrived);
    gate?.masking?.bind(bind.portal, bind.statementName, bind.resultFormats);
    if (!refusal) {
      this.options.transaction.bind(bind.portal, bind.statementName);
      return bindRewrite ? encodeBind(bindRewrite) : undefined;
    }
    return encodeParse({
      statementName: 'gatehouse_refused_bind',
      query: this.addRefusal(refusal),
      parameterTypes: [],
    });
  }
}
