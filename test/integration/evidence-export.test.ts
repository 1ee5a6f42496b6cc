import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { LocalDigestSigner } from '../../core/audit/digest';
import type { AuditRecord, PolicyReloadRecord } from '../../core/audit/records';
import type {
  ApprovalExtract,
  AuthenticationFailureExtract,
  MaskingExtract,
  PolicyChangeExtract,
} from '../../core/evidence/evidence-analysis';
import type {
  ControlStatus,
  EffectiveScope,
  EvidenceSummary,
  IdentityActivity,
  IdentityRuleUsage,
  Manifest,
} from '../../core/evidence/evidence-package';
import { verifyManifestSignature } from '../../core/evidence/manifest';
import { oscalValidator } from '../core/evidence/evidence-fixture';
import { storedRecords } from '../support/audit-records';
import { auditKeyFile, testHome, testIssuer, testUpstream } from '../support/environment';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { runCommand } from '../support/run-command';
import { writeTestPolicy } from '../support/test-policy';

const ssl = { rejectUnauthorized: false };
const CLI = path.join(__dirname, '..', '..', 'dist', 'bin', 'gatehouse.js');
const schema = `evidence_${randomBytes(4).toString('hex')}`;

/** The policy of the period; `leaverAdmitted: false` is the change made during it. */
function policy(leaverAdmitted: boolean): string {
  return `version: 1
identities:
  analyst: { issuer: local, claims: { sub: ev-analyst } }
  migrator: { issuer: local, claims: { sub: ev-migrator } }
  leaver: { issuer: local, claims: { sub: ev-leaver } }
  dormant: { issuer: local, claims: { sub: ev-dormant } }
approvers:
  alice: { email: alice@example.com }
  bob: { email: bob@example.com }
grants:
  - name: analytics
    to: [analyst${leaverAdmitted ? ', leaver' : ''}]
    searchPath: [${schema}]
    allow: [read, session, transaction]
    relations: { read: ["${schema}.*", "pg_catalog.*"], deny: [${schema}.secrets] }
    masking:
      rules:
        - { name: ssn, columns: [${schema}.people.ssn], method: partial, keep: { last: 4 } }
  - name: migrations
    to: [migrator, dormant]
    searchPath: [${schema}]
    allow: [read, write, ddl, session, transaction]
    relations: { read: ["${schema}.*"], write: ["${schema}.*"] }
    rules:
      - name: drops-need-a-dba
        decision: approve
        reason: dropping a table needs a DBA
        when: { commands: [DROP TABLE] }
        approval: { approvers: [alice, bob], timeoutSeconds: 60 }
      - name: no-truncate
        decision: deny
        reason: TRUNCATE is not allowed here
        when: { commands: [TRUNCATE] }
`;
}

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

function readJsonl<T>(file: string): T[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as T);
}

