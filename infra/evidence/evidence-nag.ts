import { type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, type IConstruct } from 'constructs';

/** The parts of the evidence store that carry an acknowledgment. */
export interface EvidenceNagParts {
  readonly bucket: s3.Bucket;
  readonly accessLogBucket: s3.Bucket;
  readonly table: dynamodb.Table;
}

/**
 * The cdk-nag (v3) findings on the store's own resources that stand by design, each acknowledged on
 * the resource it concerns with the reason it stands; everything else is fixed in the construct.
 */
export function acknowledgeEvidenceFindings(parts: EvidenceNagParts): void {
  const { bucket, accessLogBucket, table } = parts;

  Validations.of(bucket).acknowledge({
    id: 'NIST.800.53.R5-S3BucketReplicationEnabled',
    reason:
      'Replicating a compliance-locked store needs a second Object Lock bucket in another region, owned by a ' +
      'stack deployed there; this construct is single-region. Versions are immutable for the retention period, ' +
      'so replication would add region-loss durability, not integrity.',
  });

  Validations.of(accessLogBucket).acknowledge({
    id: 'NIST.800.53.R5-S3DefaultEncryptionKMS',
    reason:
      'S3 server access logs can be delivered only to a target bucket whose default encryption is SSE-S3 ' +
      '(SSE-KMS is not supported for log delivery), so this bucket uses S3-managed keys.',
  });
  const selfLogging =
    'This is the access-log target of the evidence bucket. Logging it to itself would log every log delivery ' +
    'in an endless loop, and a third bucket would raise the same finding; reads of it are in CloudTrail.';
  Validations.of(accessLogBucket).acknowledge({
    id: 'NIST.800.53.R5-S3BucketLoggingEnabled',
    reason: selfLogging,
  });
  Validations.of(accessLogBucket).acknowledge({ id: 'AwsSolutions-S1', reason: selfLogging });
  Validations.of(accessLogBucket).acknowledge({
    id: 'NIST.800.53.R5-S3BucketReplicationEnabled',
    reason:
      'Access logs are secondary evidence next to CloudTrail data events; replicating them to another region ' +
      'needs a bucket owned by a stack there, outside this single-region construct.',
  });

  Validations.of(table).acknowledge({
    id: 'NIST.800.53.R5-DynamoDBInBackupPlan',
    reason:
      'Point-in-time recovery is on (35 days by default) and deletion protection is set. AWS Backup plans are ' +
      'an account/organization policy, not this construct’s; an account plan can select EvidenceStore.table.',
  });
}

/** Logical id of a construct's CloudFormation resource, as cdk-nag writes it into finding ids. */
export function logicalIdOf(construct: IConstruct): string {
  const element = (construct.node.defaultChild ?? construct) as CfnElement;
  return Stack.of(construct).getLogicalId(element);
}

/**
 * Acknowledges on the grantee (when it is a construct, as a role is) the one wildcard a grant
 * helper wrote on purpose: `AwsSolutions-IAM5[Resource::<Bucket.Arn>/prefix*]`. Only that exact
 * finding, never IAM5 as a whole.
 */
export function acknowledgeGrantWildcard(grantee: iam.IGrantable, resource: string, reason: string): void {
  const principal = grantee.grantPrincipal;
  if (!Construct.isConstruct(principal)) return;
  Validations.of(principal).acknowledge({ id: `AwsSolutions-IAM5[Resource::${resource}]`, reason });
}
