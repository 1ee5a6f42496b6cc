import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { Client } from 'pg';
import { LocalDigestSigner } from '../../core/audit/digest';
import type { SessionStartRecord, StatementRecord } from '../../core/audit/records';
import { verifyStore } from '../../core/audit/verify';
import { readLocalStore } from '../../fargate-proxy/src/audit/local-store';
import { readLocalRecordings } from '../../fargate-proxy/src/recording/local-recordings';
import { storedRecords } from '../support/audit-records';
import { auditKeyFile, testHome } from '../support/environment';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { writeTestPolicy } from '../support/test-policy';

const ssl = { rejectUnauthorized: false };
const POLICY = `version: 1
identities:
  auditor: { issuer: local, claims: { sub: audited } }
  writer: { issuer: local, claims: { sub: writes-only } }
grants:
  - name: audited
    to: [auditor]
    searchPath: any
    allow: [read, write, ddl, admin, session, transaction]
    relations: { read: ["*"], write: ["*"], deny: [public.audit_secret] }
    functions: ["*"]
  - name: writes-only
    to: [writer]
    searchPath: any
    allow: [read, write, ddl]
    relations: { read: ["*"], write: ["*"], deny: [public.audit_secret] }
    audit: { statements: [write, ddl], record: false }
`;

describe('the audit trail', () => {
  let gateway: TestGateway;
  let directory: string;

  beforeAll(async () => {
    directory = mkdtempSync(path.join(testHome(), 'audit-trail-'));
    gateway = await startTestGateway({
      policy: { file: writeTestPolicy(POLICY) },
      audit: { directory, digestIntervalMs: 500 },
    });
  });
  afterAll(async () => {
    await gateway.stop();
  });

  it('writes one record per executed statement, joined across Parse/Bind/Execute, and verifies', async () => {
    const client = new Client({ ...gateway.connection('audited'), ssl, application_name: 'audit-test' });
    await client.connect();
    await client.query('SELECT 1 AS one; SELECT 2 AS two');
    // Same shape, other literals: each record carries the text actually sent.
    await client.query('SELECT 3 AS one; SELECT 4 AS two');
    await client.query({ text: 'SELECT $1::int + 1 AS n', values: [41] });
    await client.query('CREATE TEMP TABLE audit_t (v int)');
    await expect(client.query('INSERT INTO audit_t VALUES (1), (2), (3) RETURNING v')).resolves.toMatchObject(
      { rowCount: 3 },
    );
    await expect(client.query('SELECT * FROM audit_secret')).rejects.toMatchObject({ code: '42501' });
    await expect(client.query('SELECT 1/0')).rejects.toMatchObject({ code: '22012' });
    await client.query("CREATE ROLE audit_role_x PASSWORD 'hunter2'").catch(() => undefined);
    await client.query('DROP ROLE IF EXISTS audit_role_x');
    await client.end();
    await expect(
      new Client({ ...gateway.connection('audited'), password: 'not-a-token', ssl }).connect(),
    ).rejects.toMatchObject({ code: '28000' });
    await gateway.stop();

    const all = storedRecords(directory);
    const statements = all.filter((r): r is StatementRecord => r.type === 'statement');
    expect(statements.map((r) => [r.text, r.decision, r.outcome.tag ?? r.outcome.sqlstate])).toEqual([
      ['SELECT 1 AS one', 'allowed', 'SELECT 1'],
      ['SELECT 2 AS two', 'allowed', 'SELECT 1'],
      ['SELECT 3 AS one', 'allowed', 'SELECT 1'],
      ['SELECT 4 AS two', 'allowed', 'SELECT 1'],
      ['SELECT $1::int + 1 AS n', 'allowed', 'SELECT 1'],
      ['CREATE TEMP TABLE audit_t (v int)', 'allowed', 'CREATE TABLE'],
      ['INSERT INTO audit_t VALUES (1), (2), (3) RETURNING v', 'allowed', 'INSERT 0 3'],
      ['SELECT * FROM audit_secret', 'refused', '42501'],
      ['SELECT 1/0', 'allowed', '22012'],
      ['CREATE ROLE audit_role_x PASSWORD ?', 'allowed', 'CREATE ROLE'],
      ['DROP ROLE IF EXISTS audit_role_x', 'allowed', 'DROP ROLE'],
    ]);
    const extended = statements[4]!;
    expect(extended).toMatchObject({
      protocol: 'extended',
      parameters: [{ format: 'text', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }],
    });
    expect(statements[6]).toMatchObject({
      command: 'INSERT',
      class: 'write',
      writes: ['audit_t'],
      outcome: { rows: 3 },
      // RowDescription (27 bytes), three DataRows (12 each), CommandComplete (16): what the client got.
      bytesOut: 79,
    });
    // The two statements of one Query: each its own result (RowDescription 29, DataRow 12, CommandComplete 14).
    expect(statements.slice(0, 2).map((r) => r.bytesOut)).toEqual([55, 55]);
    expect(statements[7]).toMatchObject({ rule: 'relations', reads: ['audit_secret'] });
    expect(statements[9]).toMatchObject({ redacted: true });
    expect(JSON.stringify(all)).not.toContain('hunter2');
    const starts = all.filter((r): r is SessionStartRecord => r.type === 'session-start');
    expect(starts.map((r) => r.authentication)).toEqual(['accepted', 'malformed']);
    expect(starts[0]).toMatchObject({
      identity: { subject: 'audited' },
      grant: 'audited',
      source: { address: expect.any(String) },
    });
    expect(all.filter((r) => r.type === 'session-end')).toHaveLength(2);

    // Every record is valid against the published schema.
    const validate = new Ajv2020({ strict: false }).compile(
      JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'docs', 'audit-records.schema.json'), 'utf8')),
    );
    for (const record of all)
      expect([record.type, validate(record), validate.errors]).toEqual([record.type, true, null]);
    const publicKey = new LocalDigestSigner(readFileSync(auditKeyFile(), 'utf8')).publicKeyPem();
    const report = verifyStore(readLocalStore(directory), publicKey);
    expect(report).toMatchObject({ ok: true, problems: [] });
    expect(report.records).toBe(all.length);
  });
});

