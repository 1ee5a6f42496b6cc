import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { parse as parseYaml } from 'yaml';
import { testUpstream } from '../support/environment';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { fieldsOf, RawClient } from '../support/raw-client';
import { writeTestPolicy } from '../support/test-policy';
import { bind, execute, parse, sync } from '../support/wire';

interface Attempt {
  id: string;
  setup?: string[];
  attack: string;
  protocol?: 'simple' | 'extended' | 'pipeline';
  params?: string[];
}

const CORPUS: Attempt[] = parseYaml(
  readFileSync(path.join(__dirname, '..', 'corpus', 'read-only-bypasses.yaml'), 'utf8'),
);
const DATABASE = 'gh_corpus';
const SUBJECT = 'corpus-reader';
const MARKER_FILES = ['/tmp/gatehouse_corpus_copy_to_file', '/tmp/gatehouse_corpus_program'];

const SCHEMA = `
  CREATE SCHEMA corpus;
  CREATE TABLE corpus.accounts (id int PRIMARY KEY, owner text NOT NULL, balance int NOT NULL);
  INSERT INTO corpus.accounts VALUES (1, 'alice', 100), (2, 'bob', 250), (3, 'carol', 75);
  CREATE VIEW corpus.accounts_view AS SELECT * FROM corpus.accounts;
  CREATE TABLE corpus.audit_log (id serial PRIMARY KEY, note text);
  CREATE SEQUENCE corpus.seq;
  CREATE FUNCTION corpus.bump() RETURNS int LANGUAGE sql VOLATILE
    AS 'UPDATE corpus.accounts SET balance = balance + 1; SELECT 1';
  CREATE PROCEDURE corpus.wipe() LANGUAGE sql AS 'DELETE FROM corpus.accounts';
  CREATE FUNCTION corpus.bump2(int, int) RETURNS boolean LANGUAGE sql VOLATILE
    AS 'UPDATE corpus.accounts SET balance = balance + 1; SELECT true';
  CREATE OPERATOR corpus.=== (LEFTARG = int, RIGHTARG = int, FUNCTION = corpus.bump2);
  DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'corpus_reader') THEN CREATE ROLE corpus_reader; END IF;
  END $$;
  GRANT USAGE ON SCHEMA corpus TO corpus_reader;
  GRANT SELECT ON ALL TABLES IN SCHEMA corpus TO corpus_reader;
`;

/** Everything an attempt could change, read directly from the server as its superuser. */
const STATE = `
  SELECT string_agg(x, E'\\n' ORDER BY x) AS state FROM (
    SELECT 'account ' || id || ' ' || owner || ' ' || balance FROM corpus.accounts
    UNION ALL SELECT 'audit rows ' || count(*) FROM corpus.audit_log
    UNION ALL SELECT 'sequence ' || last_value || ' ' || is_called FROM corpus.seq
    UNION ALL SELECT 'relation ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text || ' ' || c.relnatts
              || ' ' || coalesce(c.relacl::text, '') || ' ' || coalesce(obj_description(c.oid), '')
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
    UNION ALL SELECT 'function ' || p.oid::regprocedure || ' ' || md5(p.prosrc)
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'corpus'
    UNION ALL SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg_temp%' AND nspname NOT LIKE 'pg_toast_temp%'
    UNION ALL SELECT 'role ' || rolname || ' ' || rolsuper FROM pg_roles WHERE rolname LIKE 'corpus%' OR rolname LIKE 'evil%'
    UNION ALL SELECT 'database setting ' || coalesce(setconfig::text, '') FROM pg_db_role_setting s
      JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = current_database()
    UNION ALL SELECT 'triggers ' || count(*) FROM pg_trigger WHERE NOT tgisinternal
    UNION ALL SELECT 'rules ' || count(*) FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
      WHERE c.relname = 'accounts'
    UNION ALL SELECT 'large objects ' || count(*) FROM pg_largeobject_metadata
    UNION ALL SELECT 'auto.conf settings ' || count(*) FROM pg_file_settings WHERE sourcefile LIKE '%auto.conf'
  ) facts(x)`;

async function direct(database = 'postgres'): Promise<Client> {
  const client = new Client({ ...testUpstream(), database });
  await client.connect();
  return client;
}

