import { CfnOutput, Duration, Names, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { Construct } from 'constructs';
import { allowLogsToUseKey } from '../shared/logs-key-access';
import { acknowledgeEvidenceFindings, acknowledgeGrantWildcard, logicalIdOf } from './evidence-nag';
import { type EvidenceSettings, type EvidenceStoreProps, evidenceSettings } from './evidence-store-props';

export { EvidenceStoreError, type EvidenceStoreErrorCode } from './evidence-store-error';
export type { EvidenceLockMode, EvidenceStoreProps } from './evidence-store-props';

/**
 * What the gateway does to the evidence bucket: put sealed files (chunks, recordings, digests) with
 * their own Object Lock retention (fargate-proxy/src/audit/s3-audit-store.ts sets `ObjectLockMode` and
 * `ObjectLockRetainUntilDate` on each PutObject, which S3 authorizes as s3:PutObjectRetention too).
 * Never a delete, a read, or a bypass of governance retention.
 */
export const GATEWAY_OBJECT_ACTIONS = ['s3:PutObject', 's3:PutObjectRetention'] as const;

/**
 * Partitions the gateway writes in its table, by adapter: `session#` (sessions/dynamodb-session-registry.ts,
 * put and delete through BatchWriteItem), `head#` (audit/dynamodb-head-registry.ts, PutItem) and
 * `strict#` (audit/dynamodb-strict-store.ts, BatchWriteItem). `kill#` items are written by operators
 * (`gatehouse sessions kill`); the gateway only scans for them.
 */
export const GATEWAY_WRITTEN_PARTITIONS = ['session#*', 'head#*', 'strict#*'] as const;
/** Item writes of the gateway, limited to GATEWAY_WRITTEN_PARTITIONS. */
export const GATEWAY_ITEM_WRITE_ACTIONS = ['dynamodb:PutItem', 'dynamodb:BatchWriteItem'] as const;
/** The session registry lists sessions and kill requests with filtered scans. */
export const GATEWAY_ITEM_READ_ACTIONS = ['dynamodb:Scan'] as const;

/** What an auditor reads: the store, its lock settings, the access logs, the table, the log copy. */
export const AUDITOR_OBJECT_ACTIONS = [
  's3:GetObject',
  's3:GetObjectVersion',
  's3:GetObjectRetention',
  's3:GetObjectLegalHold',
] as const;
export const AUDITOR_BUCKET_ACTIONS = [
  's3:ListBucket',
  's3:ListBucketVersions',
  's3:GetBucketObjectLockConfiguration',
  's3:GetBucketVersioning',
] as const;
export const AUDITOR_ITEM_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:Query',
  'dynamodb:Scan',
  'dynamodb:DescribeTable',
] as const;
export const AUDITOR_LOG_ACTIONS = [
  'logs:DescribeLogStreams',
  'logs:GetLogEvents',
  'logs:FilterLogEvents',
] as const;

/** KMS actions DynamoDB performs with the caller's credentials on a table under a customer key. */
const TABLE_KEY_WRITE_ACTIONS = ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'];
const TABLE_KEY_READ_ACTIONS = ['kms:Decrypt', 'kms:DescribeKey'];

/** The `audit` and `sessions` settings of the gateway's config file that point at this store. */
export interface EvidenceGatewayConfig {
  readonly audit: {
    readonly kmsSigningKey: { readonly keyId: string };
    readonly strict: { readonly dynamodb: { readonly table: string } };
    readonly ship: {
      readonly s3: {
        readonly bucket: string;
        readonly prefix: string;
        readonly kmsKeyId: string;
        readonly retentionDays: number;
      };
    };
    readonly cloudwatch: { readonly logGroup: string };
  };
  readonly sessions: { readonly dynamodb: { readonly table: string } };
}

