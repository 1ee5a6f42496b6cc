import { literalFreeKey } from '../../../core/sql/literal-free-key';

const PASSWORDS = /password|passwd|secret/i;

/**
 * Statements that may carry a password (`CREATE/ALTER ROLE … PASSWORD`, `…secret…`), and those whose
 * literals may be values of masked columns (`withholdLiterals`: `WHERE ssn = '…'`), keep their shape
 * but lose their literals, in the audit trail and in recordings alike.
 */
export function redact(text: string, withholdLiterals = false): { text: string; redacted?: boolean } {
  if (!withholdLiterals && !PASSWORDS.test(text)) return { text };
  return { text: literalFreeKey(text) ?? '(statement with a password; text not recorded)', redacted: true };
}
