import { App, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { EvidenceStore } from '../../infra/evidence/evidence-store';
import { EvidenceExport, type EvidenceExportProps } from '../../infra/evidence-export/evidence-export';

export const POLICY_BUCKET_NAME = 'gatehouse-policy-test';
export const ISSUERS = { github: 'https://token.actions.githubusercontent.com' };

export interface EvidenceExportTestStack {
  readonly app: App;
  readonly stack: Stack;
  readonly evidence: EvidenceStore;
  readonly policyBucket: s3.IBucket;
  readonly exporter: EvidenceExport;
}

/** An app that skips bundling: no esbuild run, no Docker, assets staged as they are. */
export function testApp(): App {
  return new App({ context: { 'aws:cdk:bundling-stacks': [] } });
}

/**
 * A stack holding the export and what it is given: a real evidence store (its own findings are its
 * own) and the policy bucket imported under the store's data key (owned by another construct).
 */
export function evidenceExportTestStack(
  overrides: Partial<EvidenceExportProps> = {},
  app: App = testApp(),
): EvidenceExportTestStack {
  const stack = new Stack(app, 'EvidenceExportTest', {
    env: { account: '111122223333', region: 'eu-west-1' },
  });
  const evidence = new EvidenceStore(stack, 'Evidence', { retentionDays: 30 });
  const policyBucket = s3.Bucket.fromBucketAttributes(stack, 'PolicyBucket', {
    bucketName: POLICY_BUCKET_NAME,
    encryptionKey: evidence.dataKey,
  });
  const exporter = new EvidenceExport(stack, 'EvidenceExport', {
    evidence,
    policy: { bucket: policyBucket, key: 'policy.yaml' },
    issuers: ISSUERS,
    ...overrides,
  });
  return { app, stack, evidence, policyBucket, exporter };
}
