import { Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { GatewayApprovals, GatewayPolicyObject } from './gateway-service-props';

/**
 * What the gateway does to its table's items (fargate-proxy/src/audit/dynamodb-*.ts,
 * sessions/dynamodb-session-registry.ts): conditional puts of writer heads, batches of strict records and
 * live sessions (puts and deletes), and scans for operators' kill requests. No Get, Update or Delete
 * outside a batch; kill requests are written by operators, not by the gateway.
 */
export const TABLE_WRITE_ACTIONS = ['dynamodb:PutItem', 'dynamodb:BatchWriteItem'] as const;
/** The partitions the gateway writes (`pk` prefixes). */
export const TABLE_WRITE_PARTITIONS = ['head#*', 'strict#*', 'session#*'] as const;
/** KMS actions DynamoDB performs with the caller's credentials on a table under a customer key. */
export const TABLE_KEY_ACTIONS = [
  'kms:Decrypt',
  'kms:Encrypt',
  'kms:GenerateDataKey',
  'kms:DescribeKey',
] as const;
/** The puts of sealed audit files: each carries its own compliance-mode retention date. */
export const AUDIT_PUT_ACTIONS = ['s3:PutObject', 's3:PutObjectRetention'] as const;

/** Everything the gateway's task role is granted, and nothing else. */
export interface GatewayGrantTargets {
  readonly dataKey: kms.IKey;
  readonly audit: { readonly bucket: s3.IBucket; readonly prefix: string };
  readonly table: dynamodb.ITable;
  readonly signingKey: kms.IKey;
  readonly auditLogGroup?: logs.ILogGroup;
  readonly upstreamCredentials: secretsmanager.ISecret;
  readonly tlsCertificate: secretsmanager.ISecret;
  readonly policy: GatewayPolicyObject;
  readonly approvals?: GatewayApprovals;
}

/**
 * Grants the gateway's task role exactly what the gateway calls, on exactly the resources its
 * configuration names (infra/gateway/gateway-config.ts builds both from the same props).
 */
export function grantGateway(role: iam.IRole, targets: GatewayGrantTargets): void {
  const region = Stack.of(role).region;
  const { dataKey, audit, table, signingKey, policy } = targets;

  // Sealed audit files, below the prefix only; S3 encrypts them with the data key (SSEKMSKeyId).
  iam.Grant.addToPrincipal({
    grantee: role,
    actions: [...AUDIT_PUT_ACTIONS],
    resourceArns: [audit.bucket.arnForObjects(`${audit.prefix}*`)],
  });
  keyThrough(role, dataKey, 's3', region, ['kms:GenerateDataKey']);

  // The policy object (HeadObject to poll, GetObject when its version changed), and its bucket's key.
  iam.Grant.addToPrincipal({
    grantee: role,
    actions: ['s3:GetObject'],
    resourceArns: [policy.bucket.arnForObjects(policy.key)],
  });
  keyThrough(role, policy.bucket.encryptionKey ?? dataKey, 's3', region, ['kms:Decrypt']);

  // The gateway table: writes to its own partitions; scans (which no key condition can narrow) to read
  // operators' kill requests.
  iam.Grant.addToPrincipal({
    grantee: role,
    actions: [...TABLE_WRITE_ACTIONS],
    resourceArns: [table.tableArn],
    conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...TABLE_WRITE_PARTITIONS] } },
  });
  iam.Grant.addToPrincipal({ grantee: role, actions: ['dynamodb:Scan'], resourceArns: [table.tableArn] });
  keyThrough(role, table.encryptionKey ?? dataKey, 'dynamodb', region, [...TABLE_KEY_ACTIONS]);

  // Digest signatures: ECDSA P-256 over a SHA-256 digest (fargate-proxy/src/audit/kms-digest-signer.ts).
  iam.Grant.addToPrincipal({
    grantee: role,
    actions: ['kms:Sign'],
    resourceArns: [signingKey.keyArn],
    conditions: { StringEquals: { 'kms:SigningAlgorithm': 'ECDSA_SHA_256', 'kms:MessageType': 'DIGEST' } },
  });

  targets.auditLogGroup?.grantWrite(role);
  targets.upstreamCredentials.grantRead(role);
  targets.tlsCertificate.grantRead(role);
  targets.approvals?.grantStart(role);
}

/** Use of `key` only through `service` in this region (S3 and DynamoDB call KMS with the caller's rights). */
function keyThrough(
  role: iam.IRole,
  key: kms.IKey,
  service: string,
  region: string,
  actions: string[],
): void {
  iam.Grant.addToPrincipal({
    grantee: role,
    actions,
    resourceArns: [key.keyArn],
    conditions: { StringEquals: { 'kms:ViaService': `${service}.${region}.amazonaws.com` } },
  });
}
