import type { ColumnKey } from './catalogue';

/**
 * Where a value comes from while a statement is traced: the stored columns it derives from, and why
 * part of it could not be traced. Mutable while tracing; unions only grow, so every mistake in name
 * resolution errs towards masking more, never less.
 */
export class Flow {
  readonly sources = new Set<ColumnKey>();
  readonly untraceable: string[] = [];

  add(other: Flow): this {
    for (const source of other.sources) this.sources.add(source);
    for (const reason of other.untraceable)
      if (!this.untraceable.includes(reason)) this.untraceable.push(reason);
    return this;
  }

  cannotTrace(reason: string): this {
    if (!this.untraceable.includes(reason)) this.untraceable.push(reason);
    return this;
  }

  get size(): number {
    return this.sources.size + this.untraceable.length;
  }
}

/** One column a FROM item offers. */
export interface Column {
  readonly name: string;
  readonly flow: Flow;
  /** Type OID of a stored column passed through as it is. */
  readonly type?: number;
}

/**
 * A name a query level can qualify columns with: a relation, an alias, a CTE, a subquery's alias.
 * `columns` undefined: their names are not known (a function returning `record`), so any column
 * asked of it derives from `whole`.
 */
export interface FromItem {
  readonly name: string;
  /** The relation's real schema, when it is a relation named without an alias (`schema.t.col`). */
  readonly schema?: string;
  readonly columns: readonly Column[] | undefined;
  /** Everything the item's values derive from. */
  readonly whole: Flow;
}

export function itemOf(name: string, columns: readonly Column[] | undefined, schema?: string): FromItem {
  const whole = new Flow();
  for (const column of columns ?? []) whole.add(column.flow);
  return { name, schema, columns, whole };
}

/** What one entry of a FROM list brings: names to qualify with, and the columns `*` expands to. */
export interface FromEntry {
  readonly items: readonly FromItem[];
  /** Undefined when the entry's columns are not known (then `*` over it cannot be traced). */
  readonly star: readonly Column[] | undefined;
}

/** One query level's names, inside the levels that enclose it (correlated references reach them). */
export class Scope {
  readonly items: FromItem[] = [];
  readonly entries: FromEntry[] = [];
  private readonly ctes = new Map<string, readonly Column[]>();

  constructor(readonly parent?: Scope) {}

  add(entry: FromEntry): void {
    this.entries.push(entry);
    this.items.push(...entry.items);
  }

  defineCte(name: string, columns: readonly Column[]): void {
    this.ctes.set(name, columns);
  }

  cte(name: string): readonly Column[] | undefined {
    return this.ctes.get(name) ?? this.parent?.cte(name);
  }

  /** Levels from this one outwards. */
  *levels(): Generator<Scope> {
    for (let level: Scope | undefined = this; level; level = level.parent) yield level;
  }
}

/** Columns renamed by an alias's column list (`AS t(a, b)`), positionally; extra names are ignored. */
export function renamed(columns: readonly Column[], names: readonly string[]): Column[] {
  return columns.map((column, i) => ({ ...column, name: names[i] ?? column.name }));
}

/** Two column lists combined position by position (UNION, the arms of a recursive CTE). */
export function zipUnion(left: readonly Column[], right: readonly Column[]): Column[] {
  return left.map((column, i) => {
    const flow = new Flow().add(column.flow);
    const other = right[i];
    if (other) flow.add(other.flow);
    return { name: column.name, flow };
  });
}
