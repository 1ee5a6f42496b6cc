import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { S3Client } from '@aws-sdk/client-s3';
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { IConstruct } from 'constructs';
import { DynamoDbHeadRegistry } from '../../fargate-proxy/src/audit/dynamodb-head-registry';
import { DynamoDbStrictStore } from '../../fargate-proxy/src/audit/dynamodb-strict-store';
import { KmsDigestSigner } from '../../fargate-proxy/src/audit/kms-digest-signer';
import { S3AuditStore } from '../../fargate-proxy/src/audit/s3-audit-store';
import type { StrictItem } from '../../fargate-proxy/src/audit/strict-store';
import { DynamoDbSessionRegistry } from '../../fargate-proxy/src/sessions/dynamodb-session-registry';
import type { LiveSession } from '../../fargate-proxy/src/sessions/session-registry';
import {
  EvidenceStore,
  EvidenceStoreError,
  type EvidenceStoreErrorCode,
  type EvidenceStoreProps,
  GATEWAY_OBJECT_ACTIONS,
  GATEWAY_WRITTEN_PARTITIONS,
} from '../../infra/evidence/evidence-store';

const ENV = { account: '123456789012', region: 'eu-west-1' };

// Synthesized once for the whole file: the store with its defaults, a gateway role and an auditor role.
const app = new App();
const stack = new Stack(app, 'EvidenceTest', { env: ENV });
const store = new EvidenceStore(stack, 'Evidence');
const gatewayRole = new iam.Role(stack, 'GatewayTaskRole', {
  assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
});
store.grantGatewayWrite(gatewayRole);
const auditorRole = new iam.Role(stack, 'AuditorRole', { assumedBy: new iam.AccountRootPrincipal() });
store.grantAuditorRead(auditorRole);
const template = Template.fromStack(stack);
const resources = template.toJSON().Resources as Record<
  string,
  { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string; UpdateReplacePolicy?: string }
>;

const logicalId = (c: IConstruct): string => stack.getLogicalId((c.node.defaultChild ?? c) as CfnElement);
const arnOf = (c: IConstruct) => ({ 'Fn::GetAtt': [logicalId(c), 'Arn'] });
const objectsOf = (c: IConstruct, pattern: string) => ({ 'Fn::Join': ['', [arnOf(c), `/${pattern}`]] });
const resourceOf = (c: IConstruct) => {
  const resource = resources[logicalId(c)];
  if (!resource) throw new Error(`no resource for ${c.node.path}`);
  return resource;
};
const dataKeyArn = arnOf(store.dataKey);

interface Statement {
  readonly Effect: string;
  readonly Action: string[];
  readonly Resource: unknown;
  readonly Condition?: unknown;
}
function normalize(statement: Record<string, unknown>): Statement {
  const actions = (Array.isArray(statement.Action) ? statement.Action : [statement.Action]) as string[];
  return {
    Effect: statement.Effect as string,
    Action: [...actions].sort(),
    Resource: statement.Resource,
    ...(statement.Condition ? { Condition: statement.Condition } : {}),
  };
}
const sortStatements = (s: Statement[]) =>
  [...s].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
/** Every statement of every policy attached to the role, order-independent. */
function statementsOf(role: iam.Role): Statement[] {
  const id = logicalId(role);
  const statements: Statement[] = [];
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::IAM::Policy') continue;
    if (!JSON.stringify(resource.Properties.Roles).includes(`"${id}"`)) continue;
    const document = resource.Properties.PolicyDocument as { Statement: Record<string, unknown>[] };
    statements.push(...document.Statement.map(normalize));
  }
  return sortStatements(statements);
}
const allow = (actions: string[], resource: unknown, condition?: unknown): Statement => ({
  Effect: 'Allow',
  Action: [...actions].sort(),
  Resource: resource,
  ...(condition ? { Condition: condition } : {}),
});
function bucketPolicyOf(bucket: IConstruct): Statement[] {
  const policies = Object.values(resources).filter(
    (r) =>
      r.Type === 'AWS::S3::BucketPolicy' &&
      JSON.stringify(r.Properties.Bucket) === JSON.stringify({ Ref: logicalId(bucket) }),
  );
  expect(policies).toHaveLength(1);
  const document = policies[0]?.Properties.PolicyDocument as { Statement: Record<string, unknown>[] };
  return document.Statement.map((s) => ({
    ...normalize(s),
    ...(s.Principal ? { Principal: s.Principal } : {}),
  }));
}

