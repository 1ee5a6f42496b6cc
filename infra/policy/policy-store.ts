import { readFileSync } from 'node:fs';
import { RemovalPolicy } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';

export interface PolicyStoreProps {
  /** Encrypts the policy versions. */
  readonly dataKey: kms.IKey;
  /** The policy file the first deployment installs (later versions are uploaded to the bucket). */
  readonly policyFile: string;
  /** Where the bucket's server access logs go (a bucket without Object Lock). */
  readonly accessLogBucket: s3.IBucket;
}

/** The object the gateway reads and the deploy tooling writes. */
export const POLICY_KEY = 'policy.yaml';

/**
 * The policy the gateway enforces, as a versioned S3 object: every version is kept, so each one the
 * gateway applied (its audit trail records the version id and digest) can be read back later (CM-3).
 * The deployment installs the configured file with `changed-by: cdk deploy` metadata; operators upload
 * later versions with `aws s3 cp … --metadata changed-by=NAME` (README, "Deploying on AWS").
 */
export class PolicyStore extends Construct {
  readonly bucket: s3.Bucket;
  readonly key = POLICY_KEY;

  constructor(scope: Construct, id: string, props: PolicyStoreProps) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      versioned: true,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: props.dataKey,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      serverAccessLogsBucket: props.accessLogBucket,
      serverAccessLogsPrefix: 'policy-bucket/',
      // Old versions are evidence of what was enforced when: never deleted with the stack.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    new deploy.BucketDeployment(this, 'Initial', {
      destinationBucket: this.bucket,
      sources: [deploy.Source.data(POLICY_KEY, readFileSync(props.policyFile, 'utf8'))],
      metadata: { 'changed-by': 'cdk deploy' },
      // Runs again only when the configured file changes; its upload is then one more version (the
      // bucket keeps every earlier one). Nothing else in the bucket is touched.
      prune: false,
      retainOnDelete: true,
    });
  }

  /** Read access to the policy object's versions, for the gateway's task role. */
  grantRead(grantee: iam.IGrantable): void {
    this.bucket.grantRead(grantee, POLICY_KEY);
  }
}
