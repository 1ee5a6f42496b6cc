import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { loadPolicy } from '../../core/policy/load-policy';
import { loadParser } from '../../core/sql/parser';
import { CatalogueConnection } from '../../fargate-proxy/src/masking/catalogue-connection';
import { DatabaseCatalogue } from '../../fargate-proxy/src/masking/database-catalogue';
import { MaskingPlanner } from '../../fargate-proxy/src/masking/masking-planner';
import { StaticCredentialSource } from '../../fargate-proxy/src/upstream/credential-source';
import { testUpstream } from '../support/environment';

/**
 * Masking plans traced against a real server's catalogue: tables, views over views, a materialised
 * view, a function that is not built in, all in a schema of this test's own.
 */
const schema = `lineage_${randomBytes(4).toString('hex')}`;
const upstream = testUpstream();
let admin: Client;
let connections: CatalogueConnection[] = [];
let planner: MaskingPlanner;

const POLICY = `
version: 1
identities:
  reporter: { issuer: local, claims: { sub: reporter } }
dataClasses:
  contact: [${schema}.customers.email]
grants:
  - name: reporting
    to: [reporter]
    searchPath: [${schema}]
    masking:
      rules:
        - { name: ssn, columns: [${schema}.customers.ssn], method: partial, keep: { last: 4 } }
        - { name: card, columns: [${schema}.customers.card], method: token, predicates: equality }
        - { name: contact, dataClasses: [contact], method: redact }
`;

function grant() {
  const loaded = loadPolicy(POLICY);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  return loaded.policy.grants[0]!;
}

async function plan(sql: string) {
  const result = planner.plans(grant(), 'postgres', sql);
  if (result instanceof Promise) {
    await result;
    return planner.plans(grant(), 'postgres', sql) as Exclude<typeof result, Promise<void>>;
  }
  return result;
}

/** Each returned column's rule (or '-'), or the refusal. */
async function masks(sql: string): Promise<string[] | string> {
  const [first] = await plan(sql);
  if (!first) throw new Error('no plan');
  const { plan: decided } = first;
  if (decided.refused !== undefined) return decided.refused;
  return (first.lineage.output ?? []).map((_, i) => decided.columns?.[i]?.rule ?? '-');
}

beforeAll(async () => {
  await loadParser();
  admin = new Client({ ...upstream, database: 'postgres' });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.query(`SET search_path = ${schema}`);
  await admin.query(
    'CREATE TABLE customers (id int PRIMARY KEY, name text, ssn text, card text, email text)',
  );
  await admin.query('CREATE TABLE orders (id int, customer_id int, total numeric)');
  await admin.query('CREATE VIEW customer_tail AS SELECT id, right(ssn, 4) AS tail, name FROM customers');
  await admin.query('CREATE VIEW tail_again AS SELECT t.tail AS t4, upper(t.name) AS n FROM customer_tail t');
  await admin.query('CREATE MATERIALIZED VIEW emails AS SELECT id, lower(email) AS e FROM customers');
  await admin.query(
    'CREATE FUNCTION lookup_ssn(i int) RETURNS text LANGUAGE sql AS $$ SELECT ssn FROM customers WHERE id = i $$',
  );
  const catalogues = new Map<string, DatabaseCatalogue>();
  planner = new MaskingPlanner((database) => {
    let catalogue = catalogues.get(database);
    if (!catalogue) {
      let opened: Promise<CatalogueConnection> | undefined;
      catalogue = new DatabaseCatalogue(() => {
        opened ??= CatalogueConnection.open(
          { host: upstream.host, port: upstream.port, tls: 'disable', connectTimeoutMs: 5000 },
          new StaticCredentialSource({ user: upstream.user, password: upstream.password }),
          database,
        ).then((connection) => {
          connections.push(connection);
          return connection;
        });
        return opened;
      }, 60_000);
      catalogues.set(database, catalogue);
    }
    return catalogue;
  }, 100);
});

afterAll(async () => {
  for (const connection of connections) connection.close();
  connections = [];
  await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  await admin.end();
});

describe('masking plans against the real catalogue', () => {
  it('masks stored columns, and what derives from them, by rule', async () => {
    expect(await masks('SELECT * FROM customers')).toEqual(['-', '-', 'ssn', 'card', 'contact']);
    expect(await masks('SELECT id, upper(ssn) AS u, md5(card) FROM customers c')).toEqual([
      '-',
      'ssn',
      'card',
    ]);
    // One column from two masked ones takes the stronger method (redact over partial).
    expect(await masks('SELECT ssn || email FROM customers')).toEqual(['contact']);
  });

  it('traces views over views and materialised views through their definitions', async () => {
    expect(await masks('SELECT * FROM customer_tail')).toEqual(['-', 'ssn', '-']);
    expect(await masks('SELECT t4, n FROM tail_again')).toEqual(['ssn', '-']);
    expect(await masks('SELECT e FROM emails')).toEqual(['contact']);
  });

  it('refuses what it cannot trace and what would reveal masked values', async () => {
    expect(await masks('SELECT lookup_ssn(1)')).toMatch(/lookup_ssn is not built in/);
    expect(await masks("SELECT id FROM customers WHERE ssn LIKE '1%'")).toMatch(/filtering.*ssn/);
    expect(await masks("SELECT id FROM customers WHERE card = 'x'")).toEqual(['-']);
    expect(await masks("SELECT id FROM customers WHERE card LIKE 'x%'")).toMatch(
      /only be compared for equality/,
    );
    expect(await masks('CREATE TABLE copy AS SELECT ssn FROM customers')).toMatch(/would copy masked column/);
    expect(await masks("SELECT set_config('x', ssn, false) FROM customers")).toMatch(/side effects/);
    expect(await masks('SELECT most_common_vals FROM pg_stats')).toMatch(/sample values/);
  });

  it('leaves statements over unmasked columns alone', async () => {
    expect(
      await masks('SELECT o.total, c.name FROM orders o JOIN customers c ON c.id = o.customer_id'),
    ).toEqual(['-', '-']);
  });

  it('fails closed when the catalogue cannot be reached: the statement is refused, and the failure remembered briefly', async () => {
    const unreachable = new MaskingPlanner(
      () =>
        new DatabaseCatalogue(
          () =>
            CatalogueConnection.open(
              { host: '127.0.0.1', port: 1, tls: 'disable', connectTimeoutMs: 1000 },
              new StaticCredentialSource({ user: upstream.user, password: upstream.password }),
              'postgres',
            ),
          60_000,
        ),
      10,
    );
    const first = unreachable.plans(grant(), 'postgres', 'SELECT ssn FROM customers');
    expect(first).toBeInstanceOf(Promise);
    await first;
    // Asked again (as the gate does once the promise settles): a refusal, not another attempt.
    expect(() => unreachable.plans(grant(), 'postgres', 'SELECT ssn FROM customers')).toThrow();
  });
});
