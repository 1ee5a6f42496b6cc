import { loadModule, normalizeSync, parseSync } from 'libpg-query';
import type { ParseFailure } from './analysis';

/**
 * PostgreSQL's own parser (libpg_query, compiled to WebAssembly). It must be loaded once per process
 * (or worker thread) before the synchronous calls below are used.
 */
let loading: Promise<void> | undefined;
let loaded = false;

export function loadParser(): Promise<void> {
  loading ??= loadModule().then(() => {
    loaded = true;
  });
  return loading;
}

export function parserLoaded(): boolean {
  return loaded;
}

export interface RawStatement {
  stmt?: Record<string, unknown>;
  stmt_location?: number;
  stmt_len?: number;
}

export type ParseOutcome = { ok: true; statements: RawStatement[] } | { ok: false; failure: ParseFailure };

/** libpg-query reports a 0-based character offset; PostgreSQL reports it 1-based. */
function failureOf(error: unknown): ParseFailure {
  const details = (error as { sqlDetails?: { message?: string; cursorPosition?: number } }).sqlDetails;
  return {
    message: details?.message ?? (error as Error).message,
    position: details?.cursorPosition !== undefined ? details.cursorPosition + 1 : 0,
  };
}

export function parseStatements(sql: string): ParseOutcome {
  try {
    return { ok: true, statements: (parseSync(sql).stmts ?? []) as RawStatement[] };
  } catch (error) {
    return { ok: false, failure: failureOf(error) };
  }
}

/** The statement with its constants replaced by $n, or undefined when it does not parse. */
export function normalise(sql: string): string | undefined {
  try {
    return normalizeSync(sql);
  } catch {
    return undefined;
  }
}
