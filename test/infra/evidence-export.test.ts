import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { S3Client } from '@aws-sdk/client-s3';
import { App, type CfnElement, Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { IConstruct } from 'constructs';
import { loadExportConfig } from '../../functions/evidence-export/config';
import { createExportHandler } from '../../functions/evidence-export/handler';
import { silentLogger } from '../../functions/shared/logger';
import {
  EvidenceExportError,
  type EvidenceExportErrorCode,
  type EvidenceExportProps,
} from '../../infra/evidence-export/evidence-export';
import { evidenceExportTestStack, ISSUERS, POLICY_BUCKET_NAME } from './evidence-export-stack';

// Synthesized once for the whole file (bundling skipped: the template is what is tested here).
const test = evidenceExportTestStack();
const operator = new iam.Role(test.stack, 'OperatorRole', { assumedBy: new iam.AccountRootPrincipal() });
test.exporter.grantInvoke(operator);
const template = Template.fromStack(test.stack);
type Resource = { Type: string; Properties: Record<string, unknown>; DependsOn?: string[] };
const resources = template.toJSON().Resources as Record<string, Resource>;

const logicalId = (c: IConstruct): string =>
  test.stack.getLogicalId((c.node.defaultChild ?? c) as CfnElement);
const child = (id: string) => test.exporter.node.findChild(id);
const arnOf = (c: IConstruct) => ({ 'Fn::GetAtt': [logicalId(c), 'Arn'] });
const refOf = (c: IConstruct) => ({ Ref: logicalId(c) });
const objectsOf = (c: IConstruct, pattern: string) => ({ 'Fn::Join': ['', [arnOf(c), `/${pattern}`]] });
const resourceOf = (c: IConstruct): Resource => {
  const resource = resources[logicalId(c)];
  if (!resource) throw new Error(`no resource for ${c.node.path}`);
  return resource;
};
const { evidence } = test;
const dataKeyArn = arnOf(evidence.dataKey);
const policyObjectArn = {
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:s3:::${POLICY_BUCKET_NAME}/policy.yaml`]],
};
const policyBucketArn = {
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:s3:::${POLICY_BUCKET_NAME}`]],
};

interface Statement {
  readonly Action: string[];
  readonly Resource: unknown;
  readonly Condition?: unknown;
}
function normalize(statement: Record<string, unknown>): Statement {
  expect(statement.Effect).toBe('Allow');
  const actions = (Array.isArray(statement.Action) ? statement.Action : [statement.Action]) as string[];
  return {
    Action: [...actions].sort(),
    Resource: statement.Resource,
    ...(statement.Condition ? { Condition: statement.Condition } : {}),
  };
}
const sortStatements = (s: Statement[]) =>
  [...s].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
