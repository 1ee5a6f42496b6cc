import type {
  Catalogue,
  CatalogueFunction,
  CatalogueMisses,
  CatalogueRelation,
} from '../../../core/masking/catalogue';
import { type CatalogueConnection, identifier, literal, type Row } from './catalogue-connection';

/** How names resolve for a grant: its pinned search path and the role its sessions run as. */
export interface NameContext {
  readonly searchPath: readonly string[];
  readonly role: string | undefined;
}

const RELKINDS: Readonly<Record<string, CatalogueRelation['kind']>> = {
  r: 'table',
  p: 'table',
  f: 'table',
  v: 'view',
  m: 'materialized-view',
};

/** FirstNormalObjectId: objects below it come with the server (initdb), not from users or extensions. */
const FIRST_NORMAL_OID = 16384;

function nameKey(schema: string | undefined, name: string): string {
  return schema === undefined ? name : `${schema}\u0000${name}`;
}

/**
 * One database's catalogue as masking's lineage sees it, looked up on demand through the gateway's own
 * connection and cached per name context until `invalidate` (a DDL statement passed, or the time to
 * live ran out).
 */
export class DatabaseCatalogue {
  private readonly relations = new Map<string, Map<string, CatalogueRelation | null>>();
  private readonly functions = new Map<string, Map<string, CatalogueFunction | null>>();
  private loadedAt = Date.now();

  constructor(
    private readonly connection: () => Promise<CatalogueConnection>,
    private readonly ttlMs: number,
  ) {}

  invalidate(): void {
    this.relations.clear();
    this.functions.clear();
    this.loadedAt = Date.now();
  }

  private cache<T>(maps: Map<string, Map<string, T>>, context: NameContext): Map<string, T> {
    if (Date.now() - this.loadedAt > this.ttlMs) this.invalidate();
    const key = `${context.role ?? ''}\u0000${context.searchPath.join(',')}`;
    let map = maps.get(key);
    if (!map) {
      map = new Map();
      maps.set(key, map);
    }
    return map;
  }

  /** What the cache holds now, for one trace. */
  snapshot(context: NameContext): Catalogue {
    const relations = this.cache(this.relations, context);
    const functions = this.cache(this.functions, context);
    return {
      relation: (schema, name) => relations.get(nameKey(schema, name)),
      function: (schema, name) => functions.get(nameKey(schema, name)),
    };
  }

  /** Looks up what a trace missed, in one round trip. */
  async lookUp(context: NameContext, misses: CatalogueMisses): Promise<void> {
    const relationNames = misses.relations.map((r) =>
      r.schema === undefined ? identifier(r.name) : `${identifier(r.schema)}.${identifier(r.name)}`,
    );
    const functionNames = misses.functions;
    const statements = [
      `SELECT set_config('search_path', ${literal(context.searchPath.map(identifier).join(', '))}, false)`,
      `SELECT set_config('role', ${literal(context.role ?? 'none')}, false)`,
      relationQuery(relationNames),
      functionQuery(functionNames),
    ];
    const connection = await this.connection();
    const results = await connection.query(statements.join(';\n'));
    const [relationRows = [], functionRows = []] = results.slice(2);
    const relations = this.cache(this.relations, context);
    misses.relations.forEach((miss, i) => {
      relations.set(nameKey(miss.schema, miss.name), relationOf(relationRows[i]));
    });
    const functions = this.cache(this.functions, context);
    misses.functions.forEach((miss, i) => {
      const overloads = functionRows.filter((row) => row[0] === String(i + 1));
      functions.set(nameKey(miss.schema, miss.name), functionOf(overloads));
    });
  }
}

function relationQuery(names: string[]): string {
  return `SELECT c.oid, n.nspname, c.relname, c.relkind,
    CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END,
    (SELECT json_agg(json_build_array(a.attname, a.attnum, a.atttypid) ORDER BY a.attnum)
       FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
  FROM unnest(ARRAY[${names.map(literal).join(', ')}]::text[]) WITH ORDINALITY AS q(name, i)
  LEFT JOIN pg_class c ON c.oid = to_regclass(q.name)
  LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
  ORDER BY q.i`;
}

function functionQuery(names: CatalogueMisses['functions']): string {
  const rows = names.map(
    (f, i) => `(${i + 1}, ${f.schema === undefined ? 'NULL' : literal(f.schema)}, ${literal(f.name)})`,
  );
  if (rows.length === 0) return 'SELECT NULL::int WHERE false';
  // Each visible overload, with the columns it returns when used in FROM.
  return `SELECT q.i::text, p.oid, p.provolatile,
    CASE
      WHEN p.proargmodes IS NOT NULL AND p.proargmodes && ARRAY['o', 't', 'b']::"char"[] THEN
        (SELECT json_agg(p.proargnames[k] ORDER BY k) FROM generate_subscripts(p.proargmodes, 1) k
          WHERE p.proargmodes[k] IN ('o', 't', 'b'))
      WHEN t.typrelid <> 0 THEN
        (SELECT json_agg(a.attname ORDER BY a.attnum) FROM pg_attribute a
          WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped)
      WHEN p.prorettype = 'record'::regtype THEN NULL
      ELSE json_build_array(p.proname)
    END
  FROM (VALUES ${rows.join(', ')}) AS q(i, schema, name)
  JOIN pg_proc p ON p.proname = q.name
  JOIN pg_namespace n ON n.oid = p.pronamespace
  LEFT JOIN pg_type t ON t.oid = p.prorettype
  WHERE (q.schema IS NULL AND n.nspname = ANY (current_schemas(true))) OR n.nspname = q.schema`;
}

function relationOf(row: Row | undefined): CatalogueRelation | null {
  if (!row || row[0] === null) return null;
  const kind = RELKINDS[row[3] ?? ''];
  if (!kind) return null;
  const columns = JSON.parse(row[5] ?? '[]') as [string, number, number][];
  return {
    oid: Number(row[0]),
    schema: row[1]!,
    name: row[2]!,
    kind,
    // json_build_array writes an oid as a string.
    columns: columns.map(([name, attnum, type]) => ({ name, attnum: Number(attnum), type: Number(type) })),
    ...(row[4] !== null ? { definition: row[4] } : {}),
  };
}

function functionOf(overloads: Row[]): CatalogueFunction | null {
  if (overloads.length === 0) return null;
  const outputs = overloads.map((row) => row[3]);
  const agreed = outputs.every((output) => output !== null && output === outputs[0]);
  return {
    builtin: overloads.every((row) => Number(row[1]) < FIRST_NORMAL_OID),
    volatile: overloads.some((row) => row[2] === 'v'),
    ...(agreed ? { outputColumns: JSON.parse(outputs[0]!) as string[] } : {}),
  };
}