describe('EvidenceStore', () => {
  describe('evidence bucket', () => {
    it('locks every version in COMPLIANCE mode for 365 days by default, versioned and retained', () => {
      const bucket = resourceOf(store.bucket);
      expect(bucket.DeletionPolicy).toBe('Retain');
      expect(bucket.UpdateReplacePolicy).toBe('Retain');
      expect(bucket.Properties).toMatchObject({
        ObjectLockEnabled: true,
        ObjectLockConfiguration: {
          ObjectLockEnabled: 'Enabled',
          Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 365 } },
        },
        VersioningConfiguration: { Status: 'Enabled' },
      });
      // No custom resource that could empty it (autoDeleteObjects) anywhere in the stack.
      expect(Object.values(resources).filter((r) => r.Type.startsWith('Custom::'))).toEqual([]);
    });

    it('encrypts with the data key (SSE-KMS, bucket key), and the data key rotates and is retained', () => {
      expect(resourceOf(store.bucket).Properties.BucketEncryption).toEqual({
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: dataKeyArn },
          },
        ],
      });
      const key = resourceOf(store.dataKey);
      expect(key.Properties).toMatchObject({ EnableKeyRotation: true });
      expect(key.Properties.KeySpec ?? 'SYMMETRIC_DEFAULT').toBe('SYMMETRIC_DEFAULT');
      expect(key.DeletionPolicy).toBe('Retain');
    });

    it('moves versions to Glacier Instant Retrieval (current after 90 days, noncurrent after 30) and never expires them', () => {
      const rules = (resourceOf(store.bucket).Properties.LifecycleConfiguration as { Rules: unknown[] })
        .Rules;
      expect(rules).toEqual([
        {
          Id: 'ArchiveEvidence',
          Status: 'Enabled',
          Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 90 }],
          NoncurrentVersionTransitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 30 }],
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
        },
      ]);
    });

    it('sends its server access logs to the access-log bucket, partitioned by event time', () => {
      expect(resourceOf(store.bucket).Properties.LoggingConfiguration).toEqual({
        DestinationBucketName: { Ref: logicalId(store.accessLogBucket) },
        LogFilePrefix: 'evidence/',
        TargetObjectKeyFormat: { PartitionedPrefix: { PartitionDateSource: 'EventTime' } },
      });
    });
  });

  describe('access-log bucket', () => {
    it('is not locked (S3 refuses a locked log target), uses SSE-S3, is versioned, expires logs and is retained', () => {
      const bucket = resourceOf(store.accessLogBucket);
      expect(bucket.Properties.ObjectLockEnabled).toBeUndefined();
      expect(bucket.Properties.ObjectLockConfiguration).toBeUndefined();
      expect(bucket.Properties).toMatchObject({
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        VersioningConfiguration: { Status: 'Enabled' },
        LifecycleConfiguration: {
          Rules: [
            {
              Id: 'ExpireAccessLogs',
              Status: 'Enabled',
              ExpirationInDays: 365,
              NoncurrentVersionExpiration: { NoncurrentDays: 30 },
              AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
            },
          ],
        },
      });
      expect(bucket.DeletionPolicy).toBe('Retain');
    });

    it('admits log delivery by a bucket policy for the evidence bucket only, never by an ACL', () => {
      expect(resourceOf(store.accessLogBucket).Properties.AccessControl).toBeUndefined();
      expect(bucketPolicyOf(store.accessLogBucket)).toContainEqual({
        ...allow(['s3:PutObject'], objectsOf(store.accessLogBucket, 'evidence/*'), {
          ArnLike: { 'aws:SourceArn': arnOf(store.bucket) },
          StringEquals: { 'aws:SourceAccount': ENV.account },
        }),
        Principal: { Service: 'logging.s3.amazonaws.com' },
      });
    });
  });

  describe.each([
    ['evidence bucket', () => store.bucket],
    ['access-log bucket', () => store.accessLogBucket],
  ])('%s', (_name, bucketOf) => {
    it('blocks all public access and disables ACLs (bucket owner enforced)', () => {
      expect(resourceOf(bucketOf()).Properties).toMatchObject({
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      });
    });

    it('denies every request without TLS, or with TLS older than 1.2', () => {
      const bucket = bucketOf();
      const everything = [arnOf(bucket), objectsOf(bucket, '*')];
      const statements = bucketPolicyOf(bucket);
      expect(statements).toContainEqual({
        Effect: 'Deny',
        Action: ['s3:*'],
        Principal: { AWS: '*' },
        Resource: everything,
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      });
      expect(statements).toContainEqual({
        Effect: 'Deny',
        Action: ['s3:*'],
        Principal: { AWS: '*' },
        Resource: everything,
        Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
      });
    });
  });

  describe('gateway table', () => {
    it('is keyed by the string pk alone, on demand, with PITR, TTL on expiresAt, the data key, protected and retained', () => {
      const table = resourceOf(store.table);
      expect(table.DeletionPolicy).toBe('Retain');
      expect(table.Properties).toEqual({
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true, RecoveryPeriodInDays: 35 },
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: dataKeyArn },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        DeletionProtectionEnabled: true,
      });
    });
  });

  describe('signing key', () => {
    it('is an ECC_NIST_P256 SIGN_VERIFY key without rotation, retained, behind its alias', () => {
      const key = resourceOf(store.signingKey);
      expect(key.Properties).toMatchObject({
        KeySpec: 'ECC_NIST_P256',
        KeyUsage: 'SIGN_VERIFY',
        EnableKeyRotation: false,
      });
      expect(key.DeletionPolicy).toBe('Retain');
      template.hasResourceProperties('AWS::KMS::Alias', {
        AliasName: 'alias/gatehouse/audit-signing',
        TargetKeyId: arnOf(store.signingKey),
      });
    });

    it('outputs its ARN, with how to fetch the public key as PEM', () => {
      const outputs = template.findOutputs('*', { Value: arnOf(store.signingKey) });
      expect(Object.values(outputs)).toHaveLength(1);
      expect(Object.values(outputs)[0]?.Description).toMatch(/aws kms get-public-key .*-out audit\.pub\.pem/);
    });
  });

  describe('audit log group', () => {
    it('keeps the CloudWatch copy a year, encrypted with the data key, retained', () => {
      const group = resourceOf(store.auditLogGroup);
      expect(group.Properties).toEqual({
        LogGroupName: expect.stringMatching(/^\/gatehouse\/EvidenceTestEvidence[0-9A-F]{8}\/audit$/),
        RetentionInDays: 365,
        KmsKeyId: dataKeyArn,
      });
      expect(group.DeletionPolicy).toBe('Retain');
    });

    it('lets CloudWatch Logs of this region use the data key for that one log group only', () => {
      const name = resourceOf(store.auditLogGroup).Properties.LogGroupName as string;
      const policy = resourceOf(store.dataKey).Properties.KeyPolicy as {
        Statement: Record<string, unknown>[];
      };
      const forLogs = policy.Statement.filter((s) => JSON.stringify(s.Principal).includes('logs.'));
      expect(forLogs).toEqual([
        {
          Sid: 'GatehouseAuditLogGroup',
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
                  ['arn:', { Ref: 'AWS::Partition' }, `:logs:eu-west-1:123456789012:log-group:${name}`],
                ],
              },
            },
          },
        },
      ]);
    });
  });

  describe('grantGatewayWrite', () => {
    const statements = () => statementsOf(gatewayRole);

    it('grants exactly the writes the gateway makes, and nothing else', () => {
      const viaS3 = { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' };
      expect(statements()).toEqual(
        sortStatements([
          allow(['s3:PutObject', 's3:PutObjectRetention'], objectsOf(store.bucket, 'audit/*')),
          allow(['kms:GenerateDataKey'], dataKeyArn, {
            StringEquals: viaS3,
            StringLike: {
              'kms:EncryptionContext:aws:s3:arn': [arnOf(store.bucket), objectsOf(store.bucket, 'audit/*')],
            },
          }),
          allow(['dynamodb:PutItem', 'dynamodb:BatchWriteItem'], arnOf(store.table), {
            'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['session#*', 'head#*', 'strict#*'] },
          }),
          allow(['dynamodb:Scan'], arnOf(store.table)),
          allow(['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'], dataKeyArn, {
            StringEquals: { 'kms:ViaService': 'dynamodb.eu-west-1.amazonaws.com' },
          }),
          allow(['kms:Sign'], arnOf(store.signingKey), {
            StringEquals: { 'kms:SigningAlgorithm': 'ECDSA_SHA_256', 'kms:MessageType': 'DIGEST' },
          }),
          allow(['kms:GetPublicKey'], arnOf(store.signingKey)),
          allow(['logs:CreateLogStream', 'logs:PutLogEvents'], arnOf(store.auditLogGroup)),
        ]),
      );
    });

    it('never lets the gateway delete, read or unlock evidence, and writes only below audit/', () => {
      const all = statements();
      const actions = all.flatMap((s) => s.Action);
      for (const forbidden of [
        /^s3:Delete/,
        /^s3:Get/,
        /^s3:List/,
        /Bypass/,
        /^s3:PutObjectLegalHold/,
        /^s3:\*/,
      ]) {
        expect(actions.filter((a) => forbidden.test(a))).toEqual([]);
      }
      expect(actions.filter((a) => /\*/.test(a))).toEqual([]);
      const s3Resources = all.filter((s) => s.Action.some((a) => a.startsWith('s3:'))).map((s) => s.Resource);
      expect(s3Resources).toEqual([objectsOf(store.bucket, 'audit/*')]);
      // Nothing on the access-log bucket.
      expect(JSON.stringify(all)).not.toContain(logicalId(store.accessLogBucket));
    });
  });

  describe('grantAuditorRead', () => {
    it('grants reads of the store, the access logs, the table, the public key and the log copy, nothing that writes', () => {
      const viaS3 = { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' };
      const statements = statementsOf(auditorRole);
      expect(statements).toEqual(
        sortStatements([
          allow(
            ['s3:GetObject', 's3:GetObjectVersion', 's3:GetObjectRetention', 's3:GetObjectLegalHold'],
            objectsOf(store.bucket, '*'),
          ),
          allow(
            [
              's3:ListBucket',
              's3:ListBucketVersions',
              's3:GetBucketObjectLockConfiguration',
              's3:GetBucketVersioning',
            ],
            arnOf(store.bucket),
          ),
          allow(['kms:Decrypt'], dataKeyArn, {
            StringEquals: viaS3,
            StringLike: {
              'kms:EncryptionContext:aws:s3:arn': [arnOf(store.bucket), objectsOf(store.bucket, '*')],
            },
          }),
          allow(['s3:GetObject'], objectsOf(store.accessLogBucket, '*')),
          allow(['s3:ListBucket'], arnOf(store.accessLogBucket)),
          allow(
            ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:Scan', 'dynamodb:DescribeTable'],
            arnOf(store.table),
          ),
          allow(['kms:Decrypt', 'kms:DescribeKey'], dataKeyArn, {
            StringEquals: { 'kms:ViaService': 'dynamodb.eu-west-1.amazonaws.com' },
          }),
          allow(['kms:GetPublicKey', 'kms:Verify', 'kms:DescribeKey'], arnOf(store.signingKey)),
          allow(
            ['logs:DescribeLogStreams', 'logs:GetLogEvents', 'logs:FilterLogEvents'],
            arnOf(store.auditLogGroup),
          ),
        ]),
      );
      const writes = statements
        .flatMap((s) => s.Action)
        .filter((a) => /:(Put|Delete|Create|Update|BatchWrite|Sign|Encrypt|GenerateDataKey|Bypass)/.test(a));
      expect(writes).toEqual([]);
    });
  });

  describe('gatewayConfig', () => {
    it('names the bucket, prefix, key, retention, table, log group and signing key the gateway must use', () => {
      expect(stack.resolve(store.gatewayConfig())).toEqual({
        audit: {
          kmsSigningKey: { keyId: arnOf(store.signingKey) },
          strict: { dynamodb: { table: { Ref: logicalId(store.table) } } },
          ship: {
            s3: {
              bucket: { Ref: logicalId(store.bucket) },
              prefix: 'audit/',
              kmsKeyId: dataKeyArn,
              retentionDays: 365,
            },
          },
          cloudwatch: { logGroup: { Ref: logicalId(store.auditLogGroup) } },
        },
        sessions: { dynamodb: { table: { Ref: logicalId(store.table) } } },
      });
    });
  });

  describe('with props', () => {
    const custom = new Stack(new App(), 'EvidenceDev', { env: ENV });
    const dev = new EvidenceStore(custom, 'Evidence', {
      objectLockMode: 'governance',
      retentionDays: 1,
      auditPrefix: 'gatehouse/audit/',
      archiveAfterDays: 30,
      noncurrentArchiveAfterDays: 7,
      accessLogRetentionDays: 90,
      auditLogRetention: logs.RetentionDays.ONE_MONTH,
      auditLogGroupName: '/gatehouse/dev/audit',
      signingKeyAlias: 'alias/gatehouse-dev/audit-signing',
      tableRecoveryPeriodDays: 7,
    });
    const devRole = new iam.Role(custom, 'Role', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
    });
    dev.grantGatewayWrite(devRole);
    const devTemplate = Template.fromStack(custom);

    it('locks in GOVERNANCE mode for a dev stack, with the retention and lifecycle given', () => {
      devTemplate.hasResourceProperties('AWS::S3::Bucket', {
        ObjectLockConfiguration: {
          ObjectLockEnabled: 'Enabled',
          Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 1 } },
        },
        LifecycleConfiguration: {
          Rules: [
            Match.objectLike({
              Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 30 }],
              NoncurrentVersionTransitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 7 }],
            }),
          ],
        },
      });
      devTemplate.hasResourceProperties('AWS::S3::Bucket', {
        LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 90 })] },
      });
      devTemplate.hasResourceProperties('AWS::Logs::LogGroup', {
        LogGroupName: '/gatehouse/dev/audit',
        RetentionInDays: 30,
      });
      devTemplate.hasResourceProperties('AWS::KMS::Alias', {
        AliasName: 'alias/gatehouse-dev/audit-signing',
      });
      devTemplate.hasResourceProperties('AWS::DynamoDB::Table', {
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true, RecoveryPeriodInDays: 7 },
      });
    });

    it('grants PutObject below the prefix given, and only there', () => {
      devTemplate.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            {
              Effect: 'Allow',
              Action: [...GATEWAY_OBJECT_ACTIONS],
              Resource: {
                'Fn::Join': [
                  '',
                  [
                    {
                      'Fn::GetAtt': [custom.getLogicalId(dev.bucket.node.defaultChild as CfnElement), 'Arn'],
                    },
                    '/gatehouse/audit/*',
                  ],
                ],
              },
            },
          ]),
        },
      });
    });
  });

  describe('refuses props that cannot deploy or would deploy wrong, naming the prop', () => {
    it.each<[string, EvidenceStoreProps, EvidenceStoreErrorCode, string]>([
      [
        'an unknown lock mode',
        { objectLockMode: 'legal-hold' as never },
        'ObjectLockModeInvalid',
        'objectLockMode',
      ],
      ['zero retention', { retentionDays: 0 }, 'RetentionOutOfRange', 'retentionDays'],
      ['fractional retention', { retentionDays: 1.5 }, 'RetentionOutOfRange', 'retentionDays'],
      ['retention past 100 years', { retentionDays: 36_501 }, 'RetentionOutOfRange', 'retentionDays'],
      ['a prefix without a trailing slash', { auditPrefix: 'audit' }, 'PrefixInvalid', 'auditPrefix'],
      ['a prefix with a wildcard', { auditPrefix: 'audit/*/' }, 'PrefixInvalid', 'auditPrefix'],
      ['an absolute prefix', { auditPrefix: '/audit/' }, 'PrefixInvalid', 'auditPrefix'],
      ['archiving after 0 days', { archiveAfterDays: 0 }, 'DaysOutOfRange', 'archiveAfterDays'],
      [
        'noncurrent archiving after -1 days',
        { noncurrentArchiveAfterDays: -1 },
        'DaysOutOfRange',
        'noncurrentArchiveAfterDays',
      ],
      ['access logs kept 0 days', { accessLogRetentionDays: 0 }, 'DaysOutOfRange', 'accessLogRetentionDays'],
      [
        'an audit log group kept forever',
        { auditLogRetention: logs.RetentionDays.INFINITE },
        'DaysOutOfRange',
        'auditLogRetention',
      ],
      [
        'a log group name with spaces',
        { auditLogGroupName: 'gatehouse audit' },
        'LogGroupNameInvalid',
        'auditLogGroupName',
      ],
      ['an alias without alias/', { signingKeyAlias: 'gatehouse/audit' }, 'AliasInvalid', 'signingKeyAlias'],
      [
        'an AWS-reserved alias',
        { signingKeyAlias: 'alias/aws/gatehouse' },
        'AliasInvalid',
        'signingKeyAlias',
      ],
      [
        'PITR of 36 days',
        { tableRecoveryPeriodDays: 36 },
        'RecoveryPeriodOutOfRange',
        'tableRecoveryPeriodDays',
      ],
    ])('%s', (_case, props, code, prop) => {
      const scope = new Stack(new App(), 'Invalid');
      let error: unknown;
      try {
        new EvidenceStore(scope, 'Evidence', props);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(EvidenceStoreError);
      expect(error).toMatchObject({ code, prop, name: 'EvidenceStoreError' });
      expect((error as Error).message).toMatch(new RegExp(`^EvidenceStore ${prop}: `));
    });
  });
});

