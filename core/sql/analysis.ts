/**
 * What a SQL statement does, as far as it can be known from its text: the model the policy decides on.
 * Produced by `analyse` (analyse.ts) from PostgreSQL's own parse tree.
 */

/**
 * Statement classes, from least to most privileged. `session` changes settings of the session,
 * `transaction` controls transactions, `unknown` is anything the analysis cannot classify.
 */
export const STATEMENT_CLASSES = [
  'read',
  'write',
  'ddl',
  'admin',
  'session',
  'transaction',
  'unknown',
] as const;
export type StatementClass = (typeof STATEMENT_CLASSES)[number];

/** A relation or function name as written; `schema` is absent when the name is unqualified. */
export interface QualifiedName {
  readonly schema?: string;
  readonly name: string;
}

/** A setting the statement changes. `name` is undefined when it cannot be known from the text. */
export interface SettingChange {
  readonly name: string | undefined;
  /** The new value as text, when it is a literal. */
  readonly value?: string;
  /** When the name is a bind parameter (`set_config($1, …)`): its number, 1-based. */
  readonly nameParameter?: number;
  /** When the value is a bind parameter: its number, 1-based. */
  readonly valueParameter?: number;
}

export interface StatementAnalysis {
  /** This statement's own text, without the others of a multi-statement string. */
  readonly text: string;
  /** The command, like the server's command tag: SELECT, INSERT, CREATE TABLE, EXPLAIN ANALYZE… */
  readonly command: string;
  readonly class: StatementClass;
  readonly reads: readonly QualifiedName[];
  readonly writes: readonly QualifiedName[];
  readonly functions: readonly QualifiedName[];
  /** Operators that are not built in (a user-defined operator runs a user-defined function). */
  readonly operators: readonly string[];
  readonly settings: readonly SettingChange[];
  /** Why (part of) the statement cannot be judged from its text: DO blocks, CALL, dynamic SQL… */
  readonly opaque: readonly string[];
  /**
   * An UPDATE or DELETE without a WHERE clause, at the top or nested (in a CTE, under EXPLAIN
   * ANALYZE): every row of its table is affected.
   */
  readonly unbounded: boolean;
  /**
   * Data-modifying commands the statement contains at any depth (INSERT, UPDATE, DELETE, MERGE): a
   * `WITH d AS (DELETE …) SELECT …` or `EXPLAIN ANALYZE DELETE …` deletes, whatever its own command.
   */
  readonly modifies: readonly string[];
  /** `PREPARE name AS …`: the prepared statement's own analysis. */
  readonly prepares?: { readonly name: string; readonly statement: StatementAnalysis };
  /** `EXECUTE name`: decided by what was prepared under that name in the session. */
  readonly executes?: string;
  /** `DEALLOCATE name`; `true` for DEALLOCATE ALL and DISCARD ALL. */
  readonly deallocates?: string | true;
}

export interface Analysis {
  readonly statements: readonly StatementAnalysis[];
  /**
   * True when a decision may depend on a literal value (a setting name given to set_config, a SET
   * value): such an analysis must not be shared between statements that differ only in literals.
   */
  readonly literalSensitive: boolean;
}

/** The parser's own error for a statement that is not valid SQL. */
export interface ParseFailure {
  readonly message: string;
  /** 1-based character position of the error, as PostgreSQL reports it; 0 when unknown. */
  readonly position: number;
}

export type AnalysisResult =
  | { readonly ok: true; readonly analysis: Analysis }
  | { readonly ok: false; readonly failure: ParseFailure };

export function formatName(name: QualifiedName): string {
  return name.schema === undefined ? name.name : `${name.schema}.${name.name}`;
}
