import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalDigestSigner } from '../../core/audit/digest';
import type { SessionEndRecord, SessionStartRecord, StatementRecord } from '../../core/audit/records';
import type { ControlStatus, EvidenceSummary, Manifest } from '../../core/evidence/evidence-package';
import { signedManifest } from '../../core/evidence/manifest';
import { AuditShipper } from '../../fargate-proxy/src/audit/audit-shipper';
import { AuditWriter } from '../../fargate-proxy/src/audit/audit-writer';
import { S3AuditStore } from '../../fargate-proxy/src/audit/s3-audit-store';
import { Progress } from '../../fargate-proxy/src/evidence/progress';
import { silentLogger } from '../../fargate-proxy/src/observability/logger';
import { ensureAuditSigningKey } from '../../local/certificates';
import { LOCAL_ISSUER } from '../../local/token-issuer';
import { runCommand } from '../support/run-command';
import { startS3rver } from '../support/s3rver';

const CLI = path.join(__dirname, '..', '..', 'dist', 'bin', 'gatehouse.js');
const DAY_MS = 86_400_000;

const POLICY = `version: 1
identities:
  reporter: { issuer: local, claims: { sub: reporter } }
  nobody: { issuer: local, claims: { sub: nobody } }
grants:
  - name: reporting
    to: [reporter, nobody]
    allow: [read]
    relations: { read: ["public.*"] }
`;

/** A day as `--from`/`--to` take it. */
function day(offsetDays: number): string {
  return new Date(Date.now() + offsetDays * DAY_MS).toISOString().slice(0, 10);
}

/**
 * A local-mode home (`.gatehouse`): its signing key, its policy, and an audit store with one admitted
 * session (two statements, one refused) and a connection refused for its token, sealed by a digest.
 */
async function localHome(): Promise<string> {
  const home = mkdtempSync(path.join(os.tmpdir(), 'gh-export-'));
  const key = ensureAuditSigningKey(path.join(home, 'keys', 'audit-signing-key.pem'));
  writeFileSync(path.join(home, 'policy.yaml'), POLICY);
  await writeStore(path.join(home, 'audit', 'local-w0'), 'local-w0', readFileSync(key, 'utf8'));
  return home;
}

async function writeStore(directory: string, writerName: string, keyPem: string): Promise<void> {
  const writer = new AuditWriter({
    directory,
    writer: writerName,
    signer: new LocalDigestSigner(keyPem),
    flushMs: 60_000,
    digestIntervalMs: 600_000,
    log: silentLogger,
  });
  const now = Date.now() * 1000;
  writer.append<SessionStartRecord>('s1', {
    type: 'session-start',
    time: now,
    identity: { issuer: LOCAL_ISSUER, subject: 'reporter', claims: {} },
    source: { address: '127.0.0.1' },
    database: 'postgres',
    authentication: 'accepted',
    grant: 'reporting',
    policyDigest: 'unknown',
  });
  for (const [i, text] of ['SELECT 1', 'SELECT * FROM secrets'].entries()) {
    writer.append<StatementRecord>('s1', {
      type: 'statement',
      time: now + 10 + i,
      start: now + 5 + i,
      end: now + 10 + i,
      protocol: 'simple',
      text,
      textSha256: '0'.repeat(64),
      decision: i === 0 ? 'allowed' : 'refused',
      outcome: i === 0 ? { tag: 'SELECT 1', rows: 1 } : { sqlstate: '42501' },
      bytesIn: 1,
      bytesOut: 1,
    });
  }
  writer.append<SessionEndRecord>('s1', {
    type: 'session-end',
    time: now + 20,
    reason: 'client closed',
    statements: 2,
    bytesIn: 2,
    bytesOut: 2,
  });
  writer.append<SessionStartRecord>('s2', {
    type: 'session-start',
    time: now + 30,
    source: { address: '127.0.0.1' },
    database: 'postgres',
    authentication: 'expired',
    error: { sqlstate: '28000', message: 'token rejected: expired' },
  });
  writer.append<SessionEndRecord>('s2', {
    type: 'session-end',
    time: now + 31,
    reason: 'refused',
    statements: 0,
    bytesIn: 0,
    bytesOut: 0,
  });
  await writer.close();
}

function gatehouse(args: string[], env: NodeJS.ProcessEnv = { PATH: process.env.PATH }) {
  return runCommand(process.execPath, [CLI, ...args], { env });
}

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

function statusOf(out: string, control: string): ControlStatus {
  return readJson<{ controls: ControlStatus[] }>(path.join(out, 'controls.json')).controls.find(
    (c) => c.control === control,
  )!;
}