describe('what a grant selects for the audit trail', () => {
  it('records only the selected statement classes, always refusals, and no recording when told not to', async () => {
    const directory = mkdtempSync(path.join(testHome(), 'audit-selection-'));
    const gateway = await startTestGateway({
      policy: { file: writeTestPolicy(POLICY) },
      audit: { directory },
    });
    try {
      const client = new Client({ ...gateway.connection('writes-only'), ssl });
      await client.connect();
      await client.query('SELECT 1');
      await client.query('CREATE TEMP TABLE selection_t (v int)');
      await client.query('INSERT INTO selection_t VALUES (1)');
      await client.query('SELECT * FROM selection_t');
      await expect(client.query('SELECT * FROM audit_secret')).rejects.toMatchObject({ code: '42501' });
      await client.end();
    } finally {
      await gateway.stop();
    }
    const all = storedRecords(directory);
    expect(all.filter((r) => r.type === 'statement').map((r) => (r as StatementRecord).text)).toEqual([
      'CREATE TEMP TABLE selection_t (v int)',
      'INSERT INTO selection_t VALUES (1)',
      'SELECT * FROM audit_secret',
    ]);
    expect(all.find((r) => r.type === 'session-end')).toMatchObject({ statements: 5 });
    expect(readLocalRecordings(directory).every((bytes) => bytes.length === 0)).toBe(true);
  });
});

describe('policy reloads in the audit trail', () => {
  it('records each reload, applied or rejected, with the digests', async () => {
    const directory = mkdtempSync(path.join(testHome(), 'audit-reload-'));
    const file = writeTestPolicy(POLICY);
    const gateway = await startTestGateway({
      policy: { file, reloadCheckMs: 50 },
      audit: { directory },
    });
    const waitForRecords = async (count: number) => {
      for (let i = 0; i < 100 && reloads().length < count; i++) await new Promise((r) => setTimeout(r, 50));
    };
    const reloads = () => storedRecords(directory).filter((r) => r.type === 'policy-reload');
    try {
      writeFileSync(file, POLICY.replace('audit_secret', 'other_secret'));
      await waitForRecords(1);
      writeFileSync(file, `${POLICY}\n    nonsense: 1\n`);
      await waitForRecords(2);
    } finally {
      await gateway.stop();
    }
    expect(reloads()).toMatchObject([
      { outcome: 'applied', digest: expect.stringMatching(/^[0-9a-f]{64}$/), previous: expect.any(String) },
      { outcome: 'rejected', error: expect.stringContaining('unknown key "nonsense"') },
    ]);
  });
});
