import type { AuditedDecision } from '../audit/statement-tracker';
import type { PlannedStatement } from '../masking/masking-planner';
import type { ResultMasking } from '../masking/result-masking';
import type { PgErrorFields } from '../protocol/error-fields';
import type { BindMessage, ParseMessage } from '../protocol/frontend-messages';

/** Why the gateway refuses a statement: sent to the client as an ERROR in place of the statement's result. */
export interface Refusal {
  sqlstate: string;
  message: string;
  detail?: string;
  hint?: string;
  /** 1-based character position in the statement the error points at (shown by psql as LINE/caret). */
  position?: number;
}

/**
 * A gate's answer: `undefined` lets the statement through, a Refusal refuses it, and a promise asks the
 * relay to hold the statement (and everything after it) and ask again once the promise settles.
 */
export type Verdict = Refusal | undefined | Promise<unknown>;

/** What the session knows that a decision may depend on. */
export interface SessionFacts {
  readonly sessionId: string;
  readonly database: string;
  readonly subject: string;
}

/** Decides a session's statements before they reach the server (the policy, see SessionPolicy). */
export interface StatementGate {
  onQuery(text: string, session: SessionFacts): Verdict;
  onParse(parse: ParseMessage, session: SessionFacts): Verdict;
  /**
   * When present, called for every Execute: a promise holds it until it settles (pacing statements per
   * second). Simple queries are paced in onQuery.
   */
  onExecute?(): Promise<unknown> | undefined;
  /**
   * Decides a Bind, for statements whose decision needs their parameters. The relay only hands Binds
   * over while `awaitsBind` is true.
   */
  onBind?(bind: BindMessage): Refusal | Promise<void> | undefined;
  readonly awaitsBind?: boolean;
  /** Rows one statement may return before it is ended (undefined: no limit). */
  readonly maxRows?: number;
  /** The decision of the last onQuery/onParse/onBind call, with its analysis, for the audit. */
  readonly lastDecision?: AuditedDecision;
  /** Statement text that is not valid UTF-8 is refused (22021) before the gate sees it. */
  readonly requiresUtf8?: boolean;
  /** Whether the fastpath function call interface may be used (it cannot be analysed). */
  readonly allowsFunctionCalls?: boolean;
  /** Result masking of the session, when its grant masks columns; fed by the relay. */
  readonly masking?: ResultMasking;
  /** The masking plans of the last statement the gate allowed. */
  readonly lastMasking?: readonly PlannedStatement[];
  /** The last statement allowed, rewritten (tokens turned back into values): forwarded instead. */
  readonly lastRewrite?: string;
  /** The last Bind allowed, rewritten: forwarded instead. */
  readonly lastBindRewrite?: BindMessage;
  /** The last Bind, when it runs under an approval: the decision the audit records for it. */
  readonly lastBindApproval?: AuditedDecision;
  /** Set when a statement is held for approval: the notice its client gets while it waits. */
  readonly pendingNotice?: string;
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
