import {
  createECDH,
  createHash,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetPublicKeyCommand, KMSClient, SignCommand, type SignCommandInput } from '@aws-sdk/client-kms';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { Client } from 'pg';
import type { SessionStartRecord, StatementRecord } from '../../core/audit/records';
import { PACKAGE_FILES } from '../../core/evidence/control-map';
import type { EvidenceSummary, Manifest } from '../../core/evidence/evidence-package';
import { checkPackage, MANIFEST_FILE } from '../../core/evidence/manifest';
import { readRegisteredHeads } from '../../fargate-proxy/src/audit/dynamodb-head-registry';
import { loadExportConfig } from '../../functions/evidence-export/config';
import {
  ExportEventError,
  exportRequest,
  periodLabel,
  scheduledPeriod,
} from '../../functions/evidence-export/event';
import type { ExportExists, ExportWritten } from '../../functions/evidence-export/export';
import { createExportHandler, type ExportHandlerOptions } from '../../functions/evidence-export/handler';
import { ConfigurationError } from '../../functions/shared/environment';
import { createLogger } from '../../functions/shared/logger';
import { LOCAL_ISSUER } from '../../local/token-issuer';
import { startDynalite, type TestDynamoDb } from '../support/dynalite';
import { auditKeyFile } from '../support/environment';
import { startTestGateway } from '../support/gateway';
import { startS3rver, type TestS3 } from '../support/s3rver';
import { writeTestPolicy } from '../support/test-policy';

const EVIDENCE_BUCKET = 'evidence';
const POLICY_BUCKET = 'policies';
const KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/0b5e7c1d-9f2a-4c3e-8d7b-6a5f4e3d2c1b';
/** Credentials the function's clients carry: none of them may reach a log line. */
const SESSION_TOKEN = 'IQoJb3JpZ2luX2VjEXPORT-TEST-SESSION-TOKEN-4f1c';
const SECRET_KEY = 'export-test-secret-access-key-9d2e';
const ssl = { rejectUnauthorized: false };

const POLICY = `version: 1
identities:
  reporter: { issuer: local, claims: { sub: export-reporter } }
grants:
  - name: reporting
    to: [reporter]
    searchPath: any
    allow: [read, write, ddl, session, transaction]
    relations: { read: ["*"], write: ["*"], deny: [public.export_secret] }
    functions: ["*"]
`;

// ---------------------------------------------------------------------------------------------------
// KMS stand-in: the audit signing key of the test gateways, signing the 32-byte DIGEST it is sent
// (as KMS ECDSA_SHA_256 with MessageType DIGEST does), returning DER signatures and a DER SPKI key.

