import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { parse } from 'yaml';
import { testUpstream } from '../support/environment';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { writeTestPolicy } from '../support/test-policy';

/**
 * The two public masking corpora (test/corpus/masking-*.yaml), run through the gateway with real
 * clients and compared with the same statements run directly against the server.
 */
interface Entry {
  name: string;
  sql: string;
  binary?: boolean;
  copy?: boolean;
  values?: unknown[];
  /** Legitimate set: the columns that come back masked (by name; COPY: by the header or table order). */
  masked?: string[];
}

const CORPUS = path.join(__dirname, '..', 'corpus');
const exfiltration = parse(readFileSync(path.join(CORPUS, 'masking-exfiltration.yaml'), 'utf8')) as Entry[];
const legitimate = parse(readFileSync(path.join(CORPUS, 'masking-legitimate.yaml'), 'utf8')) as Entry[];

const ssl = { rejectUnauthorized: false };
const base = `mcorpus_${randomBytes(3).toString('hex')}`;
const REAL = `${base}_a`;
/** The same tables with other masked values: what differs between the two derives from them. */
const TWIN = `${base}_b`;
const PEOPLE_COLUMNS = ['id', 'name', 'ssn', 'card', 'email'];

const SECRETS: Record<string, (string | null)[][]> = {
  [REAL]: [
    ['123-45-6789', '4111111111111111', 'ada@secret.example'],
    ['987-65-4321', '5500005555555559', 'bob@hidden.example'],
    ['555-12-3456', '378282246310005', null],
  ],
  [TWIN]: [
    ['111-22-3334', '6011111111111117', 'ada@other.example'],
    ['222-33-4445', '3530111333300000', 'bob@else.example'],
    ['333-44-5556', '5105105105105100', null],
  ],
};
const RAW_VALUES = SECRETS[REAL]!.flat().filter((value): value is string => value !== null);

const POLICY = `version: 1
identities:
  reporter: { issuer: local, claims: { sub: reporter } }
grants:
  - name: reporting
    to: [reporter]
    searchPath: [${REAL}]
    allow: [read, session, transaction]
    relations: { read: ["${REAL}.*", "pg_catalog.*"] }
    masking:
      rules:
        - { name: ssn, columns: [${REAL}.people.ssn], method: partial, keep: { last: 4 } }
        - { name: card, columns: [${REAL}.people.card], method: token, predicates: token-equality }
        - { name: email, columns: [${REAL}.people.email], method: redact }
`;

/** What a client received: each row's cells as text, and the text of an error if there was one. */
interface Received {
  rows: string[][];
  error?: string;
  /** COPY: the raw bytes. */
  copied?: string;
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '\u2400';
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return value.toString('hex');
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

async function run(client: Client, entry: Entry): Promise<Received> {
  try {
    if (entry.copy) {
      const copied = await new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        const stream = client.query(copyTo(entry.sql));
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('error', reject);
        stream.on('end', () => resolve(Buffer.concat(chunks)));
      });
      const text = copied.toString('latin1');
      const separator = /FORMAT csv/i.test(entry.sql) ? ',' : '\t';
      const rows = text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => line.split(separator));
      return { rows, copied: text };
    }
    const config = { text: entry.sql, values: entry.values, rowMode: 'array' as const, binary: entry.binary };
    const result = (await client.query(config as never)) as unknown;
    const results = (Array.isArray(result) ? result : [result]) as { rows?: unknown[][] }[];
    return { rows: results.flatMap((r) => (r.rows ?? []).map((row) => row.map(cell))) };
  } catch (error) {
    const e = error as { message?: string; detail?: string; hint?: string; where?: string };
    return { rows: [], error: [e.message, e.detail, e.hint, e.where].filter(Boolean).join(' | ') };
  }
}

