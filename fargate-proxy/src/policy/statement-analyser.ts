import { analyse } from '../../../core/sql/analyse';
import type { Analysis, AnalysisResult } from '../../../core/sql/analysis';
import { literalFreeKey } from '../../../core/sql/literal-free-key';
import { LruCache } from './lru-cache';
import type { ParsePool } from './parse-pool';

export interface AnalyserOptions {
  /** Entries of each cache. */
  cacheEntries: number;
  /** Statements longer than this many characters go to the parse pool. */
  offloadChars: number;
  pool: ParsePool;
}

/**
 * Whether an analysis may serve every statement with its literal-free form: not when a decision may
 * depend on a literal, nor for a multi-statement string, whose parts carry their own texts (the
 * audit records each part's text, which must be the one sent, literals included).
 */
function sharable(analysis: Analysis): boolean {
  return !analysis.literalSensitive && analysis.statements.length === 1;
}

/**
 * Analyses statements with caching: by exact text (extended-protocol statements are parsed once, then
 * executed many times), and for simple queries also by their literal-free form, so `… WHERE id = 42`
 * and `… = 43` share one analysis. An analysis whose decision may depend on a literal is never stored
 * under the literal-free form. Long statements are analysed on the pool; the caller gets a promise to
 * wait on, after which the analysis is in the cache.
 */
export class StatementAnalyser {
  private readonly exact: LruCache<string, AnalysisResult>;
  /** Results, not bare analyses: a hit returns the stored object, allocating nothing. */
  private readonly literalFree: LruCache<string, AnalysisResult>;
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Offloaded results waiting for their caller to ask again (the LRU may be disabled or full). */
  private readonly finished = new Map<string, AnalysisResult>();

  constructor(private readonly options: AnalyserOptions) {
    this.exact = new LruCache(options.cacheEntries);
    this.literalFree = new LruCache(options.cacheEntries);
  }

  analyse(sql: string, simpleQuery: boolean): AnalysisResult | Promise<void> {
    // Simple queries: the literal-free form first, it is what hits for statements with literals.
    const key = simpleQuery && sql.length <= this.options.offloadChars ? literalFreeKey(sql) : undefined;
    if (key !== undefined) {
      const shared = this.literalFree.get(key);
      if (shared) return shared;
    }
    const known = this.exact.get(sql) ?? this.finished.get(sql);
    if (known) {
      this.finished.delete(sql);
      return known;
    }
    if (sql.length > this.options.offloadChars) return this.offload(sql);
    const result = analyse(sql);
    if (result.ok && key !== undefined && sharable(result.analysis)) this.literalFree.set(key, result);
    else this.exact.set(sql, result);
    return result;
  }

  private offload(sql: string): Promise<void> {
    let running = this.inFlight.get(sql);
    if (!running) {
      running = this.options.pool
        .analyse(sql)
        .catch(
          (error: Error): AnalysisResult => ({
            ok: false,
            failure: { message: `the statement could not be analysed (${error.message})`, position: 0 },
          }),
        )
        .then((result) => {
          this.exact.set(sql, result);
          // Bounded: a caller that went away never collects its result.
          if (this.finished.size >= 64) this.finished.clear();
          this.finished.set(sql, result);
          this.inFlight.delete(sql);
        });
      this.inFlight.set(sql, running);
    }
    return running;
  }
}
