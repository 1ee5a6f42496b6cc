import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import type { EvidenceRenderers } from '../../core/evidence/build-evidence';
import { readRegisteredHeads } from '../../fargate-proxy/src/audit/dynamodb-head-registry';
import { KmsDigestSigner } from '../../fargate-proxy/src/audit/kms-digest-signer';
import { readS3Store } from '../../fargate-proxy/src/audit/s3-store-reader';
import { S3PolicyObjectStore } from '../../fargate-proxy/src/policy/s3-policy-object-store';
import { createLogger, type Logger } from '../shared/logger';
import { type ExportConfig, loadExportConfig } from './config';
import { ExportEventError, exportRequest } from './event';
import { type ExportPorts, type ExportResult, exportEvidence } from './export';
import { S3PackageStore } from './s3-package-store';

/**
 * The EVIDENCE EXPORT Lambda (issue 8): `gatehouse export` on AWS. Invoked by the EventBridge rule
 * (the previous UTC day or month) or on demand with `{"from": …, "to": …}` (see event.ts), it reads
 * the audit store, the registered heads and the current policy, verifies the store with the signing
 * key's public half, and writes the package below EXPORTS_PREFIX in the evidence bucket, manifest
 * (signed with KMS) last. A thrown error fails the invocation (the rule's deliveries are retried, then
 * go to the dead-letter queue); a period that already has a package returns `"status": "exists"`.
 */

/** Everything the handler uses; each defaults to the AWS client built from the configuration. */
export interface ExportHandlerOptions {
  readonly config?: ExportConfig;
  readonly s3?: S3Client;
  readonly dynamodb?: DynamoDBClient;
  readonly kms?: KMSClient;
  readonly renderers?: EvidenceRenderers;
  readonly now?: () => Date;
  readonly logger?: Logger;
}

interface Ready {
  readonly config: ExportConfig;
  readonly ports: Omit<ExportPorts, 'logger'>;
  readonly now: () => Date;
  readonly logger: Logger;
}

/** Built on the first invocation, not at import: importing the module reads no environment. */
function build(options: ExportHandlerOptions): Ready {
  const config = options.config ?? loadExportConfig();
  const region = config.region;
  const s3 = options.s3 ?? new S3Client({ region });
  const dynamodb = options.dynamodb ?? new DynamoDBClient({ region });
  const signer = new KmsDigestSigner(options.kms ?? new KMSClient({ region }), config.signingKeyId);
  const now = options.now ?? (() => new Date());
  return {
    config,
    now,
    logger: options.logger ?? createLogger(config.logLevel, { function: 'evidence-export' }),
    ports: {
      auditStore: {
        location: `s3://${config.bucket}/${config.auditPrefix}`,
        read: () => readS3Store(s3, config.bucket, config.auditPrefix),
      },
      heads: () => readRegisteredHeads(dynamodb, config.table),
      policy: new S3PolicyObjectStore(s3, config.policyBucket, config.policyKey),
      signer: {
        signer,
        description: `kms:${config.signingKeyId}`,
        publicKeyPem: () => signer.publicKeyPem(),
      },
      packages: new S3PackageStore(s3, config.bucket),
      exportsPrefix: config.exportsPrefix,
      issuers: config.issuers,
      ...(options.renderers ? { renderers: options.renderers } : {}),
      now,
    },
  };
}

export function createExportHandler(
  options: ExportHandlerOptions = {},
): (event: unknown, context?: { awsRequestId?: string }) => Promise<ExportResult> {
  let ready: Ready | undefined;
  return async (event, context) => {
    ready ??= build(options);
    const logger = ready.logger.child({ awsRequestId: context?.awsRequestId });
    let request: ReturnType<typeof exportRequest>;
    try {
      request = exportRequest(event, ready.config.scheduledPeriod, ready.now().getTime());
    } catch (error) {
      if (error instanceof ExportEventError) logger.error('event refused', { error });
      throw error;
    }
    try {
      return await exportEvidence({ ...ready.ports, logger }, request);
    } catch (error) {
      logger.error('export failed', { error });
      throw error;
    }
  };
}

export const handler = createExportHandler();