const allow = (actions: string[], resource: unknown, condition?: unknown): Statement => ({
  Action: [...actions].sort(),
  Resource: resource,
  ...(condition ? { Condition: condition } : {}),
});
/** The statements of the export's managed policy. */
const exportStatements = sortStatements(
  (
    resourceOf(child('Policy')).Properties.PolicyDocument as { Statement: Record<string, unknown>[] }
  ).Statement.map(normalize),
);
const viaS3 = (contexts: unknown[]) => ({
  StringEquals: { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' },
  StringLike: { 'kms:EncryptionContext:aws:s3:arn': contexts },
});

describe('EvidenceExport function', () => {
  it('runs on Node 22 arm64 with 2 GiB, 15 minutes, reserved concurrency 1, JSON logs to its own group', () => {
    expect(resourceOf(child('Function')).Properties).toMatchObject({
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      MemorySize: 2048,
      Timeout: 900,
      ReservedConcurrentExecutions: 1,
      LoggingConfig: { LogFormat: 'JSON', LogGroup: refOf(child('Logs')) },
      Role: arnOf(child('Role')),
      DeadLetterConfig: { TargetArn: arnOf(child('DeadLetterQueue')) },
    });
    expect(resourceOf(child('Function')).Properties).not.toHaveProperty('VpcConfig');
  });

  it('is told the bucket, prefixes, table, policy object, signing key, period and issuer names', () => {
    expect(resourceOf(child('Function')).Properties.Environment).toEqual({
      Variables: {
        EVIDENCE_BUCKET: refOf(evidence.bucket),
        AUDIT_PREFIX: 'audit/',
        EXPORTS_PREFIX: 'exports/',
        GATEWAY_TABLE: refOf(evidence.table),
        POLICY_BUCKET: POLICY_BUCKET_NAME,
        POLICY_KEY: 'policy.yaml',
        SIGNING_KEY_ID: arnOf(evidence.signingKey),
        SCHEDULED_PERIOD: 'day',
        ISSUERS: JSON.stringify(ISSUERS),
        NODE_OPTIONS: '--enable-source-maps',
      },
    });
  });

  it('retries a failed scheduled run twice within 6 hours, then keeps the event 14 days in an SSL-only queue', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: refOf(child('Function')),
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 6 * 3600,
    });
    expect(resourceOf(child('DeadLetterQueue')).Properties).toEqual({
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 86_400,
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [refOf(child('DeadLetterQueue'))],
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Deny',
            Action: 'sqs:*',
            Principal: { AWS: '*' },
            Resource: arnOf(child('DeadLetterQueue')),
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
        ],
      },
    });
  });

  it('logs to a named group under the data key, kept a year, which only CloudWatch Logs for it may use', () => {
    const group = resourceOf(child('Logs'));
    expect(group.Properties).toEqual({
      LogGroupName: expect.stringMatching(
        /^\/gatehouse\/EvidenceExportTestEvidenceExport[0-9A-F]{8}\/evidence-export$/,
      ),
      KmsKeyId: dataKeyArn,
      RetentionInDays: 365,
    });
    const keyPolicy = resourceOf(evidence.dataKey).Properties.KeyPolicy as {
      Statement: Record<string, unknown>[];
    };
    expect(keyPolicy.Statement.find((s) => s.Sid === 'GatehouseEvidenceExportLogs')).toEqual({
      Sid: 'GatehouseEvidenceExportLogs',
      Effect: 'Allow',
      Principal: { Service: 'logs.eu-west-1.amazonaws.com' },
      Action: [
        'kms:Encrypt',
        'kms:Decrypt',
        'kms:ReEncryptFrom',
        'kms:ReEncryptTo',
        'kms:GenerateDataKey',
        'kms:DescribeKey',
      ],
      Resource: '*',
      Condition: {
        ArnEquals: {
          'kms:EncryptionContext:aws:logs:arn': {
            'Fn::Join': [
              '',
              [
                'arn:',
                { Ref: 'AWS::Partition' },
                `:logs:eu-west-1:111122223333:log-group:${group.Properties.LogGroupName}`,
              ],
            ],
          },
        },
      },
    });
  });

  it('names the function in an output with the on-demand invocation', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown; Description: string }>;
    const output = Object.values(outputs).find(
      (o) => JSON.stringify(o.Value) === JSON.stringify(refOf(child('Function'))),
    );
    expect(output?.Description).toContain(`aws lambda invoke --function-name <this> --cli-read-timeout 900`);
    expect(output?.Description).toContain(`--payload '{"from":"2026-11-01","to":"2026-11-08"}'`);
  });
});

