import type { Catalogue, CatalogueFunction, CatalogueRelation } from '../../../core/masking/catalogue';
import { LineageTracer, type StatementLineage } from '../../../core/masking/lineage';
import { loadParser, parseStatements } from '../../../core/sql/parser';

/**
 * Lineage against a catalogue snapshot written out here (what the gateway's catalogue lookups
 * return for these tables); the integration tests trace the same shapes against a real server.
 */
const TABLES: Record<string, string[]> = {
  customers: ['id', 'name', 'ssn', 'card', 'email'],
  orders: ['id', 'customer_id', 'total'],
};

function table(name: string, columns: string[], oid: number): CatalogueRelation {
  return {
    oid,
    schema: 'public',
    name,
    kind: 'table',
    columns: columns.map((column, i) => ({ name: column, attnum: i + 1, type: 25 })),
  };
}

const relations = new Map<string, CatalogueRelation>([
  ['customers', table('customers', TABLES.customers!, 1)],
  ['orders', table('orders', TABLES.orders!, 2)],
  [
    'customer_view',
    {
      oid: 3,
      schema: 'public',
      name: 'customer_view',
      kind: 'view',
      columns: [
        { name: 'id', attnum: 1, type: 23 },
        { name: 'tail', attnum: 2, type: 25 },
      ],
      definition: 'SELECT id, right(ssn, 4) AS tail FROM public.customers',
    },
  ],
]);

const BUILTIN: CatalogueFunction = { builtin: true, volatile: false };
const functions = new Map<string, CatalogueFunction | null>([
  ['upper', BUILTIN],
  ['md5', BUILTIN],
  ['right', BUILTIN],
  ['count', BUILTIN],
  ['row_to_json', BUILTIN],
  ['string_agg', BUILTIN],
  ['unnest', { builtin: true, volatile: false, outputColumns: ['unnest'] }],
  ['set_config', { builtin: true, volatile: true }],
  ['query_to_xml', { builtin: true, volatile: false }],
  ['secret_lookup', { builtin: false, volatile: true }],
]);

const catalogue: Catalogue = {
  relation: (schema, name) =>
    schema === undefined || schema === 'public' ? (relations.get(name) ?? null) : null,
  function: (_schema, name) => functions.get(name),
};

function trace(sql: string): StatementLineage {
  const parsed = parseStatements(sql);
  if (!parsed.ok) throw new Error(parsed.failure.message);
  const result = new LineageTracer(catalogue).trace(parsed.statements[0]!.stmt!);
  if (!result.complete) throw new Error(`missed lookups: ${JSON.stringify(result.misses)}`);
  return result.lineage;
}

/** Each output column's sources, sorted, as `name: a, b`. */
function sources(sql: string): string[] {
  return (trace(sql).output ?? []).map(
    (column) =>
      `${column.name}: ${[...column.sources].sort().join(', ')}${column.untraceable.length ? ' (untraceable)' : ''}`,
  );
}

beforeAll(() => loadParser());

describe('column lineage', () => {
  it('follows plain references, aliases and stars', () => {
    expect(sources('SELECT c.ssn AS x, name FROM customers c')).toEqual([
      'x: public.customers.ssn',
      'name: public.customers.name',
    ]);
    expect(sources('SELECT * FROM orders')).toEqual([
      'id: public.orders.id',
      'customer_id: public.orders.customer_id',
      'total: public.orders.total',
    ]);
  });

  it('follows expressions, functions, casts, CASE and aggregates', () => {
    expect(sources("SELECT upper(ssn) || '-' || md5(card)::text FROM customers")).toEqual([
      '?column?: public.customers.card, public.customers.ssn',
    ]);
    expect(sources("SELECT CASE WHEN ssn LIKE '1%' THEN 'a' ELSE 'b' END AS k FROM customers")).toEqual([
      'k: public.customers.ssn',
    ]);
    expect(sources("SELECT string_agg(ssn, ',') FROM customers")).toEqual([
      'string_agg: public.customers.ssn',
    ]);
  });

  it('follows whole-row references and constructors', () => {
    expect(sources('SELECT row_to_json(c) FROM customers c')[0]).toContain('public.customers.ssn');
    expect(sources('SELECT ROW(c.*) FROM customers c')[0]).toContain('public.customers.ssn');
    expect(sources('SELECT ARRAY[ssn, name] FROM customers')).toEqual([
      'array: public.customers.name, public.customers.ssn',
    ]);
  });

  it('follows subqueries, CTEs, set operations, LATERAL and joins', () => {
    expect(sources('SELECT (SELECT ssn FROM customers LIMIT 1) AS s')).toEqual(['s: public.customers.ssn']);
    expect(sources('WITH x AS (SELECT ssn AS v FROM customers) SELECT v FROM x')).toEqual([
      'v: public.customers.ssn',
    ]);
    expect(sources('SELECT name FROM customers UNION SELECT ssn FROM customers')).toEqual([
      'name: public.customers.name, public.customers.ssn',
    ]);
    expect(
      sources(
        'SELECT l.v FROM orders o, LATERAL (SELECT ssn AS v FROM customers WHERE id = o.customer_id) l',
      ),
    ).toEqual(['v: public.customers.ssn']);
    expect(sources('SELECT * FROM customers JOIN orders USING (id)')[0]).toBe(
      'id: public.customers.id, public.orders.id',
    );
    expect(
      sources(
        'WITH RECURSIVE r(v) AS (SELECT name FROM customers UNION ALL SELECT v || ssn FROM r, customers) SELECT v FROM r',
      ),
    ).toEqual(['v: public.customers.name, public.customers.ssn']);
  });

  it('traces views through their definition, and cursors, RETURNING and COPY', () => {
    expect(sources('SELECT tail FROM customer_view')).toEqual([
      'tail: public.customer_view.tail, public.customers.ssn',
    ]);
    expect(trace('DECLARE c CURSOR FOR SELECT ssn FROM customers').declares).toBe('c');
    expect(trace('FETCH 10 FROM c').fetches).toBe('c');
    expect(sources("UPDATE customers SET name = 'x' WHERE id = 1 RETURNING ssn")).toEqual([
      'ssn: public.customers.ssn',
    ]);
    expect(sources('COPY customers (id, ssn) TO STDOUT')).toEqual([
      'id: public.customers.id',
      'ssn: public.customers.ssn',
    ]);
  });

  it('records predicates, writes and side effects', () => {
    const filtered = trace("SELECT id FROM customers WHERE ssn = '123' AND name LIKE 'a%' ORDER BY card");
    expect(Object.fromEntries(filtered.predicates)).toEqual({
      'public.customers.ssn': 'equality',
      'public.customers.name': 'other',
      'public.customers.card': 'other',
    });
    expect([...trace('INSERT INTO orders (total) SELECT ssn FROM customers').written]).toEqual([
      'public.customers.ssn',
    ]);
    expect([...trace("SELECT set_config('x', ssn, false) FROM customers").sideEffects]).toEqual([
      'public.customers.ssn',
    ]);
  });

  it('marks what it cannot trace', () => {
    expect(sources('SELECT secret_lookup(id) FROM customers')[0]).toContain('(untraceable)');
    expect(sources("SELECT query_to_xml('select ssn from customers', true, false, '')")[0]).toContain(
      '(untraceable)',
    );
    expect(sources('SELECT x FROM nowhere')[0]).toContain('(untraceable)');
    expect(trace('DO $$ BEGIN RAISE NOTICE $x$hi$x$; END $$').untraceable).not.toEqual([]);
  });
});