/**
 * The grants and the table layout are written from the gateway's adapters; these run the adapters
 * against recording clients so that a change there that the grants would refuse fails here.
 */
describe('EvidenceStore matches what the gateway’s adapters send', () => {
  interface Sent {
    readonly name: string;
    readonly input: Record<string, unknown>;
  }
  function recordingClient<T>(reply: Record<string, unknown> = {}): { client: T; sent: Sent[] } {
    const sent: Sent[] = [];
    const client = {
      send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
        sent.push({ name: command.constructor.name, input: command.input });
        return reply;
      },
    } as unknown as T;
    return { client, sent };
  }
  /** A BatchWriteItem request as the adapters build it (only the parts read here). */
  interface WriteRequest {
    readonly PutRequest?: { readonly Item: Record<string, { S?: string; N?: string }> };
    readonly DeleteRequest?: { readonly Key: Record<string, { S?: string }> };
  }
  const requestsOf = (input: Record<string, unknown>): WriteRequest[] =>
    Object.values((input.RequestItems ?? {}) as Record<string, WriteRequest[]>).flat();
  const writtenPrefixes = GATEWAY_WRITTEN_PARTITIONS.map((p) => p.replace(/\*$/, ''));
  /** Every key DynamoDB would see as a leading key in the commands sent, with the command's action. */
  function leadingKeys(sent: Sent[]): { action: string; pk: string }[] {
    return sent.flatMap(({ name, input }) => {
      const action = `dynamodb:${name.replace(/Command$/, '')}`;
      if (name === 'PutItemCommand') return [{ action, pk: (input.Item as { pk: { S: string } }).pk.S }];
      if (name === 'BatchWriteItemCommand') {
        return requestsOf(input).map((r) => ({
          action,
          pk: (r.PutRequest?.Item.pk?.S ?? r.DeleteRequest?.Key.pk?.S) as string,
        }));
      }
      return [];
    });
  }

  it('the session registry writes only granted partitions, with the TTL attribute the table expires on', async () => {
    const { client, sent } = recordingClient<DynamoDBClient>();
    const registry = new DynamoDbSessionRegistry(client, 'table');
    const session = { id: 's-1', updated: Date.now() } as LiveSession;
    await registry.publish('host-w0', [session]);
    await registry.publish('host-w0', []); // deletes the session that is gone
    await registry.list(1000);
    const items = sent.flatMap(({ input }) => requestsOf(input));
    expect(items.some((r) => r.PutRequest?.Item.expiresAt?.N)).toBe(true);
    expect(items.some((r) => r.DeleteRequest?.Key.pk?.S === 'session#s-1')).toBe(true);
    expect(stack.resolve(resourceOf(store.table).Properties.TimeToLiveSpecification)).toEqual({
      AttributeName: 'expiresAt',
      Enabled: true,
    });
    const keys = leadingKeys(sent);
    expect(keys.length).toBeGreaterThan(1);
    for (const { action, pk } of keys) {
      expect(['dynamodb:PutItem', 'dynamodb:BatchWriteItem']).toContain(action);
      expect(writtenPrefixes.some((p) => pk.startsWith(p))).toBe(true);
    }
    expect(sent.filter((s) => s.name === 'ScanCommand')).toHaveLength(1);
  });

  it('the head registry and the strict store write only granted partitions', async () => {
    const heads = recordingClient<DynamoDBClient>();
    await new DynamoDbHeadRegistry(heads.client, 'table').register('host-w0', {
      seq: 3,
      signature: 'c2ln',
      to: 1,
    });
    const strict = recordingClient<DynamoDBClient>();
    const item = { session: 's-1', index: 0, writer: 'host-w0', time: 1 } as StrictItem;
    await new DynamoDbStrictStore(strict.client, 'table', 1000).put([item]);
    const keys = [...leadingKeys(heads.sent), ...leadingKeys(strict.sent)];
    expect(keys.map((k) => k.action).sort()).toEqual(['dynamodb:BatchWriteItem', 'dynamodb:PutItem']);
    for (const { pk } of keys) expect(writtenPrefixes.some((p) => pk.startsWith(p))).toBe(true);
  });

  it('the S3 store puts below the default prefix with its own compliance lock, as granted', async () => {
    const { client, sent } = recordingClient<S3Client>();
    await new S3AuditStore(client, {
      bucket: 'bucket',
      prefix: store.auditPrefix,
      kmsKeyId: 'key',
      retentionDays: store.retentionDays,
    }).put('host-w0', 'recording-1.gz', Buffer.from('x'));
    expect(sent.map((s) => s.name)).toEqual(['PutObjectCommand']);
    expect(sent[0]?.input).toMatchObject({
      Key: 'audit/host-w0/recording-1.gz',
      ObjectLockMode: 'COMPLIANCE',
      ServerSideEncryption: 'aws:kms',
    });
    // ObjectLockMode on a PutObject is authorized as s3:PutObjectRetention as well.
    expect(GATEWAY_OBJECT_ACTIONS).toEqual(['s3:PutObject', 's3:PutObjectRetention']);
  });

  it('the KMS signer signs a SHA-256 digest with ECDSA_SHA_256, as the Sign grant requires', async () => {
    const { client, sent } = recordingClient<KMSClient>({ Signature: new Uint8Array([1]) });
    await new KmsDigestSigner(client, 'key').sign(Buffer.from('digest'));
    expect(sent[0]).toMatchObject({
      name: 'SignCommand',
      input: { MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' },
    });
  });
});
