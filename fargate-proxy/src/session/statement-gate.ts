import type { PgErrorFields } from '../protocol/error-fields';
import type { ParseMessage } from '../protocol/frontend-messages';

/** Why the gateway refuses a statement: sent to the client as an ERROR in place of the statement's result. */
export interface Refusal {
  sqlstate: string;
  message: string;
  detail?: string;
  hint?: string;
}

/** What the session knows that a decision may depend on. */
export interface SessionFacts {
  readonly sessionId: string;
  readonly database: string;
  readonly subject: string;
}

/**
 * Decides statements before they reach the server. The policy engine (next issue) implements this;
 * `undefined` lets the statement through untouched.
 */
export interface StatementGate {
  onQuery(text: string, session: SessionFacts): Refusal | undefined;
  onParse(parse: ParseMessage, session: SessionFacts): Refusal | undefined;
}

export function refusalFields(refusal: Refusal): PgErrorFields {
  return {
    severity: 'ERROR',
    code: refusal.sqlstate,
    message: refusal.message,
    detail: refusal.detail,
    hint: refusal.hint,
  };
}