const N = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551'); // P-256 order
const mod = (a: bigint, m: bigint) => ((a % m) + m) % m;
const big = (bytes: Uint8Array) => BigInt(`0x${Buffer.from(bytes).toString('hex') || '0'}`);
function inverse(a: bigint, m: bigint): bigint {
  let [r0, r1, s0, s1] = [mod(a, m), m, 1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return mod(s0, m);
}
function derInteger(value: bigint): Buffer {
  let bytes = Buffer.from(value.toString(16).padStart(64, '0'), 'hex');
  while (bytes.length > 1 && bytes[0] === 0 && !((bytes[1] ?? 0) & 0x80)) bytes = bytes.subarray(1);
  if ((bytes[0] ?? 0) & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes]);
}
/** ECDSA P-256 over a digest as given (Node's sign() always hashes its input first). */
function signDigest(privateKey: KeyObject, digest: Uint8Array): Buffer {
  const d = big(Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url'));
  const z = big(digest);
  for (;;) {
    const k = mod(big(randomBytes(32)), N);
    if (k === 0n) continue;
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(Buffer.from(k.toString(16).padStart(64, '0'), 'hex'));
    const r = mod(big(ecdh.getPublicKey().subarray(1, 33)), N); // x of k·G
    const s = mod(inverse(k, N) * (z + r * d), N);
    if (r === 0n || s === 0n) continue;
    const body = Buffer.concat([derInteger(r), derInteger(s)]);
    return Buffer.concat([Buffer.from([0x30, body.length]), body]);
  }
}

// ---------------------------------------------------------------------------------------------------

let s3: TestS3;
let dynamo: TestDynamoDb;
let table: string;
let exportS3: S3Client;
let exportDynamo: DynamoDBClient;
let kms: KMSClient;
let kmsMock: ReturnType<typeof mockClient>;
let publicKeyPem: string;
/** Keys of every PutObject the function sent, in order, and their inputs. */
const puts: string[] = [];
const putInputs: { Key: string; IfNoneMatch?: string; ChecksumSHA256?: string; Body: Buffer }[] = [];
/** When set, the PutObject of a key matching it fails (a store error mid-package). */
let failPut: RegExp | undefined;
const logLines: string[] = [];
/** Every bearer token the test clients presented to the gateway. */
const bearerTokens: string[] = [];
let savedEnv: NodeJS.ProcessEnv;
let recordsFrom: string;
let recordsTo: string;

const environment = (overrides: Record<string, string> = {}) => ({
  EVIDENCE_BUCKET,
  GATEWAY_TABLE: table,
  POLICY_BUCKET,
  SIGNING_KEY_ID: KEY_ARN,
  ISSUERS: JSON.stringify({ local: LOCAL_ISSUER }),
  AWS_REGION: 'us-east-1',
  ...overrides,
});

function exportHandler(overrides: Record<string, string> = {}, options: ExportHandlerOptions = {}) {
  return createExportHandler({
    config: loadExportConfig(environment(overrides)),
    s3: exportS3,
    dynamodb: exportDynamo,
    kms,
    logger: createLogger('debug', {}, (line) => logLines.push(line)),
    ...options,
  });
}

async function objectBytes(key: string): Promise<Buffer> {
  const object = await s3.client.send(new GetObjectCommand({ Bucket: EVIDENCE_BUCKET, Key: key }));
  return Buffer.from(await object.Body!.transformToByteArray());
}

async function keysUnder(prefix: string): Promise<string[]> {
  const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: EVIDENCE_BUCKET, Prefix: prefix }));
  return (listed.Contents ?? []).map((object) => object.Key!).sort();
}

/** A written package read back from the bucket, and its check with the audit key's public half. */
async function readPackage(location: string) {
  const prefix = location.replace(`s3://${EVIDENCE_BUCKET}/`, '');
  const files = new Map<string, Buffer>();
  for (const key of await keysUnder(prefix)) files.set(key.slice(prefix.length), await objectBytes(key));
  const manifestBytes = files.get(MANIFEST_FILE);
  if (!manifestBytes) throw new Error(`no manifest under ${prefix}`);
  const check = checkPackage(manifestBytes, publicKeyPem, (path) => files.get(path), [...files.keys()]);
  return { files, check, manifest: JSON.parse(manifestBytes.toString('utf8')) as Manifest };
}

