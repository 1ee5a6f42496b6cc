import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { Client } from 'pg';
import type { PolicyReloadRecord } from '../../core/audit/records';
import { StaticCredentialSource } from '../../fargate-proxy/src/upstream/credential-source';
import { VersionedPolicyBucket } from '../proxy/policy/versioned-policy-bucket';
import { storedRecords } from '../support/audit-records';
import { testHome, testUpstream } from '../support/environment';
import { baseTestConfig } from '../support/gateway';
import { type ConfiguredGateway, eventually, startConfiguredGateway } from './configured-gateway';

const ssl = { rejectUnauthorized: false };
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Analysts may read; `ddl` is what the versions change. */
function policy(allow: string): string {
  return `version: 1
identities:
  analyst: { issuer: local, claims: { sub: analyst } }
grants:
  - name: analysts
    to: [analyst]
    searchPath: any
    allow: [${allow}]
    relations: { read: ["*"], write: ["*"] }
`;
}

const READ_ONLY = policy('read, session, transaction');
const WITH_DDL = policy('read, ddl, session, transaction');
const BROKEN = `${WITH_DDL}    bogus: true\n`;

/**
 * The policy as an object of a versioned S3 bucket (a mocked S3Client serves the versions: no emulator
 * here keeps them), through a real gateway in front of the real server.
 */
describe('the policy from a versioned S3 object', () => {
  let bucket: VersionedPolicyBucket;
  let gateway: ConfiguredGateway | undefined;
  let auditDirectory: string;

  beforeEach(() => {
    bucket = new VersionedPolicyBucket('gatehouse-policy', 'prod/policy.yaml');
    auditDirectory = mkdtempSync(path.join(testHome(), 's3-policy-audit-'));
  });
  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
    bucket.restore();
  });

  function start(): Promise<ConfiguredGateway> {
    const upstream = testUpstream();
    return startConfiguredGateway(
      {
        policy: {
          s3: { bucket: 'gatehouse-policy', key: 'prod/policy.yaml', region: 'us-east-1' },
          reloadCheckMs: 50,
        },
        audit: { ...baseTestConfig().audit, directory: auditDirectory },
      },
      { credentials: new StaticCredentialSource({ user: upstream.user, password: upstream.password }) },
    ).then((started) => {
      gateway = started;
      return started;
    });
  }

  const reloads = () =>
    storedRecords(auditDirectory).filter((r): r is PolicyReloadRecord => r.type === 'policy-reload');

  async function analyst(through: ConfiguredGateway): Promise<Client> {
    const client = new Client({ ...through.connection('analyst'), ssl });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  it('applies a new version to the next statements, refuses a broken one, and audits both with version and uploader', async () => {
    // GIVEN the first version, uploaded by the deploy tooling
    const v1 = bucket.put(READ_ONLY, 'deploy/alice');
    const through = await start();
    const session = await analyst(through);
    try {
      await expect(session.query('CREATE TEMP TABLE s3_policy_a (v int)')).rejects.toMatchObject({
        code: '42501',
      });

      // WHEN a version that grants DDL is uploaded
      const v2 = bucket.put(WITH_DDL, 'deploy/bob');
      // THEN the open session's next statement is decided by it, and so are new sessions'
      await eventually('the new version to take effect', () =>
        session.query('CREATE TEMP TABLE s3_policy_a (v int)').then(
          () => true,
          () => false,
        ),
      );
      const fresh = await analyst(through);
      await fresh.query('CREATE TEMP TABLE s3_policy_b (v int)');
      await fresh.end();

      // WHEN a version that does not load is uploaded
      const headsBefore = bucket.heads();
      const v3 = bucket.put(BROKEN, 'deploy/mallory');
      await eventually('the broken version to be audited', () =>
        reloads().some((r) => r.outcome === 'rejected'),
      );
      // THEN the policy in force stays the second version
      await session.query('CREATE TEMP TABLE s3_policy_c (v int)');
      // AND later checks look at the version only: the broken one is fetched once
      await eventually('two more checks', () => bucket.heads() >= headsBefore + 3);
      expect(bucket.gets()).toBe(2 /* start: check and process */ + 2 /* v2, v3 */);

      // THEN the audit trail holds one record per version the gateway saw
      expect(reloads()).toEqual([
        expect.objectContaining({
          outcome: 'applied',
          digest: sha256(WITH_DDL),
          previous: sha256(READ_ONLY),
          version: v2,
          changedBy: 'deploy/bob',
        }),
        expect.objectContaining({
          outcome: 'rejected',
          digest: sha256(BROKEN),
          previous: sha256(WITH_DDL),
          version: v3,
          changedBy: 'deploy/mallory',
          error: expect.stringMatching(
            /^invalid policy s3:\/\/gatehouse-policy\/prod\/policy\.yaml:\n.*policy\.yaml:10:5: /,
          ),
        }),
      ]);
      expect(reloads().map((r) => r.version)).not.toContain(v1);
      // AND the gateway's metric counts the rejection
      const metrics = await (await fetch(`http://127.0.0.1:${through.healthPort}/metrics`)).text();
      expect(metrics).toMatch(/^gatehouse_policy_reload_failures_total 1$/m);
    } finally {
      await session.end();
    }
    // AND every record is valid against the published schema
    const validate = new Ajv2020({ strict: false }).compile(
      JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'docs', 'audit-records.schema.json'), 'utf8')),
    );
    for (const record of storedRecords(auditDirectory))
      expect([record.type, validate(record), validate.errors]).toEqual([record.type, true, null]);
  });

  it('does not start when the policy object cannot be fetched (fail closed)', async () => {
    bucket.failWith(Object.assign(new Error('Access Denied'), { name: 'AccessDenied' }));
    await expect(start()).rejects.toThrow(
      'the gateway does not start without its policy: cannot fetch s3://gatehouse-policy/prod/policy.yaml: Access Denied',
    );
  });

  it('does not start when the current version does not load', async () => {
    const version = bucket.put(BROKEN, 'deploy/mallory');
    await expect(start()).rejects.toThrow(
      `the gateway does not start without its policy: s3://gatehouse-policy/prod/policy.yaml (version ${version}) does not load`,
    );
  });
});