describe('EvidenceExport schedule', () => {
  it('runs daily at 01:30 UTC through an EventBridge rule that passes the scheduled event', () => {
    expect(resourceOf(test.exporter.rule).Properties).toEqual({
      Description: 'Gatehouse evidence export: the previous day (UTC)',
      ScheduleExpression: 'cron(30 1 * * ? *)',
      State: 'ENABLED',
      Targets: [{ Arn: arnOf(child('Function')), Id: 'Target0' }],
    });
  });

  it('lets only that rule invoke the function (no role, no other principal)', () => {
    const permissions = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Permission');
    expect(permissions.map((p) => p.Properties)).toEqual([
      {
        Action: 'lambda:InvokeFunction',
        FunctionName: arnOf(child('Function')),
        Principal: 'events.amazonaws.com',
        SourceArn: arnOf(test.exporter.rule),
      },
    ]);
  });

  it('runs monthly on the 1st for period month, or on the schedule given', () => {
    const monthly = evidenceExportTestStack({ period: 'month' });
    const monthlyTemplate = Template.fromStack(monthly.stack);
    monthlyTemplate.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'cron(30 1 1 * ? *)' });
    monthlyTemplate.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { SCHEDULED_PERIOD: 'month' } },
    });
    const custom = evidenceExportTestStack({ schedule: events.Schedule.cron({ minute: '0', hour: '4' }) });
    Template.fromStack(custom.stack).hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'cron(0 4 * * ? *)',
    });
  });
});

