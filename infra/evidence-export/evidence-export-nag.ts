import { Validations } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { logicalIdOf } from '../evidence/evidence-nag';

/** The parts of the export that carry an acknowledgment. */
export interface ExportNagParts {
  readonly fn: lambda.Function;
  readonly policy: iam.ManagedPolicy;
  readonly bucket: s3.IBucket;
  readonly auditPrefix: string;
  readonly exportsPrefix: string;
}

/**
 * The cdk-nag (v3) findings that stand by design, each acknowledged on the narrowest construct it
 * concerns with the reason it stands; everything else is fixed in the construct (managed policy, no
 * inline one; reserved concurrency; a dead-letter queue; an encrypted log group with retention).
 */
export function acknowledgeExportFindings(parts: ExportNagParts): void {
  const { fn, policy, bucket, auditPrefix, exportsPrefix } = parts;

  Validations.of(fn).acknowledge({
    id: 'NIST.800.53.R5-LambdaInsideVPC',
    reason:
      'The function calls only the regional S3, DynamoDB and KMS APIs, over TLS, and reaches no private ' +
      'resource. Attaching it to the VPC would add ENI permissions on "*" and a NAT or three endpoints, ' +
      'without narrowing anything: IAM scopes each call to the bucket prefixes, the table and the key.',
  });
  Validations.of(fn).acknowledge({
    id: 'AwsSolutions-L1',
    reason:
      'Pinned to nodejs22.x, the newest runtime the repository is built and tested for; the runtime moves with ' +
      'the repository, not per function.',
  });

  const objects = `<${logicalIdOf(bucket)}.Arn>`;
  Validations.of(policy).acknowledge({
    id: `AwsSolutions-IAM5[Resource::${objects}/${auditPrefix}*]`,
    reason:
      'The export reads the whole audit store to verify it: every <prefix><writer>/<file> the gateway shipped, ' +
      'whose writer names are chosen at run time. Read only (GetObject), below the audit prefix only.',
  });
  Validations.of(policy).acknowledge({
    id: `AwsSolutions-IAM5[Resource::${objects}/${exportsPrefix}*]`,
    reason:
      'Each run writes its package to <exports prefix><period>/run-<time>/, keys made at run time. PutObject ' +
      'only (no read, delete or retention change), below the exports prefix only.',
  });
}