describe('gatehouse export', () => {
  it('writes a signed package from local mode, and --check verifies it and names a modified file or a forged signature', async () => {
    const home = await localHome();
    const out = path.join(home, 'evidence');
    const made = await gatehouse(['export', '--home', home, '--from', day(-1), '--to', day(1), '--out', out]);
    expect([made.code, made.stderr]).toEqual([0, '']);
    expect(made.stdout).toContain(
      `${out}: evidence package for ${day(-1)} to ${day(1)}: 15 files, 6 records of the period`,
    );
    expect(made.stdout).toMatch(/^AU-9 +satisfied +Verified/m);
    expect(made.stdout).toMatch(/^IA-5 +satisfied-with-findings +.*expired 1/m);
    const manifest = readJson<Manifest>(path.join(out, 'manifest.json'));
    expect(manifest.files.map((f) => f.path)).toEqual([
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
    expect(readdirSync(home).sort()).toEqual(['audit', 'evidence', 'keys', 'policy.yaml']);
    const summary = readJson<EvidenceSummary>(path.join(out, 'summary.json'));
    expect(summary.counts).toMatchObject({
      sessions: 1,
      statements: 2,
      refusals: 1,
      authenticationFailures: 1,
    });
    expect(summary.identityRules.map((r) => [r.name, r.unused])).toEqual([
      ['reporter', false],
      ['nobody', true],
    ]);

    const check = () => gatehouse(['export', '--check', out, '--home', home]);
    const good = await check();
    expect([good.code, good.stdout]).toEqual([
      0,
      expect.stringContaining('verified: manifest signature valid, 14 files match'),
    ]);

    const scopes = path.join(out, 'scopes.json');
    const original = readFileSync(scopes);
    writeFileSync(scopes, original.toString().replace('public.*', 'everything.*'));
    const modified = await check();
    expect(modified.code).toBe(1);
    expect(modified.stdout).toContain('FAIL  size: scopes.json has');
    expect(modified.stdout).toContain('NOT VERIFIED');
    writeFileSync(scopes, original);

    // The manifest re-made for the same files but signed with another key.
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const other = new LocalDigestSigner(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    const forged = await signedManifest(manifest.files, manifest.period, manifest.generatedAt, other);
    writeFileSync(path.join(out, 'manifest.json'), JSON.stringify(forged));
    const bad = await check();
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain(
      'FAIL  signature: manifest.json does not carry a valid signature for this public key',
    );
    // With the other key's public half it verifies: the signature is what ties the package to the audit key.
    const otherPublic = path.join(home, 'other.pub.pem');
    writeFileSync(otherPublic, other.publicKeyPem());
    expect((await gatehouse(['export', '--check', out, '--public-key', otherPublic])).code).toBe(0);
  });

  it('refuses an existing directory without --force, replaces a package with it, and reports usage mistakes with exit code 2', async () => {
    const home = await localHome();
    const out = path.join(home, 'evidence');
    const args = ['export', '--home', home, '--from', day(-1), '--to', day(1), '--out', out];
    expect((await gatehouse(args)).code).toBe(0);
    const again = await gatehouse(args);
    expect([again.code, again.stderr]).toEqual([
      2,
      expect.stringContaining('exists (--force replaces a package)'),
    ]);
    expect((await gatehouse([...args, '--force'])).code).toBe(0);
    const notPackage = path.join(home, 'keys');
    const refused = await gatehouse([...args.slice(0, -1), notPackage, '--force']);
    expect([refused.code, refused.stderr]).toEqual([
      2,
      expect.stringContaining('neither empty nor an evidence package'),
    ]);
    expect(existsSync(path.join(notPackage, 'audit-signing-key.pem'))).toBe(true);

    const missing = await gatehouse(['export', '--home', home, '--from', day(-1), '--out', out]);
    expect([missing.code, missing.stderr]).toEqual([
      2,
      expect.stringContaining('export needs --from, --to and --out'),
    ]);
    const badDate = await gatehouse([
      'export',
      '--home',
      home,
      '--from',
      'yesterday',
      '--to',
      day(1),
      '--out',
      out,
    ]);
    expect([badDate.code, badDate.stderr]).toEqual([
      2,
      expect.stringContaining('--from: expected a date (2026-03-01)'),
    ]);
    const backwards = await gatehouse([
      'export',
      '--home',
      home,
      '--from',
      day(1),
      '--to',
      day(-1),
      '--out',
      out,
    ]);
    expect(backwards.stderr).toContain('must be after --from');
    const noPolicy = await gatehouse([...args, '--force', '--policy', path.join(home, 'nope.yaml')]);
    expect([noPolicy.code, noPolicy.stderr]).toEqual([2, expect.stringContaining('no policy file')]);
    const broken = path.join(home, 'broken.yaml');
    writeFileSync(broken, 'version: 1\ngrants: [{ name: x, to: [ghost] }]\n');
    const invalid = await gatehouse([...args, '--force', '--policy', broken]);
    expect([invalid.code, invalid.stderr]).toEqual([
      2,
      expect.stringContaining('unknown identity or group "ghost"'),
    ]);
    const noCheckKey = await gatehouse(['export', '--check', path.join(home, 'nowhere'), '--home', home]);
    expect([noCheckKey.code, noCheckKey.stderr]).toEqual([
      2,
      expect.stringContaining('holds no manifest.json'),
    ]);
  });

  it('shows progress on stderr with --progress (records read, files written), and nothing without', async () => {
    const home = await localHome();
    const shown = await gatehouse([
      'export',
      '--home',
      home,
      '--from',
      day(-1),
      '--to',
      day(1),
      '--out',
      path.join(home, 'a'),
      '--progress',
    ]);
    expect(shown.code).toBe(0);
    expect(shown.stderr).toContain('records read: 6 (1 writers)');
    expect(shown.stderr).toContain('verified: ok');
    expect(shown.stderr).toContain('files written: 15');
    const quiet = await gatehouse([
      'export',
      '--home',
      home,
      '--from',
      day(-1),
      '--to',
      day(1),
      '--out',
      path.join(home, 'b'),
    ]);
    expect(quiet.stderr).toBe('');
  });

  it('rewrites one progress line in place on a terminal, at most every 100 ms', () => {
    let now = 0;
    const written: string[] = [];
    const progress = new Progress(
      { isTTY: true, write: (text: string) => written.push(text) },
      true,
      () => now,
    );
    progress.update('records read: 10', true);
    now = 50;
    progress.update('records read: 20');
    now = 200;
    progress.update('records read: 30');
    progress.done('records read: 35');
    expect(written).toEqual([
      '\r\x1b[Krecords read: 10',
      '\r\x1b[Krecords read: 30',
      '\r\x1b[Krecords read: 35\n',
    ]);
    const silent: string[] = [];
    new Progress({ isTTY: false, write: (text: string) => silent.push(text) }, false).update('x', true);
    expect(silent).toEqual([]);
  });

  it('writes a package whose AU-9 is not satisfied from a tampered store, with exit code 0', async () => {
    const home = await localHome();
    const chunk = path.join(home, 'audit', 'local-w0', 'chunk-0.jsonl');
    writeFileSync(chunk, readFileSync(chunk, 'utf8').replace('SELECT 1', 'SELECT 2'));
    const out = path.join(home, 'evidence');
    const made = await gatehouse(['export', '--home', home, '--from', day(-1), '--to', day(1), '--out', out]);
    expect(made.code).toBe(0);
    expect(made.stdout).toContain('NOT VERIFIED');
    expect(statusOf(out, 'AU-9')).toMatchObject({
      status: 'not-satisfied',
      reason: expect.stringMatching(/chunk-altered 1, record-altered 1/),
    });
    const verification = readJson<{ period: { problems: { kind: string }[] } }>(
      path.join(out, 'verification.json'),
    );
    expect(verification.period.problems.map((p) => p.kind).sort()).toEqual([
      'chunk-altered',
      'record-altered',
    ]);
  });

  it('exports a store kept in S3, with the public key and signing key given', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'gh-export-s3-'));
    const key = ensureAuditSigningKey(path.join(home, 'signing.pem'));
    const keyPem = readFileSync(key, 'utf8');
    const publicKey = path.join(home, 'audit.pub.pem');
    writeFileSync(publicKey, new LocalDigestSigner(keyPem).publicKeyPem());
    const policy = path.join(home, 'policy.yaml');
    writeFileSync(policy, POLICY);
    const spool = path.join(home, 'spool', 'i-1-w0');
    mkdirSync(spool, { recursive: true });
    await writeStore(spool, 'i-1-w0', keyPem);
    const s3 = await startS3rver();
    try {
      await s3.createBucket('evidence');
      await new AuditShipper({
        directory: spool,
        writer: 'i-1-w0',
        store: new S3AuditStore(s3.client, { bucket: 'evidence', prefix: 'audit/', retentionDays: 1 }),
        log: silentLogger,
        retryBaseMs: 10,
        retryMaxMs: 10,
      }).ship();
      const out = path.join(home, 'evidence');
      const made = await gatehouse(
        [
          'export',
          '--s3',
          'evidence/audit',
          '--s3-endpoint',
          s3.endpoint,
          '--region',
          'us-east-1',
          '--policy',
          policy,
          '--public-key',
          publicKey,
          '--signing-key',
          key,
          '--from',
          day(-1),
          '--to',
          day(1),
          '--out',
          out,
        ],
        {
          PATH: process.env.PATH,
          AWS_ACCESS_KEY_ID: 'S3RVER',
          AWS_SECRET_ACCESS_KEY: 'S3RVER',
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        },
      );
      expect([made.code, made.stderr]).toEqual([0, '']);
      expect(made.stdout).toContain('store s3://evidence/audit/: verified');
      const verification = readJson<{ store: string; verification: { ok: boolean; writers: number } }>(
        path.join(out, 'verification.json'),
      );
      expect(verification).toMatchObject({
        store: 's3://evidence/audit/',
        verification: { ok: true, writers: 1 },
      });
      expect((await gatehouse(['export', '--check', out, '--public-key', publicKey])).code).toBe(0);
    } finally {
      await s3.stop();
    }
  });
});