describe('EvidenceExport permissions', () => {
  it('are one customer-managed policy on its own role: no inline policy, nothing CDK adds', () => {
    expect(resourceOf(child('Role')).Properties).toMatchObject({
      AssumeRolePolicyDocument: {
        Statement: [
          { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
        ],
      },
      ManagedPolicyArns: [refOf(child('Policy'))],
    });
    const inline = Object.values(resources).filter(
      (r) =>
        r.Type === 'AWS::IAM::Policy' &&
        JSON.stringify(r.Properties.Roles).includes(logicalId(child('Role'))),
    );
    expect(inline).toEqual([]);
    // The policy exists before the function (which it would not otherwise wait for).
    expect(resourceOf(child('Function')).DependsOn).toContain(logicalId(child('Policy')));
  });

  it('are exactly: read the audit prefix, write the exports prefix, the policy object, the table, the signing key', () => {
    expect(exportStatements).toEqual(
      sortStatements([
        allow(['s3:ListBucket'], arnOf(evidence.bucket), {
          StringLike: { 's3:prefix': ['audit/*', 'exports/*'] },
        }),
        allow(['s3:GetObject'], objectsOf(evidence.bucket, 'audit/*')),
        allow(['s3:PutObject'], objectsOf(evidence.bucket, 'exports/*')),
        allow(['s3:GetObject'], policyObjectArn),
        allow(
          ['kms:Decrypt'],
          dataKeyArn,
          viaS3([arnOf(evidence.bucket), objectsOf(evidence.bucket, 'audit/*')]),
        ),
        allow(
          ['kms:GenerateDataKey'],
          dataKeyArn,
          viaS3([arnOf(evidence.bucket), objectsOf(evidence.bucket, 'exports/*')]),
        ),
        allow(['kms:Decrypt'], dataKeyArn, viaS3([policyBucketArn, policyObjectArn])),
        allow(['dynamodb:Scan'], arnOf(evidence.table)),
        allow(['kms:Decrypt', 'kms:DescribeKey'], dataKeyArn, {
          StringEquals: { 'kms:ViaService': 'dynamodb.eu-west-1.amazonaws.com' },
        }),
        allow(['kms:GetPublicKey'], arnOf(evidence.signingKey)),
        allow(['kms:Sign'], arnOf(evidence.signingKey), {
          StringEquals: { 'kms:SigningAlgorithm': 'ECDSA_SHA_256', 'kms:MessageType': 'DIGEST' },
        }),
        allow(['logs:CreateLogStream', 'logs:PutLogEvents'], arnOf(child('Logs'))),
        allow(['sqs:SendMessage'], arnOf(child('DeadLetterQueue'))),
      ]),
    );
  });

  it('never delete, change retention, bypass governance or write outside the exports prefix', () => {
    const actions = exportStatements.flatMap((s) => s.Action);
    for (const action of actions) {
      expect(action).not.toContain('*');
      expect(action).not.toMatch(
        /Delete|Retention|LegalHold|Bypass|PutBucket|Put.*Acl|kms:Create|kms:Schedule/,
      );
    }
    const writes = exportStatements.filter((s) => s.Action.includes('s3:PutObject'));
    expect(writes.map((s) => s.Resource)).toEqual([objectsOf(evidence.bucket, 'exports/*')]);
    expect(exportStatements.every((s) => s.Resource !== '*')).toBe(true);
  });

  it('let an operator invoke it on demand (grantInvoke) and nothing more', () => {
    const policies = Object.values(resources).filter(
      (r) =>
        r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles).includes(logicalId(operator)),
    );
    expect(
      policies.flatMap((p) =>
        (p.Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement.map(normalize),
      ),
    ).toEqual([
      allow(
        ['lambda:InvokeFunction'],
        [arnOf(child('Function')), { 'Fn::Join': ['', [arnOf(child('Function')), ':*']] }],
      ),
    ]);
  });
});

/**
 * The grants are written from what the handler calls; this runs the handler, with the environment
 * the template gives it, against recording clients, and checks every call against the policy.
 */
describe('EvidenceExport grants cover what the handler sends, and nothing is unused', () => {
  /** CloudFormation values of this template as strings: Ref → name, GetAtt Arn → an ARN of its type. */
  function render(value: unknown): string {
    if (typeof value === 'string') return value;
    const v = value as Record<string, unknown>;
    if ('Ref' in v) return v.Ref === 'AWS::Partition' ? 'aws' : String(v.Ref);
    if ('Fn::Join' in v) {
      const [separator, parts] = v['Fn::Join'] as [string, unknown[]];
      return parts.map(render).join(separator);
    }
    if ('Fn::GetAtt' in v) {
      const [id] = v['Fn::GetAtt'] as [string, string];
      const type = resources[id]?.Type;
      if (type === 'AWS::S3::Bucket') return `arn:aws:s3:::${id}`;
      if (type === 'AWS::DynamoDB::Table') return `arn:aws:dynamodb:eu-west-1:111122223333:table/${id}`;
      if (type === 'AWS::KMS::Key') return `arn:aws:kms:eu-west-1:111122223333:key/${id}`;
      return `arn:aws:other:::${id}`;
    }
    throw new Error(`cannot render ${JSON.stringify(value)}`);
  }
  const glob = (pattern: string) =>
    new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);

  interface Call {
    readonly action: string;
    readonly resource: string;
    readonly context: Record<string, string>;
  }
  const calls: Call[] = [];
  const POLICY =
    'version: 1\nidentities:\n  ci: { issuer: github, claims: { repository_id: "1" } }\ngrants: []\n';
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });

  function fake<T>(service: string, reply: (name: string, input: Record<string, unknown>) => unknown): T {
    return {
      send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
        const name = command.constructor.name.replace(/Command$/, '');
        const input = command.input;
        const bucketArn = `arn:aws:s3:::${String(input.Bucket)}`;
        if (service === 's3' && name === 'ListObjectsV2')
          calls.push({
            action: 's3:ListBucket',
            resource: bucketArn,
            context: { 's3:prefix': String(input.Prefix) },
          });
        else if (service === 's3')
          calls.push({ action: `s3:${name}`, resource: `${bucketArn}/${String(input.Key)}`, context: {} });
        else if (service === 'dynamodb')
          calls.push({
            action: `dynamodb:${name}`,
            resource: `arn:aws:dynamodb:eu-west-1:111122223333:table/${String(input.TableName)}`,
            context: {},
          });
        else
          calls.push({
            action: `kms:${name}`,
            resource: String(input.KeyId),
            context: {
              'kms:SigningAlgorithm': String(input.SigningAlgorithm),
              'kms:MessageType': String(input.MessageType),
            },
          });
        return reply(name, input);
      },
    } as unknown as T;
  }

  beforeAll(async () => {
    const variables = (
      resourceOf(child('Function')).Properties.Environment as { Variables: Record<string, unknown> }
    ).Variables;
    const env = Object.fromEntries(Object.entries(variables).map(([name, value]) => [name, render(value)]));
    const body = (text: string) => ({
      transformToByteArray: async () => new Uint8Array(Buffer.from(text)),
      transformToString: async () => text,
    });
    const s3 = fake<S3Client>('s3', (name, input) => {
      if (name === 'ListObjectsV2')
        return String(input.Prefix).startsWith('audit/')
          ? { Contents: [{ Key: 'audit/host-w0/chunk-0.jsonl' }] }
          : {};
      if (name === 'GetObject') return { Body: body(String(input.Key).endsWith('.yaml') ? POLICY : '') };
      return {};
    });
    const dynamodb = fake<DynamoDBClient>('dynamodb', () => ({ Items: [] }));
    const kms = fake<KMSClient>('kms', (name) =>
      name === 'GetPublicKey'
        ? { PublicKey: new Uint8Array(createPublicKey(privateKey).export({ type: 'spki', format: 'der' })) }
        : { Signature: new Uint8Array([0x30, 0x00]) },
    );
    const handler = createExportHandler({
      config: loadExportConfig(env),
      s3,
      dynamodb,
      kms,
      logger: silentLogger,
    });
    await handler({ from: '2026-11-01', to: '2026-11-02' });
  });

  function allowed(call: Call): boolean {
    return exportStatements.some((statement) => {
      if (!statement.Action.includes(call.action)) return false;
      const resources = (Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource]).map(
        render,
      );
      if (!resources.some((r) => glob(r).test(call.resource))) return false;
      const conditions = (statement.Condition ?? {}) as Record<string, Record<string, unknown>>;
      return Object.entries(conditions).every(([operator, values]) =>
        Object.entries(values).every(([key, expected]) => {
          const patterns = (Array.isArray(expected) ? expected : [expected]).map(render);
          const actual = call.context[key];
          if (actual === undefined) return false;
          return operator === 'StringLike'
            ? patterns.some((p) => glob(p).test(actual))
            : patterns.includes(actual);
        }),
      );
    });
  }

  it('every call the handler makes is allowed by a statement', () => {
    expect(calls.map((c) => c.action).sort()).toEqual(
      expect.arrayContaining([
        'dynamodb:Scan',
        'kms:GetPublicKey',
        'kms:Sign',
        's3:GetObject',
        's3:ListBucket',
        's3:PutObject',
      ]),
    );
    expect(calls.filter((call) => !allowed(call))).toEqual([]);
  });

  it('every statement the handler can use directly is used (the rest are S3, DynamoDB, Logs and Lambda’s)', () => {
    const direct = exportStatements.filter(
      (s) =>
        !s.Action.some((a) => a.startsWith('logs:') || a.startsWith('sqs:')) &&
        !JSON.stringify(s).includes('kms:ViaService'),
    );
    for (const statement of direct) {
      const used = calls.some((call) => {
        if (!statement.Action.includes(call.action)) return false;
        const resources = (Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource]).map(
          render,
        );
        return resources.some((r) => glob(r).test(call.resource));
      });
      expect([statement.Action, used]).toEqual([statement.Action, true]);
    }
  });

  it('writes below the exports prefix only, the manifest last, and reads below the audit prefix only', () => {
    const puts = calls.filter((c) => c.action === 's3:PutObject').map((c) => c.resource);
    expect(puts.length).toBe(15);
    expect(puts.every((key) => key.includes('/exports/2026-11-01_2026-11-02/run-'))).toBe(true);
    expect(puts.at(-1)).toMatch(/\/manifest\.json$/);
    const reads = calls.filter((c) => c.action === 's3:GetObject').map((c) => c.resource);
    expect(reads.filter((r) => !r.endsWith('/policy.yaml')).every((r) => r.includes('/audit/'))).toBe(true);
  });
});