/** The SQLSTATE each statement of the attempt ended with ('' when it succeeded), attack last. */
async function runAttempt(gateway: TestGateway, attempt: Attempt): Promise<string> {
  const protocol = attempt.protocol ?? 'simple';
  if (protocol === 'pipeline') {
    const raw = await RawClient.connect(gateway.port);
    try {
      await raw.startTls();
      const login = await raw.login(gateway.token(SUBJECT), { user: SUBJECT, database: DATABASE });
      if (login.at(-1)?.code !== 'Z') throw new Error('login failed');
      raw.write(
        Buffer.concat([
          parse('', 'SELECT count(*) FROM accounts'),
          bind('', ''),
          execute(''),
          parse('', attempt.attack),
          bind('', ''),
          execute(''),
          sync(),
        ]),
      );
      const replies = await raw.until('Z');
      const error = replies.find((m) => m.code === 'E');
      return error ? fieldsOf(error).C! : '';
    } finally {
      raw.close();
    }
  }
  const client = new Client({
    ...gateway.connection(SUBJECT),
    database: DATABASE,
    ssl: { rejectUnauthorized: false },
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    for (const statement of attempt.setup ?? []) await client.query(statement).catch(() => undefined);
    const outcome =
      protocol === 'extended'
        ? client.query({ text: attempt.attack, values: attempt.params ?? [], queryMode: 'extended' } as never)
        : client.query(attempt.attack);
    return await outcome.then(
      () => '',
      (error: { code?: string }) => error.code ?? 'no-code',
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

function corpusPolicy(inDatabaseProtection: boolean): string {
  return `version: 1
identities:
  reader: { issuer: local, claims: { sub: ${SUBJECT} } }
grants:
  - name: read-only
    to: [reader]
    databases: [${DATABASE}]
    searchPath: [corpus]
${inDatabaseProtection ? '    readOnly: true\n    role: corpus_reader\n' : ''}    allow: [read, session, transaction]
    relations:
      read: [corpus.*, pg_catalog.*, information_schema.*]
    limits:
      statementTimeoutMs: 10000
`;
}

describe('a read-only identity cannot change the database (public bypass corpus)', () => {
  let admin: Client;
  let baseline: string;

  beforeAll(async () => {
    const server = await direct();
    await server.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
    await server.query(`CREATE DATABASE ${DATABASE}`);
    await server.end();
    admin = await direct(DATABASE);
    await admin.query(SCHEMA);
    baseline = (await admin.query(STATE)).rows[0].state;
    for (const file of MARKER_FILES) rmSync(file, { force: true });
  });
  afterAll(async () => {
    await admin.end();
  });

  it('keeps at least 60 attempts, each with a unique id', () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(60);
    expect(new Set(CORPUS.map((a) => a.id)).size).toBe(CORPUS.length);
  });

  describe.each([
    ['with a superuser upstream role and no protection in the database, the gateway alone', false],
    ['with read-only transactions and a SELECT-only role in the database as well', true],
  ])('%s', (_title, inDatabaseProtection) => {
    let gateway: TestGateway;

    beforeAll(async () => {
      gateway = await startTestGateway({
        policy: { file: writeTestPolicy(corpusPolicy(inDatabaseProtection)) },
      });
    });
    afterAll(async () => {
      await gateway.stop();
    });

    it.each(CORPUS.map((attempt) => [attempt.id, attempt] as const))('refuses %s', async (_id, attempt) => {
      const sqlstate = await runAttempt(gateway, attempt);
      if (inDatabaseProtection) expect(sqlstate).not.toBe('');
      else expect(sqlstate).toBe('42501');
      expect((await admin.query(STATE)).rows[0].state).toBe(baseline);
      for (const file of MARKER_FILES) expect(existsSync(file)).toBe(false);
    });

    it('still lets the identity read, in both protocols, in transactions and through cursors', async () => {
      const client = new Client({
        ...gateway.connection(SUBJECT),
        database: DATABASE,
        ssl: { rejectUnauthorized: false },
      });
      await client.connect();
      try {
        expect((await client.query('SELECT sum(balance)::int AS total FROM accounts')).rows[0].total).toBe(
          425,
        );
        const byId = await client.query({
          text: 'SELECT owner FROM corpus.accounts WHERE id = $1',
          values: [2],
        });
        expect(byId.rows[0].owner).toBe('bob');
        await client.query('BEGIN READ ONLY');
        await client.query('DECLARE c CURSOR FOR SELECT id FROM accounts ORDER BY id');
        expect((await client.query('FETCH 2 FROM c')).rows.map((r) => r.id)).toEqual([1, 2]);
        await client.query('COMMIT');
        await client.query('PREPARE rich AS SELECT owner FROM accounts WHERE balance > 200');
        expect((await client.query('EXECUTE rich')).rows).toEqual([{ owner: 'bob' }]);
        const catalog = await client.query(
          "SELECT count(*)::int AS n FROM pg_catalog.pg_class WHERE relname = 'accounts'",
        );
        expect(catalog.rows[0].n).toBe(1);
      } finally {
        await client.end();
      }
    });
  });
});
