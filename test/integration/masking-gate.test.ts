import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { testUpstream } from '../support/environment';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { writeTestPolicy } from '../support/test-policy';

const ssl = { rejectUnauthorized: false };
const schema = `masked_${randomBytes(4).toString('hex')}`;

const POLICY = `version: 1
identities:
  analyst: { issuer: local, claims: { sub: analyst } }
grants:
  - name: analytics
    to: [analyst]
    searchPath: [${schema}]
    allow: [read, session, transaction]
    relations: { read: ["${schema}.*", "pg_catalog.*"] }
    masking:
      rules:
        - { name: ssn, columns: [${schema}.people.ssn], method: partial, keep: { last: 4 } }
`;

/**
 * Masking decided on the gateway, end to end: the lineage of each statement is traced against the
 * real catalogue, and statements that would reveal masked values are refused with 42501 in both
 * protocols, while the rest run unchanged.
 */
describe('masking: statements decided by their lineage', () => {
  let gateway: TestGateway;
  let admin: Client;
  let analyst: Client;

  beforeAll(async () => {
    admin = new Client({ ...testUpstream(), database: 'postgres' });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.query(`CREATE TABLE ${schema}.people (id int, name text, ssn text)`);
    await admin.query(
      `INSERT INTO ${schema}.people VALUES (1, 'Ada', '123-45-6789'), (2, 'Bob', '987-65-4321')`,
    );
    await admin.query(
      `CREATE VIEW ${schema}.people_tail AS SELECT id, right(ssn, 4) AS tail FROM ${schema}.people`,
    );
    gateway = await startTestGateway({ policy: { file: writeTestPolicy(POLICY) } });
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

  it('runs statements over unmasked columns unchanged, in both protocols', async () => {
    const simple = await analyst.query('SELECT id, name FROM people ORDER BY id');
    expect(simple.rows).toEqual([
      { id: 1, name: 'Ada' },
      { id: 2, name: 'Bob' },
    ]);
    const extended = await analyst.query('SELECT name FROM people WHERE id = $1', [2]);
    expect(extended.rows).toEqual([{ name: 'Bob' }]);
  });

  it.each([
    ['SELECT * FROM people', /returns masked column "ssn"/],
    ['SELECT upper(ssn) AS loud FROM people', /returns masked column "loud"/],
    ['SELECT tail FROM people_tail', /returns masked column "tail"/],
    ["SELECT id FROM people WHERE ssn LIKE '1%'", /filtering.*ssn/],
    ['SELECT id FROM people ORDER BY ssn', /filtering.*ssn/],
  ])('refuses %s with 42501', async (sql, message) => {
    await expect(analyst.query(sql)).rejects.toMatchObject({ code: '42501', message });
    // A named statement goes through Parse/Bind/Execute.
    const name = `masked_${randomBytes(3).toString('hex')}`;
    await expect(analyst.query({ name, text: sql })).rejects.toMatchObject({ code: '42501', message });
    // The session goes on.
    await expect(analyst.query('SELECT 1 AS one')).resolves.toMatchObject({ rows: [{ one: 1 }] });
  });
});
