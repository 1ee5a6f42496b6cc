import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { Client } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import postgres from 'postgres';
import type { StatementRecord } from '../../core/audit/records';
import { readLocalRecordings } from '../../fargate-proxy/src/recording/local-recordings';
import { storedRecords } from '../support/audit-records';
import { libpqEnvironment, testHome, testUpstream } from '../support/environment';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { runCommand } from '../support/run-command';
import { writeTestPolicy } from '../support/test-policy';

const ssl = { rejectUnauthorized: false };
const schema = `masked_${randomBytes(4).toString('hex')}`;
const TOKEN_KEY = randomBytes(32);

const POLICY = `version: 1
identities:
  analyst: { issuer: local, claims: { sub: analyst } }
  explorer: { issuer: local, claims: { sub: explorer } }
grants:
  - name: analytics
    to: [analyst]
    searchPath: [${schema}]
    allow: [read, session, transaction]
    relations: { read: ["${schema}.*", "pg_catalog.*"] }
    masking:
      rules:
        - { name: ssn, columns: [${schema}.people.ssn], method: partial, keep: { last: 4 } }
        - { name: card, columns: [${schema}.people.card], method: token, predicates: token-equality }
        - { name: birth, columns: [${schema}.people.born], method: redact }
  - name: exploring
    to: [explorer]
    searchPath: [${schema}]
    allow: [read, session, transaction]
    relations: { read: ["${schema}.*", "pg_catalog.*"] }
    functions: [${schema}.echo_text]
    masking:
      untraceable: detect
      rules:
        - { name: ssn, columns: [${schema}.people.ssn], method: redact }
`;

/** What the token of a text value is, computed here independently of the gateway's code. */
function token(value: string): string {
  return `tok_${createHmac('sha256', TOKEN_KEY).update(value).digest('base64url').slice(0, 22)}`;
}

/**
 * Masking end to end, with real clients: results are rewritten by each column's lineage, in the simple
 * and the extended protocol, text and binary formats, statements described once and executed many
 * times; statements that would reveal masked values otherwise are refused with 42501.
 */
