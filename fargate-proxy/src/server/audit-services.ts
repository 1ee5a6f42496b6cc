import { readFileSync } from 'node:fs';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { type DigestSigner, LocalDigestSigner } from '../../../core/audit/digest';
import { AuditShipper } from '../audit/audit-shipper';
import { CloudWatchLogShipper } from '../audit/cloudwatch-log-shipper';
import { DynamoDbHeadRegistry } from '../audit/dynamodb-head-registry';
import { DynamoDbStrictStore } from '../audit/dynamodb-strict-store';
import { KmsDigestSigner } from '../audit/kms-digest-signer';
import { LocalStrictStore } from '../audit/local-strict-store';
import { S3AuditStore } from '../audit/s3-audit-store';
import type { StrictStore } from '../audit/strict-store';
import type { GatewayConfig } from '../config';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';

/** The gateway's DynamoDB table client, for strict records and writer heads. */
function tableClient(config: GatewayConfig): { client: DynamoDBClient; table: string } | undefined {
  const table = config.audit.strict.dynamodb;
  if (!table) return undefined;
  const { timeoutMs } = config.audit.strict;
  // One quick attempt and a bounded wait: a strict statement's timeout is the retry budget.
  const client = new DynamoDBClient({
    region: table.region,
    endpoint: table.endpoint,
    maxAttempts: 2,
    requestHandler: { requestTimeout: timeoutMs, connectionTimeout: Math.min(timeoutMs, 1000) },
  });
  return { client, table: table.table };
}

/** The shared store of strict records: DynamoDB when configured, else a fsynced file of the writer. */
export function strictStore(config: GatewayConfig, writerDirectory: string): StrictStore {
  const shared = tableClient(config);
  if (!shared) return new LocalStrictStore(writerDirectory, config.audit.strict.timeoutMs);
  return new DynamoDbStrictStore(shared.client, shared.table, config.audit.strict.timeoutMs);
}

/** The shipper of sealed files to S3 (and of writer heads to the table), when shipping is configured. */
export function auditShipper(
  config: GatewayConfig,
  directory: string,
  writer: string,
  log: Logger,
  metrics: Metrics,
): AuditShipper | undefined {
  const ship = config.audit.ship;
  if (!ship) return undefined;
  const { s3 } = ship;
  const client = new S3Client({
    region: s3.region,
    endpoint: s3.endpoint,
    forcePathStyle: s3.forcePathStyle,
  });
  const shared = tableClient(config);
  return new AuditShipper({
    directory,
    writer,
    store: new S3AuditStore(client, s3),
    heads: shared && new DynamoDbHeadRegistry(shared.client, shared.table),
    log,
    retryBaseMs: ship.retryBaseMs,
    retryMaxMs: ship.retryMaxMs,
    onBacklog: (files) => {
      metrics.data.auditShipBacklog = files;
    },
  });
}

/** The digest signer: a KMS key in AWS, a local key file in local mode. */
export function digestSigner(config: GatewayConfig): DigestSigner {
  const { kmsSigningKey, signingKeyFile } = config.audit;
  if (kmsSigningKey)
    return new KmsDigestSigner(new KMSClient({ region: kmsSigningKey.region }), kmsSigningKey.keyId);
  return new LocalDigestSigner(readFileSync(signingKeyFile!, 'utf8'));
}

/** The CloudWatch Logs copy of the audit records, when configured. */
export function cloudWatchCopy(
  config: GatewayConfig,
  writer: string,
  log: Logger,
  metrics: Metrics,
): CloudWatchLogShipper | undefined {
  const cloudwatch = config.audit.cloudwatch;
  if (!cloudwatch) return undefined;
  return new CloudWatchLogShipper({
    client: new CloudWatchLogsClient({ region: cloudwatch.region, endpoint: cloudwatch.endpoint }),
    logGroup: cloudwatch.logGroup,
    logStream: writer,
    intervalMs: cloudwatch.intervalMs,
    maxBufferedBytes: cloudwatch.maxBufferedBytes,
    log,
    onDropped: (events) => {
      metrics.data.auditCloudWatchDropped += events;
    },
  });
}