beforeAll(async () => {
  savedEnv = { ...process.env };
  // The test gateway ships with the default credential chain; the emulators take any credentials.
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REGION: 'us-east-1',
  });
  s3 = await startS3rver();
  await s3.createBucket(EVIDENCE_BUCKET);
  await s3.createBucket(POLICY_BUCKET);
  await s3.client.send(
    new PutObjectCommand({
      Bucket: POLICY_BUCKET,
      Key: 'policy.yaml',
      Body: POLICY,
      Metadata: { 'changed-by': 'test' },
    }),
  );
  dynamo = await startDynalite();
  table = await dynamo.createTable();

  // A real gateway in front of the suite's PostgreSQL, shipping its audit store to S3 and its heads
  // to the table, exactly as on AWS (Object Lock aside: s3rver has none).
  recordsFrom = new Date(Date.now() - 60_000).toISOString();
  const gateway = await startTestGateway({
    policy: { file: writeTestPolicy(POLICY) },
    audit: {
      writer: 'export-test',
      digestIntervalMs: 300,
      strict: { dynamodb: { table, region: 'us-east-1', endpoint: dynamo.endpoint } },
      ship: {
        s3: {
          bucket: EVIDENCE_BUCKET,
          endpoint: s3.endpoint,
          region: 'us-east-1',
          forcePathStyle: true,
          retentionDays: 1,
        },
        retryBaseMs: 20,
        retryMaxMs: 100,
      },
    },
  });
  try {
    const connection = gateway.connection('export-reporter');
    bearerTokens.push(connection.password);
    const client = new Client({ ...connection, ssl, application_name: 'evidence-export-test' });
    await client.connect();
    await client.query('SELECT 1 AS one');
    await client.query('CREATE TEMP TABLE export_t (v int)');
    await client.query('INSERT INTO export_t VALUES (1), (2)');
    await expect(client.query('SELECT * FROM export_secret')).rejects.toMatchObject({ code: '42501' });
    await client.end();
    const forged = `${gateway.token('export-reporter').slice(0, -6)}AAAAAA`;
    bearerTokens.push(forged);
    await expect(
      new Client({ ...gateway.connection('export-reporter'), password: forged, ssl }).connect(),
    ).rejects.toMatchObject({ code: '28000' });
  } finally {
    await gateway.stop();
  }
  recordsTo = new Date().toISOString();

  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', sessionToken: SESSION_TOKEN };
  exportS3 = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
  exportS3.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'PutObjectCommand') {
        const key = (args.input as { Key: string }).Key;
        if (failPut?.test(key))
          throw Object.assign(new Error('We encountered an internal error'), { name: 'InternalError' });
        puts.push(key);
        putInputs.push(args.input as (typeof putInputs)[number]);
      }
      return next(args);
    },
    { step: 'initialize', name: 'recordPuts' },
  );
  exportDynamo = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIAEXPORTTEST', secretAccessKey: SECRET_KEY, sessionToken: SESSION_TOKEN },
  });

  const auditKey = createPrivateKey(readFileSync(auditKeyFile(), 'utf8'));
  publicKeyPem = createPublicKey(auditKey).export({ type: 'spki', format: 'pem' }).toString();
  kms = new KMSClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIAEXPORTTEST', secretAccessKey: SECRET_KEY },
  });
  kmsMock = mockClient(kms);
  kmsMock.on(GetPublicKeyCommand, { KeyId: KEY_ARN }).resolves({
    KeyId: KEY_ARN,
    KeySpec: 'ECC_NIST_P256',
    KeyUsage: 'SIGN_VERIFY',
    PublicKey: new Uint8Array(createPublicKey(auditKey).export({ type: 'spki', format: 'der' })),
  });
  kmsMock.on(SignCommand).callsFake((input: SignCommandInput) => {
    // Exactly what the function's key grant allows: this key, ECDSA_SHA_256 over a 32-byte DIGEST.
    if (
      input.KeyId !== KEY_ARN ||
      input.MessageType !== 'DIGEST' ||
      input.SigningAlgorithm !== 'ECDSA_SHA_256'
    )
      throw Object.assign(new Error('AccessDeniedException'), { name: 'AccessDeniedException' });
    if (input.Message?.length !== 32) throw new Error(`a DIGEST is 32 bytes, got ${input.Message?.length}`);
    return {
      KeyId: KEY_ARN,
      SigningAlgorithm: 'ECDSA_SHA_256',
      Signature: new Uint8Array(signDigest(auditKey, input.Message)),
    };
  });
});

afterAll(async () => {
  kmsMock?.restore();
  exportS3?.destroy();
  exportDynamo?.destroy();
  await s3?.stop();
  await dynamo?.stop();
  process.env = savedEnv;
});

beforeEach(() => {
  puts.length = 0;
  putInputs.length = 0;
  failPut = undefined;
});