/**
 * Where the gateway's evidence is kept on AWS (README "Audit trail", "Session recordings", "Live
 * sessions"), and who may touch it:
 *
 * - `dataKey`: a customer-managed symmetric key, rotated yearly, under which everything below is
 *   encrypted (retained: destroying it would make the evidence unreadable).
 * - `bucket`: audit chunks, recordings and signed digests under `audit/` (the gateway's
 *   `audit.ship.s3.prefix`), Object Lock (compliance by default) with a default retention, versioned,
 *   SSE-KMS with a bucket key, public access blocked, TLS 1.2+ only, lifecycle to Glacier Instant
 *   Retrieval, retained.
 * - `accessLogBucket`: the bucket's S3 server access logs. Not locked (S3 refuses a locked log target)
 *   and SSE-S3 (the only default encryption log delivery supports), TLS-only, expiring.
 * - `table`: the gateway table (`pk` string): live sessions and kill requests (TTL `expiresAt`), strict
 *   records and digest heads; PITR, the data key, deletion protection, retained.
 * - `signingKey`: ECC_NIST_P256 SIGN_VERIFY key that signs the audit digests (asymmetric keys cannot
 *   rotate; a new key is a new chain), with an alias and a stack output of its ARN.
 * - `auditLogGroup`: the CloudWatch Logs copy of the audit records, under the data key.
 */
export class EvidenceStore extends Construct {
  readonly dataKey: kms.Key;
  readonly bucket: s3.Bucket;
  readonly accessLogBucket: s3.Bucket;
  readonly table: dynamodb.Table;
  readonly signingKey: kms.Key;
  readonly auditLogGroup: logs.LogGroup;
  /** The key prefix the gateway writes below (`audit.ship.s3.prefix`). */
  readonly auditPrefix: string;
  /** The bucket's default retention in days (`audit.ship.s3.retentionDays`). */
  readonly retentionDays: number;