describe('masking: results rewritten by lineage', () => {
  let gateway: TestGateway;
  let admin: Client;
  let analyst: Client;
  let auditDirectory: string;

  beforeAll(async () => {
    admin = new Client({ ...testUpstream(), database: 'postgres' });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.query(`CREATE TABLE ${schema}.people (id int, name text, ssn text, card text, born date)`);
    await admin.query(
      `INSERT INTO ${schema}.people VALUES (1, 'Ada', '123-45-6789', '4111111111111111', '1815-12-10'),
                                           (2, 'Bob', '987-65-4321', '5500005555555559', NULL)`,
    );
    await admin.query(
      `CREATE VIEW ${schema}.people_tail AS SELECT id, right(ssn, 4) AS tail FROM ${schema}.people`,
    );
    await admin.query(`CREATE FUNCTION ${schema}.echo_text(t text) RETURNS text LANGUAGE sql AS 'SELECT t'`);
    const keyFile = path.join(testHome(), `masking-key-${schema}`);
    writeFileSync(keyFile, TOKEN_KEY, { mode: 0o600 });
    auditDirectory = mkdtempSync(path.join(testHome(), 'masking-audit-'));
    gateway = await startTestGateway({
      policy: { file: writeTestPolicy(POLICY) },
      masking: { tokenKeyFile: keyFile },
      audit: { directory: auditDirectory, digestIntervalMs: 500 },
    });
    analyst = new Client({ ...gateway.connection('analyst'), ssl });
    analyst.on('error', () => undefined);
    await analyst.connect();
  });

  afterAll(async () => {
    await analyst?.end();
    await gateway?.stop();
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  });

  const expected = [
    { id: 1, name: 'Ada', ssn: '*******6789', card: token('4111111111111111') },
    { id: 2, name: 'Bob', ssn: '*******4321', card: token('5500005555555559') },
  ];

  it('masks plain columns in the simple protocol, and leaves the rest as the server sent it', async () => {
    const result = await analyst.query('SELECT id, name, ssn, card FROM people ORDER BY id');
    expect(result.rows).toEqual(expected);
    const born = await analyst.query('SELECT born FROM people ORDER BY id');
    // A date placeholder where there was a date; NULL stays NULL.
    expect(born.rows.map((r) => (r.born === null ? null : (r.born as Date).getFullYear()))).toEqual([
      2000,
      null,
    ]);
  });

  it('masks in the extended protocol, text and binary formats, named statements executed again', async () => {
    const text = await analyst.query('SELECT id, name, ssn, card FROM people WHERE id > $1 ORDER BY id', [0]);
    expect(text.rows).toEqual(expected);
    // node-postgres asks for binary results with `binary: true` (not in its type definitions).
    const binaryQuery = {
      text: 'SELECT id, name, ssn, card FROM people WHERE id > $1 ORDER BY id',
      values: [0],
      binary: true,
    };
    const binary = await analyst.query(binaryQuery as { text: string; values: unknown[] });
    expect(binary.rows).toEqual(expected);
    for (let i = 0; i < 3; i++) {
      const named = await analyst.query({
        name: 'people_again',
        text: 'SELECT ssn FROM people WHERE id = $1',
        values: [1],
      });
      expect(named.rows).toEqual([{ ssn: '*******6789' }]);
    }
  });

  it('masks what derives from masked columns: expressions, views, subqueries, set operations', async () => {
    const upper = await analyst.query('SELECT upper(ssn) AS loud, id FROM people ORDER BY id');
    expect(upper.rows).toEqual([
      { loud: '*******6789', id: 1 },
      { loud: '*******4321', id: 2 },
    ]);
    // Four characters kept of a four-character value would be all of it: all are masked.
    const tail = await analyst.query('SELECT tail FROM people_tail ORDER BY id');
    expect(tail.rows).toEqual([{ tail: '****' }, { tail: '****' }]);
    const union = await analyst.query(
      'SELECT name FROM people WHERE id = 1 UNION ALL SELECT ssn FROM people WHERE id = 1',
    );
    expect(union.rows).toEqual([{ name: '***' }, { name: '*******6789' }]);
    const json = await analyst.query('SELECT row_to_json(p) AS j FROM people p WHERE id = 1');
    expect(JSON.stringify(json.rows)).not.toContain('123-45-6789');
  });

  it('masks for postgres.js, which describes a statement once and executes it many times', async () => {
    const { host, port, user, password, database } = gateway.connection('analyst');
    const sql = postgres({
      host,
      port,
      user,
      password,
      database,
      ssl,
      max: 1,
      prepare: true,
      onnotice: () => undefined,
    });
    try {
      for (const id of [1, 2, 1]) {
        const rows = await sql`SELECT ssn, card FROM people WHERE id = ${id}`;
        expect([...rows]).toEqual([{ ssn: expected[id - 1]!.ssn, card: expected[id - 1]!.card }]);
      }
    } finally {
      await sql.end({ timeout: 5 });
    }
  });

  it.each([
    ["SELECT id FROM people WHERE ssn LIKE '1%'", /filtering.*ssn/],
    ['SELECT id FROM people ORDER BY ssn', /filtering.*ssn/],
    ["SELECT id FROM people WHERE card LIKE '4%'", /only be compared for equality with a token/],
    [
      "SELECT id FROM people WHERE card = '4111111111111111'",
      /only be compared with a token this gateway returned/,
    ],
    ['SELECT most_common_vals::text FROM pg_stats', /sample values/],
  ])('refuses %s with 42501, in both protocols', async (sql, message) => {
    await expect(analyst.query(sql)).rejects.toMatchObject({ code: '42501', message });
    const name = `masked_${randomBytes(3).toString('hex')}`;
    await expect(analyst.query({ name, text: sql })).rejects.toMatchObject({ code: '42501', message });
    await expect(analyst.query('SELECT 1 AS one')).resolves.toMatchObject({ rows: [{ one: 1 }] });
  });

  it('lets a client filter on a token column with a token it received, in both protocols', async () => {
    const [first] = (await analyst.query('SELECT id, card FROM people WHERE id = 1')).rows;
    const found = await analyst.query(`SELECT id, card FROM people WHERE card = '${first.card}'`);
    expect(found.rows).toEqual([{ id: 1, card: first.card }]);
    const bound = await analyst.query('SELECT id FROM people WHERE card = $1', [first.card]);
    expect(bound.rows).toEqual([{ id: 1 }]);
    // A token this gateway never issued is refused, whatever it looks like.
    await expect(
      analyst.query("SELECT id FROM people WHERE card = 'tok_AAAAAAAAAAAAAAAAAAAAAA'"),
    ).rejects.toMatchObject({
      code: '42501',
    });
    await expect(
      analyst.query('SELECT id FROM people WHERE card = $1', ['4111111111111111']),
    ).rejects.toMatchObject({
      code: '42501',
    });
  });

  /** The bytes a COPY … TO STDOUT sends the client. */
  function copyOut(sql: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      const stream = analyst.query(copyTo(sql));
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', reject);
      stream.on('end', () => resolve(Buffer.concat(chunks)));
    });
  }

  it('masks COPY TO STDOUT in text, CSV (quoted, with a header) and binary', async () => {
    const text = await copyOut('COPY (SELECT id, ssn, card, born FROM people ORDER BY id) TO STDOUT');
    expect(text.toString()).toBe(
      `1\t*******6789\t${token('4111111111111111')}\t2000-01-01\n2\t*******4321\t${token('5500005555555559')}\t\\N\n`,
    );
    const csv = await copyOut('COPY people (id, name, ssn) TO STDOUT WITH (FORMAT csv, HEADER)');
    expect(csv.toString().split('\n').sort()).toEqual([
      '',
      '1,Ada,"*******6789"',
      '2,Bob,"*******4321"',
      'id,name,ssn',
    ]);
    const binary = await copyOut('COPY (SELECT id, ssn FROM people WHERE id = 1) TO STDOUT (FORMAT binary)');
    expect(binary.includes(Buffer.from('123-45-6789'))).toBe(false);
    expect(binary.includes(Buffer.from('*******6789'))).toBe(true);
    // The same COPY straight from the server differs only in the masked value.
    const direct = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const stream = admin.query(
        copyTo(`COPY (SELECT id, ssn FROM ${schema}.people WHERE id = 1) TO STDOUT (FORMAT binary)`),
      );
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', reject);
      stream.on('end', () => resolve(Buffer.concat(chunks)));
    });
    expect(binary.toString('latin1').replace('*******6789', '123-45-6789')).toBe(direct.toString('latin1'));
    await expect(analyst.query('SELECT 1 AS one')).resolves.toMatchObject({ rows: [{ one: 1 }] });
  });

  it('takes the value out of an error that would echo it (a failed cast)', async () => {
    const cast = await analyst.query('SELECT ssn::int FROM people').catch((error: Error) => error);
    expect(cast).toMatchObject({ code: '22P02', message: 'invalid input syntax for type integer: (masked)' });
    await expect(analyst.query('SELECT 1 AS one')).resolves.toMatchObject({ rows: [{ one: 1 }] });
  });

  it('records which columns were masked and how many values; withholds literals and parameters that may be masked values', async () => {
    const client = new Client({ ...gateway.connection('analyst'), ssl });
    await client.connect();
    await client.query('SELECT id, ssn, card FROM people ORDER BY id');
    await expect(client.query("SELECT id FROM people WHERE ssn LIKE '123%'")).rejects.toMatchObject({
      code: '42501',
    });
    const [{ card }] = (await client.query('SELECT card FROM people WHERE id = 1')).rows;
    await client.query('SELECT ssn FROM people WHERE card = $1', [card]);
    await client.end();
    // Recordings reach their file at the next flush.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const all = storedRecords(auditDirectory);
    const statements = all.filter((r): r is StatementRecord => r.type === 'statement');
    expect(statements.find((r) => r.text.startsWith('SELECT id, ssn, card'))).toMatchObject({
      masking: {
        columns: [
          { name: 'ssn', rule: 'ssn', values: 2 },
          { name: 'card', rule: 'card', values: 2 },
        ],
      },
    });
    // The probe's literal and the parameter's value (and its hash) are not in the trail.
    expect(statements.find((r) => r.rule === 'masking')).toMatchObject({
      decision: 'refused',
      redacted: true,
    });
    const lookup = statements.find((r) => r.text.startsWith('SELECT ssn FROM people WHERE card'));
    expect(lookup).toMatchObject({ redacted: true });
    expect(lookup?.parameters).toBeUndefined();
    const validate = new Ajv2020({ strict: false }).compile(
      JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'docs', 'audit-records.schema.json'), 'utf8')),
    );
    for (const record of all) expect([record.type, validate(record)]).toEqual([record.type, true]);
    const trail = JSON.stringify(all);
    expect(trail).not.toContain('123%');
    expect(trail).not.toContain('4111111111111111');
    const recordings = Buffer.concat(readLocalRecordings(auditDirectory)).toString('latin1');
    expect(recordings).toContain('SELECT id FROM people WHERE ssn LIKE');
    expect(recordings).not.toContain('123%');
    expect(recordings).not.toContain('123-45-6789');
  });

  it('runs value detectors over columns of unknown origin when the grant says detect', async () => {
    const explorer = new Client({ ...gateway.connection('explorer'), ssl });
    await explorer.connect();
    try {
      const found = await explorer.query("SELECT echo_text('ssn 123-45-6789') AS v, echo_text('hello') AS w");
      expect(found.rows).toEqual([{ v: '****', w: 'hello' }]);
      // Refused for the analyst, whose grant refuses what it cannot trace.
      await expect(analyst.query("SELECT echo_text('x')")).rejects.toMatchObject({ code: '42501' });
    } finally {
      await explorer.end();
    }
  });

  it('masks for psql, in a query and in \\copy', async () => {
    const connection = gateway.connection('analyst');
    const env = libpqEnvironment(connection, { HOME: testHome() });
    const query = await runCommand(
      '/usr/bin/psql',
      ['-X', '-A', '-t', '-c', 'SELECT id, ssn FROM people ORDER BY id'],
      {
        env,
        timeoutMs: 20_000,
      },
    );
    expect(query.stdout.trim().split('\n')).toEqual(['1|*******6789', '2|*******4321']);
    const copied = await runCommand(
      '/usr/bin/psql',
      ['-X', '-c', '\\copy (SELECT ssn FROM people ORDER BY id) TO STDOUT'],
      {
        env,
        timeoutMs: 20_000,
      },
    );
    expect(copied.stdout).toBe('*******6789\n*******4321\n');
  });

  it('masks for pgjdbc: a server-prepared statement with binary transfer, executed again and again', async () => {
    const classes = mkdtempSync(path.join(testHome(), 'jdbc-masking-'));
    const jar = '/usr/share/java/postgresql.jar';
    const env = { PATH: process.env.PATH, LANG: 'C.UTF-8' };
    const source = path.join(__dirname, 'jdbc', 'GatehouseJdbcMasking.java');
    const compiled = await runCommand(
      '/usr/bin/javac',
      ['-encoding', 'UTF-8', '-cp', jar, '-d', classes, source],
      {
        env,
      },
    );
    expect(compiled.stderr).toBe('');
    const connection = gateway.connection('analyst');
    const url =
      `jdbc:postgresql://${connection.host}:${connection.port}/${connection.database}` +
      '?sslmode=require&ssl=true&sslfactory=org.postgresql.ssl.NonValidatingFactory' +
      '&prepareThreshold=1&binaryTransfer=true&connectTimeout=10';
    const run = await runCommand('/usr/bin/java', ['-cp', `${classes}:${jar}`, 'GatehouseJdbcMasking'], {
      env: {
        ...env,
        GATEHOUSE_JDBC_URL: url,
        GATEHOUSE_JDBC_USER: connection.user,
        GATEHOUSE_JDBC_PASSWORD: connection.password,
      },
      timeoutMs: 60_000,
    });
    expect(run.stderr).toBe('');
    const rows = expected.map((row) => `${row.id}|${row.ssn}|${row.card}`);
    expect(run.stdout.trim().split('\n')).toEqual([...rows, ...rows, ...rows, 'done']);
  }, 90_000);

  it('masks for psycopg 3: server-side binding, prepared statements, binary results', async () => {
    const connection = gateway.connection('analyst');
    const script = [
      'import psycopg',
      'with psycopg.connect() as conn:',
      '    for i in range(3):',
      "        print(conn.execute('SELECT id, ssn, card FROM people WHERE id = %s', (1,), prepare=True).fetchone())",
      '    with conn.cursor(binary=True) as cur:',
      "        print(cur.execute('SELECT id, ssn FROM people WHERE id = %s', (2,)).fetchone())",
    ].join('\n');
    const run = await runCommand('/usr/bin/python3', ['-c', script], {
      env: libpqEnvironment(connection),
      timeoutMs: 30_000,
    });
    expect(run.stderr).toBe('');
    const first = `(1, '*******6789', '${expected[0]!.card}')`;
    expect(run.stdout.trim().split('\n')).toEqual([first, first, first, "(2, '*******4321')"]);
  });
});
