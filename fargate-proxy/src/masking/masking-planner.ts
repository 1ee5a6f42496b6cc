import { LineageTracer, type StatementLineage } from '../../../core/masking/lineage';
import { type MaskingPlan, planMasking } from '../../../core/masking/masking-policy';
import type { Grant } from '../../../core/policy/compiled-policy';
import { parseStatements } from '../../../core/sql/parser';
import { LruCache } from '../policy/lru-cache';
import type { DatabaseCatalogue, NameContext } from './database-catalogue';

/** Rounds of look-ups one statement may need (each view definition can name further relations). */
const MAX_LOOKUP_ROUNDS = 8;
/** A failed look-up is answered from the cache this long, so a retry storm does not hammer the server. */
const FAILURE_MS = 5000;

/** A statement's lineage and its masking under one grant. */
export interface PlannedStatement {
  readonly lineage: StatementLineage;
  readonly plan: MaskingPlan;
}

/**
 * Masking plans of statements, per grant: the statement is parsed, its lineage traced against the
 * database's catalogue (looked up as needed) and decided by the grant's masking rules. Plans are cached
 * by exact text until the catalogue is invalidated.
 */
export class MaskingPlanner {
  private readonly cache: LruCache<string, PlannedStatement[] | { failure: string; at: number }>;
  private readonly pending = new Map<string, Promise<void>>();

  constructor(
    private readonly catalogueFor: (database: string) => DatabaseCatalogue,
    cacheEntries: number,
  ) {
    this.cache = new LruCache(cacheEntries);
  }

  /** Forgets every plan (a DDL statement passed: views and tables may have changed). */
  invalidate(database: string): void {
    this.catalogueFor(database).invalidate();
    this.cache.clear();
  }

  /**
   * The plans of each statement of `sql`; a promise when the catalogue must be consulted first (ask
   * again once it settles). Throws when the look-ups failed: the caller refuses the statement.
   */
  plans(grant: Grant, database: string, sql: string): PlannedStatement[] | Promise<void> {
    const key = `${grant.name}\u0000${database}\u0000${sql}`;
    const cached = this.cache.get(key);
    if (Array.isArray(cached)) return cached;
    if (cached && Date.now() - cached.at < FAILURE_MS) throw new Error(cached.failure);
    let pending = this.pending.get(key);
    if (!pending) {
      pending = this.plan(grant, database, sql)
        .then(
          (plans) => this.cache.set(key, plans),
          (error: Error) => this.cache.set(key, { failure: error.message, at: Date.now() }),
        )
        .finally(() => this.pending.delete(key));
      this.pending.set(key, pending);
    }
    return pending;
  }

  private async plan(grant: Grant, database: string, sql: string): Promise<PlannedStatement[]> {
    const policy = grant.masking;
    if (!policy) return [];
    const parsed = parseStatements(sql);
    if (!parsed.ok) return [];
    const catalogue = this.catalogueFor(database);
    const context: NameContext = {
      searchPath: grant.searchPath === 'any' ? ['public'] : grant.searchPath,
      role: grant.role,
    };
    const planned: PlannedStatement[] = [];
    for (const raw of parsed.statements) {
      if (!raw.stmt) continue;
      for (let round = 0; ; round++) {
        const result = new LineageTracer(catalogue.snapshot(context)).trace(raw.stmt);
        if (result.complete) {
          planned.push({ lineage: result.lineage, plan: planMasking(result.lineage, policy) });
          break;
        }
        if (round >= MAX_LOOKUP_ROUNDS) throw new Error('the statement needs too many catalogue look-ups');
        await catalogue.lookUp(context, result.misses);
      }
    }
    return planned;
  }
}
