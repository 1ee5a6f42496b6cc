import type { ResultMasking } from '../masking/result-masking';
import type { PgErrorFields } from '../protocol/error-fields';
import type { Statement } from './statement';

/** Why the gateway refuses a statement: sent to the client as an ERROR in place of the statement's result. */
export interface Refusal {
  sqlstate: string;
  message: string;
  detail?: string;
  hint?: string;
  /** 1-based character position in the statement the error points at (shown by psql as LINE/caret). */
  position?: number;
}

/** Decides a session's statements before they reach the server (the policy, see SessionPolicy). */
export interface StatementGate {
  /**
   * Moves a statement (a Query, a Parse, or a Bind while `awaitsBind`) through its judgement:
   * undefined once `statement.judgement` is set, or a promise; the relay holds the statement (and
   * everything after it) until the promise settles, then calls again with the same statement.
   */
  advance(statement: Statement): Promise<unknown> | undefined;
  /**
   * When present, called for every Execute: a promise holds it until it settles (pacing statements per
   * second). Simple queries are paced in their judgement.
   */
  onExecute?(): Promise<unknown> | undefined;
  /** Whether Binds must be handed to `advance` (some prepared statement's decision needs its Bind). */
  readonly awaitsBind?: boolean;
  /** Rows one statement may return before it is ended (undefined: no limit). */
  readonly maxRows?: number;
  /** Statement text that is not valid UTF-8 is refused (22021) before the gate sees it. */
  readonly requiresUtf8?: boolean;
  /** Whether the fastpath function call interface may be used (it cannot be analysed). */
  readonly allowsFunctionCalls?: boolean;
  /** Result masking of the session, when its grant masks columns; fed by the relay. */
  readonly masking?: ResultMasking;
}

export function refusalFields(refusal: Refusal): PgErrorFields {
  return {
    severity: 'ERROR',
    code: refusal.sqlstate,
    message: refusal.message,
    detail: refusal.detail,
    hint: refusal.hint,
    ...(refusal.position ? { other: { P: String(refusal.position) } } : {}),
  };
}