describe('masking corpora, compared with the server directly', () => {
  let gateway: TestGateway;
  let admin: Client;
  let reporter: Client;

  async function direct(schema: string, entry: Entry): Promise<Received> {
    await admin.query(`SET search_path TO ${schema}`);
    return run(admin, entry);
  }

  beforeAll(async () => {
    admin = new Client({ ...testUpstream(), database: 'postgres' });
    await admin.connect();
    for (const schema of [REAL, TWIN]) {
      await admin.query(`CREATE SCHEMA ${schema}; SET search_path TO ${schema}`);
      await admin.query(
        'CREATE TABLE people (id int PRIMARY KEY, name text, ssn text, card text, email text)',
      );
      const names = ['Ada', 'Bob', 'Cy'];
      for (const [i, [ssn, card, email]] of SECRETS[schema]!.entries()) {
        await admin.query('INSERT INTO people VALUES ($1, $2, $3, $4, $5)', [
          i + 1,
          names[i],
          ssn,
          card,
          email,
        ]);
      }
      await admin.query('CREATE TABLE orders (id int, person_id int, total numeric)');
      await admin.query('INSERT INTO orders VALUES (1, 1, 10.50), (2, 1, 20.00), (3, 2, 5.25)');
      await admin.query('CREATE VIEW people_tail AS SELECT id, right(ssn, 4) AS tail FROM people');
      await admin.query('CREATE VIEW people_tail_again AS SELECT id, tail AS t4 FROM people_tail');
      await admin.query('CREATE VIEW people_pub AS SELECT id, name FROM people');
      await admin.query('CREATE MATERIALIZED VIEW emails_mv AS SELECT id, lower(email) AS e FROM people');
      await admin.query('ANALYZE people');
    }
    gateway = await startTestGateway({ policy: { file: writeTestPolicy(POLICY) } });
    reporter = new Client({ ...gateway.connection('reporter'), ssl });
    reporter.on('error', () => undefined);
    await reporter.connect();
  }, 60_000);

  afterAll(async () => {
    await reporter?.end();
    await gateway?.stop();
    await admin.query(`DROP SCHEMA ${REAL} CASCADE; DROP SCHEMA ${TWIN} CASCADE`);
    await admin.end();
  });

  it('holds at least 40 exfiltration attempts and 20 legitimate queries', () => {
    expect(exfiltration.length).toBeGreaterThanOrEqual(40);
    expect(legitimate.length).toBeGreaterThanOrEqual(20);
  });

  it.each(exfiltration.map((entry) => [entry.name, entry] as const))(
    'exfiltration: %s',
    async (_name, entry) => {
      const through = await run(reporter, entry);
      const real = await direct(REAL, entry);
      const twin = await direct(TWIN, entry);
      // No raw masked value anywhere in what the client received.
      const everything = [...through.rows.flat(), through.error ?? '', through.copied ?? ''].join('\n');
      for (const secret of RAW_VALUES) expect(everything).not.toContain(secret);
      // No value derived from masked values at its place.
      real.rows.forEach((row, i) => {
        row.forEach((value, j) => {
          const derived = twin.rows[i]?.[j] !== value;
          if (derived && through.rows[i]?.[j] !== undefined && value !== '\u2400') {
            expect({ row: i, column: j, value: through.rows[i]![j] }).not.toEqual({
              row: i,
              column: j,
              value,
            });
          }
        });
      });
      // The session goes on.
      await expect(reporter.query('SELECT 1 AS one')).resolves.toMatchObject({ rows: [{ one: 1 }] });
    },
  );

  it.each(legitimate.map((entry) => [entry.name, entry] as const))('legitimate: %s', async (_name, entry) => {
    const through = await run(reporter, entry);
    const real = await direct(REAL, entry);
    expect(through.error).toBeUndefined();
    expect(through.rows.length).toBe(real.rows.length);
    const columns = entry.copy
      ? /HEADER/i.test(entry.sql)
        ? (real.rows[0] ?? [])
        : PEOPLE_COLUMNS
      : await columnNames(reporter, entry);
    const masked = new Set((entry.masked ?? []).map((name) => columns.indexOf(name)));
    const firstData = entry.copy && /HEADER/i.test(entry.sql) ? 1 : 0;
    real.rows.forEach((row, i) => {
      row.forEach((value, j) => {
        const got = through.rows[i]![j];
        if (i < firstData || !masked.has(j) || value === '\u2400' || value === '\\N' || value === '') {
          expect({ row: i, column: columns[j], value: got }).toEqual({ row: i, column: columns[j], value });
        } else {
          expect({ row: i, column: columns[j], value: got }).not.toEqual({
            row: i,
            column: columns[j],
            value,
          });
        }
      });
    });
  });

  /** A query's column names, as the client sees them. */
  async function columnNames(client: Client, entry: Entry): Promise<string[]> {
    const result = await client.query({ text: entry.sql, values: entry.values, rowMode: 'array' } as never);
    return (result as { fields: { name: string }[] }).fields.map((field) => field.name);
  }
});
