import { createHash } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import { createLogger } from '../../../fargate-proxy/src/observability/logger';
import type { PolicyChange, PolicyRejection } from '../../../fargate-proxy/src/policy/policy-source';
import { S3PolicyObjectStore } from '../../../fargate-proxy/src/policy/s3-policy-object-store';
import { PolicyUnavailableError, S3PolicySource } from '../../../fargate-proxy/src/policy/s3-policy-source';
import { VersionedPolicyBucket } from './versioned-policy-bucket';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function policyFor(subject: string): string {
  return `version: 1
identities:
  job: { issuer: local, claims: { sub: ${subject} } }
grants:
  - name: reads
    to: [job]
    allow: [read]
    relations: { read: ["public.*"] }
`;
}

const BROKEN = `${policyFor('broken')}    bogus: true\n`;

describe('S3PolicySource (mocked S3: no emulator keeps versions)', () => {
  let bucket: VersionedPolicyBucket;
  let changes: PolicyChange[];
  let rejections: PolicyRejection[];
  let logged: string[];
  const sources: S3PolicySource[] = [];

  function open(): Promise<S3PolicySource> {
    const store = new S3PolicyObjectStore(new S3Client({ region: 'eu-west-1' }), bucket.bucket, bucket.key);
    return S3PolicySource.open(store, {
      checkMs: 3_600_000, // the test calls check() itself
      log: createLogger('debug', {}, (line) => logged.push(line)),
      onReject: (rejection) => rejections.push(rejection),
    }).then((source) => {
      sources.push(source);
      source.onChange((change) => changes.push(change));
      return source;
    });
  }

  beforeEach(() => {
    bucket = new VersionedPolicyBucket();
    changes = [];
    rejections = [];
    logged = [];
  });
  afterEach(() => {
    for (const source of sources.splice(0)) source.close();
    bucket.restore();
  });

  it('loads the current version at open, then asks only HeadObject while the version is unchanged', async () => {
    // GIVEN
    bucket.put(policyFor('first'), 'alice');
    // WHEN
    const source = await open();
    await source.check();
    await source.check();
    // THEN
    expect(source.current.digest).toBe(sha256(policyFor('first')));
    expect(bucket.gets()).toBe(1);
    expect(bucket.heads()).toBe(2);
    expect(changes).toEqual([]);
  });

  it('applies a new version and reports its VersionId and uploader', async () => {
    bucket.put(policyFor('first'), 'alice');
    const source = await open();
    const version = bucket.put(policyFor('second'), 'bob@example.com');
    // WHEN
    await source.check();
    // THEN
    expect(source.current.digest).toBe(sha256(policyFor('second')));
    expect(changes).toHaveLength(1);
    expect(changes[0]?.previous.digest).toBe(sha256(policyFor('first')));
    expect(changes[0]?.revision).toEqual({ version, changedBy: 'bob@example.com' });
    expect(bucket.gets()).toBe(2);
  });

  it('refuses a version that does not load, once, and keeps the policy in force', async () => {
    bucket.put(policyFor('first'));
    const source = await open();
    const version = bucket.put(BROKEN, 'mallory');
    // WHEN
    await source.check();
    await source.check();
    // THEN
    expect(source.current.digest).toBe(sha256(policyFor('first')));
    expect(rejections).toEqual([
      {
        error: expect.stringMatching(
          /^invalid policy s3:\/\/gatehouse-policy\/policy\.yaml:\n {2}s3:\/\/gatehouse-policy\/policy\.yaml:9:5: /,
        ),
        digest: sha256(BROKEN),
        revision: { version, changedBy: 'mallory' },
      },
    ]);
    expect(bucket.gets()).toBe(2);
    // AND a later good version is applied, without the uploader when the metadata is missing
    const fixed = bucket.put(policyFor('fixed'));
    await source.check();
    expect(changes.map((c) => c.revision)).toEqual([{ version: fixed, changedBy: undefined }]);
  });

  it('reports an object that cannot be read once, until it can again', async () => {
    bucket.put(policyFor('first'));
    const source = await open();
    bucket.failWith(Object.assign(new Error('Access Denied'), { name: 'AccessDenied' }));
    // WHEN
    await source.check();
    await source.check();
    // THEN
    expect(rejections).toEqual([
      {
        error: 'cannot read the policy object: Access Denied',
        digest: sha256(policyFor('first')),
        revision: undefined,
      },
    ]);
    expect(source.current.digest).toBe(sha256(policyFor('first')));
    expect(logged.join('')).toContain('policy reload failed; the previous policy stays in force');
    // AND after it is readable again, a new failure is reported again
    bucket.failWith(undefined);
    await source.check();
    bucket.failWith(new Error('Access Denied'));
    await source.check();
    expect(rejections).toHaveLength(2);
  });

  it('does not open without its policy: a missing object or a version that does not load', async () => {
    const missing = await open().catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(PolicyUnavailableError);
    expect((missing as Error).message).toBe(
      'the gateway does not start without its policy: cannot fetch s3://gatehouse-policy/policy.yaml: The specified key does not exist.',
    );
    const version = bucket.put(BROKEN);
    const error = await open().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PolicyUnavailableError);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^the gateway does not start without its policy: s3://gatehouse-policy/policy.yaml \\(version ${version}\\) does not load:\\n {2}s3://gatehouse-policy/policy.yaml:9:5: `,
      ),
    );
  });
});