async function waitFor<T>(what: string, find: () => T | undefined | Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const found = await find();
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * The evidence package of a period recorded through the real gateway and PostgreSQL: an analyst reads
 * masked and refused columns, a migrator drops a table under an approval given with the CLI and is
 * refused a TRUNCATE by a deny rule, an identity is admitted and then dropped by a policy change, a
 * token is refused. The export CLI (from dist/) writes the package; then a stored record is changed
 * and the next package says AU-9 is not satisfied, and why.
 */
describe('gatehouse export: the evidence package of real sessions', () => {
  let gateway: TestGateway | undefined;
  let admin: Client;
  let auditDirectory: string;
  let approvalsDirectory: string;
  let policyFile: string;
  let publicKey: string;
  let from: string;
  let to: string;

  const cli = (...args: string[]) =>
    runCommand(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH },
    });

  async function connect(subject: string): Promise<Client> {
    const client = new Client({ ...gateway!.connection(subject), ssl });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  const exportTo = (out: string) =>
    cli(
      'export',
      '--store',
      auditDirectory,
      '--policy',
      policyFile,
      '--public-key',
      publicKey,
      '--signing-key',
      auditKeyFile(),
      '--from',
      from,
      '--to',
      to,
      '--out',
      out,
    );

  beforeAll(async () => {
    admin = new Client({ ...testUpstream(), database: 'postgres' });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.query(`CREATE TABLE ${schema}.people (id int, name text, ssn text)`);
    await admin.query(
      `INSERT INTO ${schema}.people VALUES (1, 'Ada', '123-45-6789'), (2, 'Bob', '987-65-4321')`,
    );
    await admin.query(`CREATE TABLE ${schema}.secrets (v text)`);
    await admin.query(`CREATE TABLE ${schema}.scratch (v int)`);
    auditDirectory = mkdtempSync(path.join(testHome(), 'evidence-audit-'));
    approvalsDirectory = mkdtempSync(path.join(testHome(), 'evidence-approvals-'));
    policyFile = writeTestPolicy(policy(true));
    publicKey = path.join(mkdtempSync(path.join(testHome(), 'evidence-key-')), 'audit.pub.pem');
    writeFileSync(publicKey, new LocalDigestSigner(readFileSync(auditKeyFile(), 'utf8')).publicKeyPem());
    from = new Date(Date.now() - 60_000).toISOString();
    gateway = await startTestGateway({
      policy: { file: policyFile, reloadCheckMs: 100 },
      approvals: { directory: approvalsDirectory, pollMs: 50 },
      audit: { directory: auditDirectory, digestIntervalMs: 500 },
    });

    const analyst = await connect('ev-analyst');
    const masked = await analyst.query('SELECT name, ssn FROM people ORDER BY id');
    expect(masked.rows).toEqual([
      { name: 'Ada', ssn: '*******6789' },
      { name: 'Bob', ssn: '*******4321' },
    ]);
    await expect(analyst.query('SELECT * FROM secrets')).rejects.toMatchObject({ code: '42501' });
    await analyst.end();

    const migrator = await connect('ev-migrator');
    await migrator.query('CREATE TABLE doomed (id int)');
    const dropping = migrator.query('DROP TABLE doomed');
    const id = await waitFor('the approval request', async () => {
      const listed = await runCommand(
        process.execPath,
        [CLI, 'approvals', 'list', '--json', '--directory', approvalsDirectory],
        { env: { PATH: process.env.PATH } },
      );
      return (JSON.parse(listed.stdout) as { id: string; state: string; text: string }[]).find(
        (r) => r.text === 'DROP TABLE doomed' && r.state === 'pending',
      )?.id;
    });
    const approved = await runCommand(
      process.execPath,
      [CLI, 'approvals', 'approve', id, '--as', 'alice', '--directory', approvalsDirectory],
      { env: { PATH: process.env.PATH } },
    );
    expect(approved.code).toBe(0);
    await dropping;
    await expect(migrator.query('TRUNCATE scratch')).rejects.toMatchObject({ code: '42501' });
    await migrator.end();

    const leaver = await connect('ev-leaver');
    await leaver.query('SELECT 1 AS leaver_was_here');
    await leaver.end();

    await expect(
      new Client({ ...gateway.connection('ev-analyst'), password: 'not-a-token', ssl }).connect(),
    ).rejects.toMatchObject({ code: '28000' });

    // The leaver is dropped from the policy; the gateway applies and records the change.
    writeFileSync(policyFile, policy(false));
    await waitFor('the policy reload', () =>
      storedRecords(auditDirectory).find(
        (r): r is PolicyReloadRecord => r.type === 'policy-reload' && r.outcome === 'applied',
      ),
    );
    await expect(
      new Client({
        ...gateway.connection('ev-leaver'),
        password: testIssuer().sign({ sub: 'ev-leaver' }, 60),
        ssl,
      }).connect(),
    ).rejects.toMatchObject({ code: '28000' });
    await gateway.stop();
    gateway = undefined;
    to = new Date(Date.now() + 60_000).toISOString();
  }, 60_000);

  afterAll(async () => {
    await gateway?.stop();
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  });

  it('writes the package: files, manifest hashes and signature, inventory, scopes, extracts, counts and controls', async () => {
    const out = path.join(mkdtempSync(path.join(testHome(), 'evidence-out-')), 'package');
    const made = await exportTo(out);
    expect([made.code, made.stderr]).toEqual([0, '']);

    const manifest = readJson<Manifest>(path.join(out, 'manifest.json'));
    const paths = manifest.files.map((f) => f.path);
    expect(paths).toEqual([
      'approvals.jsonl',
      'audit/records.jsonl',
      'authentication-failures.jsonl',
      'controls.json',
      'inventory.json',
      'masking.jsonl',
      'oscal/assessment-results.json',
      'oscal/ssp.json',
      'policy-changes.jsonl',
      'policy.yaml',
      'report.html',
      'scopes.json',
      'summary.json',
      'verification.json',
    ]);
    for (const entry of manifest.files) {
      const bytes = readFileSync(path.join(out, entry.path));
      expect([entry.path, bytes.length, createHash('sha256').update(bytes).digest('hex')]).toEqual([
        entry.path,
        entry.bytes,
        entry.sha256,
      ]);
    }
    expect(verifyManifestSignature(manifest, readFileSync(publicKey, 'utf8'))).toBe(true);
    expect((await cli('export', '--check', out, '--public-key', publicKey)).code).toBe(0);

    // The period's records, as stored.
    const stored = storedRecords(auditDirectory);
    const records = readJsonl<AuditRecord>(path.join(out, 'audit', 'records.jsonl'));
    expect(records).toHaveLength(stored.length);
    expect(new Set(records.map((r) => r.hash))).toEqual(new Set(stored.map((r) => r.hash)));

    const inventory = readJson<{ identities: IdentityActivity[]; identityRules: IdentityRuleUsage[] }>(
      path.join(out, 'inventory.json'),
    );
    const who = Object.fromEntries(inventory.identities.map((i) => [i.subject, i]));
    expect(Object.keys(who).sort()).toEqual(['ev-analyst', 'ev-leaver', 'ev-migrator']);
    expect(who['ev-analyst']).toMatchObject({
      issuer: 'https://issuer.gatehouse.local',
      identityRules: ['analyst'],
      grants: ['analytics'],
      sessions: 1,
      statements: 2,
      refusals: 1,
      maskedStatements: 1,
      authenticationFailures: 0,
      admittedNow: true,
    });
    expect(who['ev-migrator']).toMatchObject({
      identityRules: ['migrator'],
      grants: ['migrations'],
      sessions: 1,
      statements: 3,
      refusals: 1,
      approvalsRequested: 1,
      admittedNow: true,
    });
    // Admitted in the period, refused once the policy changed, no longer admitted now.
    expect(who['ev-leaver']).toMatchObject({
      identityRules: ['leaver'],
      grants: ['analytics'],
      sessions: 1,
      authenticationFailures: 1,
      admittedNow: false,
    });
    expect(inventory.identityRules.map((r) => [r.name, r.identitiesSeen, r.unused])).toEqual([
      ['analyst', 1, false],
      ['migrator', 1, false],
      ['leaver', 1, false],
      ['dormant', 0, true],
    ]);

    const { scopes } = readJson<{ scopes: EffectiveScope[] }>(path.join(out, 'scopes.json'));
    expect(scopes.map((s) => [s.grant, s.identityRules])).toEqual([
      ['analytics', ['analyst']],
      ['migrations', ['migrator', 'dormant']],
    ]);
    expect(scopes[0]!.maskedColumns).toEqual([
      `${schema}.people.ssn (rule ssn: partial keeping first 0, last 4)`,
    ]);
    expect(scopes[1]!.rules).toEqual([
      expect.objectContaining({
        name: 'drops-need-a-dba',
        decision: 'approve',
        approval: { approvers: ['alice', 'bob'], needed: 1, timeoutSeconds: 60, covers: 'once' },
      }),
      expect.objectContaining({
        name: 'no-truncate',
        decision: 'deny',
        reason: 'TRUNCATE is not allowed here',
      }),
    ]);

    const approvals = readJsonl<ApprovalExtract>(path.join(out, 'approvals.jsonl'));
    expect(approvals).toHaveLength(1);
    expect(approvals[0]).toMatchObject({
      identity: { subject: 'ev-migrator' },
      rule: 'drops-need-a-dba',
      approvers: ['alice', 'bob'],
      outcome: 'approved',
      decisions: [{ approver: 'alice', verdict: 'approved', channel: 'cli' }],
      statements: [
        { text: 'DROP TABLE doomed', decision: 'approved', by: ['alice'], outcome: { tag: 'DROP TABLE' } },
      ],
    });
    const masking = readJsonl<MaskingExtract>(path.join(out, 'masking.jsonl'));
    expect(masking).toEqual([
      expect.objectContaining({
        identity: { issuer: 'https://issuer.gatehouse.local', subject: 'ev-analyst' },
        grant: 'analytics',
        columns: [{ name: 'ssn', rule: 'ssn', values: 2 }],
        values: 2,
      }),
    ]);
    const failures = readJsonl<AuthenticationFailureExtract>(path.join(out, 'authentication-failures.jsonl'));
    expect(failures.map((f) => [f.check, f.category, f.identity?.subject])).toEqual([
      ['malformed', 'token', undefined],
      ['refused', 'admission', 'ev-leaver'],
    ]);
    const changes = readJsonl<PolicyChangeExtract>(path.join(out, 'policy-changes.jsonl'));
    expect(changes.map((c) => c.outcome)).toEqual(['applied']);

    const summary = readJson<EvidenceSummary>(path.join(out, 'summary.json'));
    expect(summary.counts).toEqual({
      sessions: 3,
      statements: 6,
      refusals: 2,
      approvals: { requested: 1, approved: 1, denied: 0, timedOut: 0, cancelled: 0 },
      maskedStatements: 1,
      authenticationFailures: 2,
      policyChanges: 1,
    });
    expect(summary.policy).toEqual({ digest: changes[0]!.digest, inForceAtEnd: changes[0]!.digest });
    expect(summary.policyDigests).toEqual([changes[0]!.previous, changes[0]!.digest]);

    const verification = readJson<{
      verification: { ok: boolean };
      period: { ok: boolean; digests: unknown[] };
    }>(path.join(out, 'verification.json'));
    expect(verification.verification.ok).toBe(true);
    expect(verification.period.ok).toBe(true);
    expect(verification.period.digests.length).toBeGreaterThan(0);

    const { controls } = readJson<{ controls: ControlStatus[] }>(path.join(out, 'controls.json'));
    expect(Object.fromEntries(controls.map((c) => [c.control, c.status]))).toEqual({
      'AC-2': 'satisfied-with-findings',
      'AC-6': 'satisfied',
      'AU-2': 'satisfied',
      'AU-3': 'satisfied',
      'AU-9': 'satisfied',
      'AU-10': 'satisfied',
      'AU-12': 'satisfied',
      'CM-3': 'satisfied-with-findings',
      'CM-5': 'satisfied',
      'IA-2': 'satisfied-with-findings',
      'IA-5': 'satisfied-with-findings',
      'SC-28': 'satisfied',
    });
    expect(controls.find((c) => c.control === 'AC-2')!.reason).toMatch(
      /no longer admitted: ev-leaver; 1 identity rule admitted nobody in the period: dormant/,
    );
    for (const control of controls) {
      expect(control.evidence.length).toBeGreaterThan(0);
      for (const file of control.evidence)
        expect([control.control, paths.includes(file)]).toEqual([control.control, true]);
    }

    // The renderings: OSCAL documents and the report, from the same data.
    const ar = readJson<{ 'assessment-results': unknown }>(
      path.join(out, 'oscal', 'assessment-results.json'),
    );
    expect(ar['assessment-results']).toBeDefined();
    const ssp = readJson<{ 'system-security-plan': unknown }>(path.join(out, 'oscal', 'ssp.json'));
    expect(ssp['system-security-plan']).toBeDefined();
    // Both documents of this real export are valid against NIST's published OSCAL 1.0.6 schemas.
    for (const [which, document] of [
      ['assessmentResults', ar],
      ['ssp', ssp],
    ] as const) {
      const validator = oscalValidator(which);
      if ('missing' in validator) {
        if (process.env.CI === 'true') throw new Error(validator.missing);
        process.stderr.write(`not validated: ${validator.missing}\n`);
        continue;
      }
      const result = validator(document);
      expect(result.errors).toBe('');
      expect(result.valid).toBe(true);
    }
    const report = readFileSync(path.join(out, 'report.html'), 'utf8');
    expect(report).toMatch(/^<!DOCTYPE html>/i);
    expect(report).toContain('ev-leaver');
    expect(report).toContain('dormant');
  });

  it('says AU-9 is not satisfied, and names the problem, once a stored record was changed', async () => {
    const chunk = storedChunkHolding('leaver_was_here');
    writeFileSync(chunk.file, readFileSync(chunk.file, 'utf8').replace('leaver_was_here', 'nobody_was_here'));
    const out = path.join(mkdtempSync(path.join(testHome(), 'evidence-out-')), 'package');
    const made = await exportTo(out);
    expect(made.code).toBe(0);
    expect(made.stdout).toContain('NOT VERIFIED');
    const { controls } = readJson<{ controls: ControlStatus[] }>(path.join(out, 'controls.json'));
    const au9 = controls.find((c) => c.control === 'AU-9')!;
    expect(au9.status).toBe('not-satisfied');
    expect(au9.reason).toMatch(/chunk-altered 1, record-altered 1/);
    const verification = readJson<{
      verification: { ok: boolean };
      period: { problems: { kind: string; session?: string; detail: string }[] };
    }>(path.join(out, 'verification.json'));
    expect(verification.verification.ok).toBe(false);
    expect(verification.period.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          kind: 'chunk-altered',
          detail: expect.stringContaining(path.basename(chunk.file)),
        }),
        expect.objectContaining({ kind: 'record-altered', session: chunk.session }),
      ]),
    );
    // The package itself is sound: only the store it describes is not.
    expect((await cli('export', '--check', out, '--public-key', publicKey)).code).toBe(0);
  });

  /** The stored chunk file holding a statement, and the session it belongs to. */
  function storedChunkHolding(text: string): { file: string; session: string } {
    for (const writer of readdirSync(auditDirectory)) {
      const directory = path.join(auditDirectory, writer);
      for (const name of readdirSync(directory).filter((n) => /^chunk-\d+\.jsonl$/.test(n))) {
        const file = path.join(directory, name);
        const line = readFileSync(file, 'utf8')
          .split('\n')
          .find((l) => l.includes(text));
        if (line) return { file, session: (JSON.parse(line) as AuditRecord).session };
      }
    }
    throw new Error(`no chunk holds ${text}`);
  }
});
