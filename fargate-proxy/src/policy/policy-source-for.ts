import { S3Client } from '@aws-sdk/client-s3';
import type { CompiledPolicy } from '../../../core/policy/compiled-policy';
import type { GatewayConfig } from '../config';
import type { Logger } from '../observability/logger';
import { FilePolicySource, type PolicySource, type RejectionListener, readPolicyFile } from './policy-source';
import { type PolicyObjectStore, S3PolicyObjectStore } from './s3-policy-object-store';
import { fetchPolicyObject, S3PolicySource } from './s3-policy-source';

type PolicyConfig = GatewayConfig['policy'];

function objectStore(s3: NonNullable<PolicyConfig['s3']>): PolicyObjectStore {
  const client = new S3Client({
    region: s3.region,
    endpoint: s3.endpoint,
    forcePathStyle: s3.forcePathStyle,
  });
  return new S3PolicyObjectStore(client, s3.bucket, s3.key);
}

/** The configured policy, loaded (or the error that says why not: the gateway must not start then). */
export async function openPolicySource(
  policy: PolicyConfig,
  log: Logger,
  onReject: RejectionListener,
): Promise<PolicySource> {
  if (policy.s3)
    return S3PolicySource.open(objectStore(policy.s3), { checkMs: policy.reloadCheckMs, log, onReject });
  if (policy.file) return new FilePolicySource(policy.file, policy.reloadCheckMs, log, onReject);
  throw new Error('the configuration names no policy'); // the configuration schema requires one
}

/**
 * Loads the configured policy once, to fail before any worker starts when it cannot be had or does
 * not load (a file's error names file:line, an object's its s3:// location and version).
 */
export async function loadConfiguredPolicy(policy: PolicyConfig): Promise<CompiledPolicy> {
  if (policy.s3) return (await fetchPolicyObject(objectStore(policy.s3))).policy;
  if (policy.file) return readPolicyFile(policy.file);
  throw new Error('the configuration names no policy');
}