describe('EvidenceExport bundling', () => {
  it('bundles the real handler with the local esbuild (no Docker), minified with external source maps', () => {
    const bundled = evidenceExportTestStack({}, new App());
    const assembly = bundled.app.synth();
    const fn = Template.fromStack(bundled.stack).findResources('AWS::Lambda::Function', {
      Properties: { Description: expectDescription() },
    });
    expect(Object.keys(fn)).toHaveLength(1);
    const key = (Object.values(fn)[0]!.Properties.Code as { S3Key: string }).S3Key;
    const bundle = path.join(assembly.directory, `asset.${key.replace(/\.zip$/, '')}`);
    expect(readdirSync(bundle).sort()).toEqual(['index.js', 'index.js.map']);
    const map = JSON.parse(readFileSync(path.join(bundle, 'index.js.map'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(map).not.toHaveProperty('sourcesContent');
    // The builder, renderers and adapters are in the bundle, and nothing native or WebAssembly.
    expect((map.sources as string[]).some((s) => s.includes('core/evidence/build-evidence.ts'))).toBe(true);
    expect((map.sources as string[]).some((s) => /libpg-query|\.wasm|\.node$/.test(s))).toBe(false);
  });
  function expectDescription(): string {
    return 'Gatehouse evidence export: the NIST evidence package of a period, to the evidence bucket';
  }
});

describe('EvidenceExport props', () => {
  function refusal(props: Partial<EvidenceExportProps>): EvidenceExportError {
    try {
      evidenceExportTestStack(props);
    } catch (error) {
      if (error instanceof EvidenceExportError) return error;
      throw error;
    }
    throw new Error('the props were accepted');
  }

  it.each<[string, Partial<EvidenceExportProps>, EvidenceExportErrorCode, RegExp]>([
    [
      'an exports prefix without a slash',
      { exportsPrefix: 'exports' },
      'ExportsPrefixInvalid',
      /^EvidenceExport exportsPrefix: "exports" is not a literal key prefix/,
    ],
    [
      'the audit prefix itself',
      { exportsPrefix: 'audit/' },
      'ExportsPrefixOverlapsAudit',
      /exportsPrefix: "audit\/" and the audit prefix "audit\/" contain one another/,
    ],
    [
      'an exports prefix inside the audit store',
      { exportsPrefix: 'audit/exports/' },
      'ExportsPrefixOverlapsAudit',
      /write into the audit store/,
    ],
    [
      'a period of a week',
      { period: 'week' as never },
      'PeriodInvalid',
      /period: "week" is neither 'day' nor 'month'/,
    ],
    [
      'a 16-minute timeout',
      { timeout: Duration.minutes(16) },
      'TimeoutOutOfRange',
      /timeout: 16 minutes is outside 1 to 15 minutes/,
    ],
    ['a 30-second timeout', { timeout: Duration.seconds(30) }, 'TimeoutOutOfRange', /timeout: 30 seconds/],
    [
      '128 MiB',
      { memorySize: 128 },
      'MemorySizeOutOfRange',
      /memorySize: 128 is not an integer from 512 to 10240/,
    ],
    [
      'an issuer without a URL',
      { issuers: { github: 'github' } },
      'IssuerInvalid',
      /issuers.github: "github" under "github"/,
    ],
    [
      'an issuer name with a space',
      { issuers: { 'git hub': 'https://x.example' } },
      'IssuerInvalid',
      /issuers.git hub/,
    ],
    [
      'a missing handler',
      { entry: '/nonexistent/handler.ts' },
      'EntryNotFound',
      /entry: \/nonexistent\/handler.ts does not exist/,
    ],
  ])('refuses %s, naming the prop and the fix', (_case, props, code, message) => {
    const error = refusal(props);
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });

  it('accepts another log retention and memory size', () => {
    const other = evidenceExportTestStack({ logRetention: logs.RetentionDays.TEN_YEARS, memorySize: 4096 });
    const t = Template.fromStack(other.stack);
    t.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 3653 });
    t.hasResourceProperties('AWS::Lambda::Function', { MemorySize: 4096 });
  });
});