  constructor(scope: Construct, id: string, props: EvidenceStoreProps = {}) {
    super(scope, id);
    const settings = evidenceSettings(props);
    this.auditPrefix = settings.auditPrefix;
    this.retentionDays = settings.retentionDays;
    const stack = Stack.of(this);

    // Log delivery is granted by a bucket policy to logging.s3.amazonaws.com (conditioned on the source
    // bucket), never by the legacy LogDeliveryWrite ACL, whatever the app's feature flags say.
    this.node.setContext(cxapi.S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY, true);

    this.dataKey = new kms.Key(this, 'DataKey', {
      description: 'Gatehouse evidence: audit store, gateway table and audit log group',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.accessLogBucket = new s3.Bucket(this, 'AccessLogBucket', {
      // SSE-S3: log delivery refuses a target whose default encryption is SSE-KMS.
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      lifecycleRules: [
        {
          id: 'ExpireAccessLogs',
          expiration: Duration.days(settings.accessLogRetentionDays),
          noncurrentVersionExpiration: Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.bucket = new s3.Bucket(this, 'Bucket', {
      objectLockEnabled: true,
      objectLockDefaultRetention: defaultRetention(settings),
      // Object Lock implies versioning; stated so that it reads (and checks) as what it is.
      versioned: true,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.dataKey,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: 'evidence/',
      targetObjectKeyFormat: s3.TargetObjectKeyFormat.partitionedPrefix(s3.PartitionDateSource.EVENT_TIME),
      lifecycleRules: [
        {
          id: 'ArchiveEvidence',
          // Transitions only: a locked version cannot expire, and when retention ends is a records
          // decision, not a storage default.
          transitions: [
            {
              storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
              transitionAfter: Duration.days(settings.archiveAfterDays),
            },
          ],
          noncurrentVersionTransitions: [
            {
              storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
              transitionAfter: Duration.days(settings.noncurrentArchiveAfterDays),
            },
          ],
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
      // Never autoDeleteObjects: it needs DESTROY, and it cannot delete locked versions anyway.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: {
        pointInTimeRecoveryEnabled: true,
        recoveryPeriodInDays: settings.tableRecoveryPeriodDays,
      },
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.dataKey,
      // Epoch seconds, written by the session registry on session# and kill# items; strict# and head#
      // items carry none and stay. Deletion is best effort, so readers filter on age themselves.
      timeToLiveAttribute: 'expiresAt',
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // Asymmetric keys cannot rotate (KMS refuses, and CDK with it): a new key starts a new chain, and
    // each digest names the key that signed it. Retained, because old digests verify with it.
    this.signingKey = new kms.Key(this, 'SigningKey', {
      description: 'Gatehouse audit: ECDSA P-256 signatures of the audit digests',
      keySpec: kms.KeySpec.ECC_NIST_P256,
      keyUsage: kms.KeyUsage.SIGN_VERIFY,
      enableKeyRotation: false,
      alias: settings.signingKeyAlias,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    new CfnOutput(this, 'SigningKeyArn', {
      value: this.signingKey.keyArn,
      description:
        'Audit digest signing key. PEM for `gatehouse verify --public-key`: aws kms get-public-key --key-id ' +
        '<this ARN> --query PublicKey --output text | base64 -d | openssl pkey -pubin -inform DER -out audit.pub.pem',
    });

    const logGroupName = settings.auditLogGroupName ?? `/gatehouse/${Names.uniqueId(this)}/audit`;
    allowLogsToUseKey(this.dataKey, stack, { sid: 'GatehouseAuditLogGroup', logGroupName });
    this.auditLogGroup = new logs.LogGroup(this, 'AuditLogGroup', {
      logGroupName,
      retention: settings.auditLogRetention,
      encryptionKey: this.dataKey,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    acknowledgeEvidenceFindings({
      bucket: this.bucket,
      accessLogBucket: this.accessLogBucket,
      table: this.table,
    });
  }

  /**
   * Everything the gateway's task role needs, and no more: PutObject (with its per-object retention)
   * below `auditPrefix` only, never a read or delete; the data key for S3 (GenerateDataKey) and
   * DynamoDB; PutItem/BatchWriteItem on its own partitions and Scan on the table; `kms:Sign`
   * (ECDSA_SHA_256 over a digest only) and `kms:GetPublicKey` on the signing key; CreateLogStream and
   * PutLogEvents on the audit log group.
   */
  grantGatewayWrite(grantee: iam.IGrantable): iam.Grant {
    const objects = this.bucket.arnForObjects(`${this.auditPrefix}*`);
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: [...GATEWAY_OBJECT_ACTIONS],
      resourceArns: [objects],
    })
      .combine(this.grantBucketKey(grantee, ['kms:GenerateDataKey'], [this.bucket.bucketArn, objects]))
      .combine(
        iam.Grant.addToPrincipal({
          grantee,
          actions: [...GATEWAY_ITEM_WRITE_ACTIONS],
          resourceArns: [this.table.tableArn],
          conditions: {
            'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...GATEWAY_WRITTEN_PARTITIONS] },
          },
        }),
      )
      .combine(
        iam.Grant.addToPrincipal({
          grantee,
          actions: [...GATEWAY_ITEM_READ_ACTIONS],
          resourceArns: [this.table.tableArn],
        }),
      )
      .combine(this.grantTableKey(grantee, TABLE_KEY_WRITE_ACTIONS))
      .combine(
        iam.Grant.addToPrincipal({
          grantee,
          actions: ['kms:Sign'],
          resourceArns: [this.signingKey.keyArn],
          // What KmsDigestSigner sends: the SHA-256 of the digest, signed with ECDSA_SHA_256.
          conditions: {
            StringEquals: { 'kms:SigningAlgorithm': 'ECDSA_SHA_256', 'kms:MessageType': 'DIGEST' },
          },
        }),
      )
      .combine(
        iam.Grant.addToPrincipal({
          grantee,
          actions: ['kms:GetPublicKey'],
          resourceArns: [this.signingKey.keyArn],
        }),
      )
      .combine(
        iam.Grant.addToPrincipal({
          grantee,
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resourceArns: [this.auditLogGroup.logGroupArn],
        }),
      );
    acknowledgeGrantWildcard(
      grantee,
      `<${logicalIdOf(this.bucket)}.Arn>/${this.auditPrefix}*`,
      'The gateway names each object <prefix><writer>/<file> (writer = host and worker slot, chosen at run ' +
        'time), so it may put any key below the audit prefix; it gets no read, delete or retention bypass.',
    );
    return grant;
  }

  /**
   * Read-only access for an auditor or the verifier (`gatehouse verify --s3 … --table …`): objects,
   * their versions and lock settings, the bucket's lock configuration, the access logs, the table,
   * the signing key's public half (and `kms:Verify`), and the audit log group. Nothing that writes.
   */
  grantAuditorRead(grantee: iam.IGrantable): iam.Grant {
    const objects = this.bucket.arnForObjects('*');
    const logObjects = this.accessLogBucket.arnForObjects('*');
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: [...AUDITOR_OBJECT_ACTIONS],
      resourceArns: [objects],
    })
      .combine(
        iam.Grant.addToPrincipal({
          grantee,
          actions: [...AUDITOR_BUCKET_ACTIONS],
          resourceArns: [this.bucket.bucketArn],
        }),
      )
      .combine(this.grantBucketKey(grantee, ['kms:Decrypt'], [this.bucket.bucketArn, objects]))
      .combine(
        iam.Grant.addToPrincipal({
          grantee,
          actions: ['s3:GetObject'],
          resourceArns: [logObjects],
        }),
      )
      .combine(
        iam.Grant.addToPrincipal({
          grantee,
          actions: ['s3:ListBucket'],
          resourceArns: [this.accessLogBucket.bucketArn],
        }),
      )
      .combine(
        iam.Grant.addToPrincipal({
          grantee,
          actions: [...AUDITOR_ITEM_ACTIONS],
          resourceArns: [this.table.tableArn],
        }),
      )
      .combine(this.grantTableKey(grantee, TABLE_KEY_READ_ACTIONS))
      .combine(
        iam.Grant.addToPrincipal({
          grantee,
          actions: ['kms:GetPublicKey', 'kms:Verify', 'kms:DescribeKey'],
          resourceArns: [this.signingKey.keyArn],
        }),
      )
      .combine(
        iam.Grant.addToPrincipal({
          grantee,
          actions: [...AUDITOR_LOG_ACTIONS],
          resourceArns: [this.auditLogGroup.logGroupArn],
        }),
      );
    acknowledgeGrantWildcard(
      grantee,
      `<${logicalIdOf(this.bucket)}.Arn>/*`,
      'An auditor reads every object of the evidence bucket, which holds nothing but the audit store; the ' +
        'grant is read-only (Get* of objects, versions and their lock state).',
    );
    acknowledgeGrantWildcard(
      grantee,
      `<${logicalIdOf(this.accessLogBucket)}.Arn>/*`,
      'An auditor reads every S3 server access log of the evidence bucket, whose keys S3 chooses by date; ' +
        'the grant is s3:GetObject only.',
    );
    return grant;
  }

  /**
   * The settings of the gateway's config file (fargate-proxy/src/config.ts) that name this store. The
   * values are CloudFormation tokens, to be rendered into the task's config by the stack.
   */
  gatewayConfig(): EvidenceGatewayConfig {
    const table = { table: this.table.tableName };
    return {
      audit: {
        kmsSigningKey: { keyId: this.signingKey.keyArn },
        strict: { dynamodb: table },
        ship: {
          s3: {
            bucket: this.bucket.bucketName,
            prefix: this.auditPrefix,
            kmsKeyId: this.dataKey.keyArn,
            retentionDays: this.retentionDays,
          },
        },
        cloudwatch: { logGroup: this.auditLogGroup.logGroupName },
      },
      sessions: { dynamodb: table },
    };
  }

  /**
   * The data key as S3 uses it for this bucket: through S3 only, and (bucket key or not) only in the
   * encryption context of this bucket or the objects given.
   */
  private grantBucketKey(grantee: iam.IGrantable, actions: string[], contexts: string[]): iam.Grant {
    const stack = Stack.of(this);
    return iam.Grant.addToPrincipal({
      grantee,
      actions,
      resourceArns: [this.dataKey.keyArn],
      conditions: {
        StringEquals: { 'kms:ViaService': `s3.${stack.region}.amazonaws.com` },
        StringLike: { 'kms:EncryptionContext:aws:s3:arn': contexts },
      },
    });
  }

  private grantTableKey(grantee: iam.IGrantable, actions: string[]): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions,
      resourceArns: [this.dataKey.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(this).region}.amazonaws.com` } },
    });
  }
}

function defaultRetention(settings: EvidenceSettings): s3.ObjectLockRetention {
  const days = Duration.days(settings.retentionDays);
  return settings.objectLockMode === 'compliance'
    ? s3.ObjectLockRetention.compliance(days)
    : s3.ObjectLockRetention.governance(days);
}