describe('the evidence export function', () => {
  let written: ExportWritten;

  it('writes the on-demand period’s package under exports/<from>_<to>/run-…/, every file before the manifest', async () => {
    const handler = exportHandler();
    const result = await handler({ from: recordsFrom, to: recordsTo }, { awsRequestId: 'req-1' });
    expect(result).toMatchObject({
      status: 'written',
      trigger: 'on-demand',
      period: { from: recordsFrom, to: recordsTo },
      verified: true,
      problems: 0,
      files: Object.keys(PACKAGE_FILES).length + 1,
    });
    written = result as ExportWritten;
    const prefix = `exports/${periodLabel(exportRequest({ from: recordsFrom, to: recordsTo }, 'day', Date.now()).period)}/`;
    expect(written.location).toMatch(new RegExp(`^s3://${EVIDENCE_BUCKET}/${prefix}run-\\d{8}T\\d{9}Z/$`));
    expect(written.manifest).toBe(`${written.location}${MANIFEST_FILE}`);
    const runPrefix = written.location.replace(`s3://${EVIDENCE_BUCKET}/`, '');
    expect(puts.every((key) => key.startsWith(runPrefix))).toBe(true);
    expect(puts.at(-1)).toBe(`${runPrefix}${MANIFEST_FILE}`);
    expect(puts.slice(0, -1).sort()).toEqual(
      Object.values(PACKAGE_FILES)
        .map((file) => `${runPrefix}${file}`)
        .sort(),
    );
    // Never over another object, and with the SHA-256 S3 checks on receipt (Object Lock's integrity header).
    for (const input of putInputs) {
      expect(input.IfNoneMatch).toBe('*');
      expect(input.ChecksumSHA256).toBe(createHash('sha256').update(input.Body).digest('base64'));
    }
  });

  it('signs the manifest with the signing key (KMS DIGEST), so the audit trail’s public key checks the package', async () => {
    const { check, manifest, files } = await readPackage(written.location);
    expect(check.problems).toEqual([]);
    expect(manifest.period).toMatchObject({ from: recordsFrom, to: recordsTo });
    expect(manifest.signature?.algorithm).toBe('ECDSA_SHA_256');
    expect(manifest.files.map((entry) => entry.path).sort()).toEqual(Object.values(PACKAGE_FILES).sort());
    const signs = kmsMock.commandCalls(SignCommand).map((call) => call.args[0].input);
    expect(signs.length).toBeGreaterThanOrEqual(1);
    // A changed byte fails the check.
    const report = files.get(PACKAGE_FILES.report)!;
    const altered = checkPackage(
      files.get(MANIFEST_FILE)!,
      publicKeyPem,
      (path) => (path === PACKAGE_FILES.report ? Buffer.concat([report, Buffer.from(' ')]) : files.get(path)),
      [...files.keys()],
    );
    expect(altered.problems.map((p) => p.kind)).toEqual(['size']);
  });

  it('exports what the gateway recorded: the period’s records, verified against the registered heads', async () => {
    const { files } = await readPackage(written.location);
    const records = files
      .get(PACKAGE_FILES.records)!
      .toString('utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as StatementRecord | SessionStartRecord);
    const statements = records.filter((r): r is StatementRecord => r.type === 'statement');
    expect(statements.map((r) => [r.text, r.decision])).toEqual([
      ['SELECT 1 AS one', 'allowed'],
      ['CREATE TEMP TABLE export_t (v int)', 'allowed'],
      ['INSERT INTO export_t VALUES (1), (2)', 'allowed'],
      ['SELECT * FROM export_secret', 'refused'],
    ]);
    const summary = JSON.parse(files.get(PACKAGE_FILES.summary)!.toString('utf8')) as EvidenceSummary;
    expect(summary.counts).toMatchObject({ statements: 4, refusals: 1, authenticationFailures: 1 });
    expect(summary.verification).toMatchObject({ ok: true, writers: 1 });
    expect((await readRegisteredHeads(dynamo.client, table)).get('export-test-w0')).toBeDefined();
    const verification = JSON.parse(files.get(PACKAGE_FILES.verification)!.toString('utf8'));
    expect(JSON.stringify(verification)).toContain(`s3://${EVIDENCE_BUCKET}/audit/`);
    expect(files.get(PACKAGE_FILES.policy)!.toString('utf8')).toBe(POLICY);
    expect(files.get(PACKAGE_FILES.report)!.toString('utf8')).toMatch(/^<!DOCTYPE html>/i);
    const ar = JSON.parse(files.get(PACKAGE_FILES.assessmentResults)!.toString('utf8'));
    expect(ar).toHaveProperty('assessment-results');
  });

  it('writes nothing for a period that already has a package, unless a rerun is asked for', async () => {
    const handler = exportHandler();
    const again = (await handler({ from: recordsFrom, to: recordsTo })) as ExportExists;
    expect(again).toMatchObject({ status: 'exists', location: written.location, runs: [written.location] });
    expect(puts).toEqual([]);
    // The same period written another way is the same place.
    const shifted = new Date(Date.parse(recordsFrom)).toISOString().replace('Z', '+00:00');
    await expect(handler({ from: shifted, to: recordsTo })).resolves.toMatchObject({ status: 'exists' });

    const rerun = (await handler({ from: recordsFrom, to: recordsTo, rerun: true })) as ExportWritten;
    expect(rerun.status).toBe('written');
    expect(rerun.location).not.toBe(written.location);
    expect((await readPackage(rerun.location)).check.problems).toEqual([]);
    // The first package is untouched.
    expect((await readPackage(written.location)).check.problems).toEqual([]);
  });

  it('leaves no manifest when a file cannot be written; the next run writes a complete package', async () => {
    const handler = exportHandler();
    const from = new Date(Date.parse(recordsFrom) - 3_600_000).toISOString();
    failPut = /\/report\.html$/;
    await expect(handler({ from, to: recordsTo })).rejects.toThrow('We encountered an internal error');
    expect(puts.some((key) => key.endsWith(MANIFEST_FILE))).toBe(false);
    const runs = [...new Set(puts.map((key) => `${key.split('/').slice(0, 3).join('/')}/`))];
    expect(runs).toHaveLength(1);
    const incomplete = runs[0]!;
    expect((await keysUnder(incomplete)).length).toBeGreaterThan(0);
    expect(await keysUnder(incomplete)).not.toContain(`${incomplete}${MANIFEST_FILE}`);

    failPut = undefined;
    const retried = (await handler({ from, to: recordsTo })) as ExportWritten;
    expect(retried.status).toBe('written');
    expect(`s3://${EVIDENCE_BUCKET}/${incomplete}`).not.toBe(retried.location);
    expect((await readPackage(retried.location)).check.problems).toEqual([]);
    expect(logLines.some((line) => line.includes('"msg":"a package file could not be written'))).toBe(true);
  });

  it('exports the previous full UTC day for the scheduled event', async () => {
    const handler = exportHandler();
    const scheduledFor = new Date();
    scheduledFor.setUTCHours(1, 30, 0, 0);
    const result = (await handler({
      version: '0',
      id: '7bf73129-1428-4cd3-a780-95db273d1602',
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: '111122223333',
      time: scheduledFor.toISOString().replace('.000Z', 'Z'),
      region: 'us-east-1',
      resources: ['arn:aws:events:us-east-1:111122223333:rule/evidence-export'],
      detail: {},
    })) as ExportWritten;
    const today = scheduledFor.toISOString().slice(0, 10);
    const yesterday = new Date(Date.parse(today) - 86_400_000).toISOString().slice(0, 10);
    expect(result).toMatchObject({
      status: 'written',
      trigger: 'schedule',
      period: { from: yesterday, to: today },
    });
    expect(result.location).toMatch(
      new RegExp(`^s3://${EVIDENCE_BUCKET}/exports/${yesterday}_${today}/run-`),
    );
    expect((await readPackage(result.location)).check.problems).toEqual([]);
  });

  it.each([
    [{ from: '2026-11-01' }, /neither an EventBridge scheduled event nor \{"from".*to: Required/],
    [{ from: '2026-11-01', to: '2026-11-02', force: true }, /Unrecognized key\(s\) in object: 'force'/],
    [
      { from: 'last week', to: '2026-11-02' },
      /^from: expected a date \(2026-03-01\) or a time with its zone/,
    ],
    [{ from: '2026-11-01T08:00:00', to: '2026-11-02' }, /^from: expected a date .* with its zone/],
    [{ from: '2026-11-02', to: '2026-11-01' }, /^to \(2026-11-01\) must be after from \(2026-11-02\)/],
    [{ from: '2026-11-01', to: '2999-01-01' }, /^to \(2999-01-01\) is in the future/],
    [null, /neither an EventBridge scheduled event nor/],
  ])('refuses the event %j with a clear error, writing nothing', async (event, message) => {
    const handler = exportHandler();
    const refusal = handler(event);
    await expect(refusal).rejects.toBeInstanceOf(ExportEventError);
    await expect(refusal).rejects.toThrow(message);
    expect(puts).toEqual([]);
  });

  it('logs JSON lines with no credentials, bearer tokens or signatures', () => {
    expect(logLines.length).toBeGreaterThan(5);
    const text = logLines.join('');
    for (const line of logLines) expect(() => JSON.parse(line)).not.toThrow();
    for (const secret of [SESSION_TOKEN, SECRET_KEY, ...bearerTokens]) expect(text).not.toContain(secret);
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./); // no JWT
    expect(text).not.toContain('"signature"');
    expect(text).toContain('"msg":"evidence package written"');
    expect(text).toContain('"awsRequestId":"req-1"');
  });
});

describe('the export function’s configuration', () => {
  it('reads its environment with defaults', () => {
    expect(loadExportConfig(environment({ GATEWAY_TABLE: 'gatehouse-table' }))).toEqual({
      bucket: EVIDENCE_BUCKET,
      auditPrefix: 'audit/',
      exportsPrefix: 'exports/',
      table: 'gatehouse-table',
      policyBucket: POLICY_BUCKET,
      policyKey: 'policy.yaml',
      signingKeyId: KEY_ARN,
      scheduledPeriod: 'day',
      issuers: { local: LOCAL_ISSUER },
      region: 'us-east-1',
      logLevel: 'info',
    });
  });

  it.each([
    [{ EVIDENCE_BUCKET: '' }, /EVIDENCE_BUCKET: Required/],
    [
      { EXPORTS_PREFIX: 'audit/exports/' },
      /EXPORTS_PREFIX: EXPORTS_PREFIX and AUDIT_PREFIX must not contain one another/,
    ],
    [{ EXPORTS_PREFIX: 'exports' }, /EXPORTS_PREFIX: EXPORTS_PREFIX must be one or more key segments/],
    [{ SCHEDULED_PERIOD: 'week' }, /SCHEDULED_PERIOD: Invalid enum value/],
    [{ ISSUERS: '{github:' }, /ISSUERS: is not JSON/],
    [{ ISSUERS: '{"github": "not a url"}' }, /ISSUERS\.github: Invalid url/],
  ])('refuses %j, naming the variable', (overrides, message) => {
    expect(() => loadExportConfig(environment({ GATEWAY_TABLE: 'gatehouse-table', ...overrides }))).toThrow(
      ConfigurationError,
    );
    expect(() => loadExportConfig(environment({ GATEWAY_TABLE: 'gatehouse-table', ...overrides }))).toThrow(
      message,
    );
  });
});

describe('the export periods', () => {
  it.each([
    ['day', '2026-03-01T01:30:00Z', '2026-02-28', '2026-03-01'],
    ['day', '2026-11-02T23:59:59.999Z', '2026-11-01', '2026-11-02'],
    ['month', '2026-03-01T01:30:00Z', '2026-02-01', '2026-03-01'],
    ['month', '2027-01-01T01:30:00Z', '2026-12-01', '2027-01-01'],
    ['month', '2026-03-17T12:00:00Z', '2026-02-01', '2026-03-01'],
  ] as const)('a %s scheduled for %s is [%s, %s)', (unit, time, from, to) => {
    expect(scheduledPeriod(Date.parse(time), unit)).toMatchObject({ from, to });
  });

  it.each([
    ['2026-11-01', '2026-11-02', '2026-11-01_2026-11-02'],
    ['2026-11-01T02:00:00+02:00', '2026-11-02T00:00:00Z', '2026-11-01_2026-11-02'],
    ['2026-11-01T08:30:00Z', '2026-11-01T09:00:00.25Z', '2026-11-01T083000Z_2026-11-01T090000.25Z'],
    ['2026-11-01T08:30:00.000001Z', '2026-11-02', '2026-11-01T083000.000001Z_2026-11-02'],
  ])('names [%s, %s) %s in the bucket', (from, to, label) => {
    expect(periodLabel(exportRequest({ from, to }, 'day', Date.parse('2027-01-01')).period)).toBe(label);
  });
});
