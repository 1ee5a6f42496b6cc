import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { AuditStore } from './audit-store';

export interface S3AuditStoreOptions {
  bucket: string;
  /** Key prefix, e.g. `audit/`; files go to `<prefix><writer>/<name>`. */
  prefix: string;
  /** The KMS key the objects are encrypted with (SSE-KMS). */
  kmsKeyId?: string;
  /** Each object is locked in compliance mode for this many days: nobody can delete or overwrite it. */
  retentionDays: number;
}

/**
 * Sealed audit files to S3: each object encrypted with the KMS key, locked in compliance mode until
 * its retention date (the bucket must have Object Lock enabled), and sent with its SHA-256 so S3
 * checks the bytes it stores.
 */
export class S3AuditStore implements AuditStore {
  constructor(
    private readonly client: S3Client,
    private readonly options: S3AuditStoreOptions,
    private readonly now: () => number = Date.now,
  ) {}

  async put(writer: string, name: string, bytes: Buffer): Promise<void> {
    const { bucket, prefix, kmsKeyId, retentionDays } = this.options;
    await this.client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `${prefix}${writer}/${name}`,
        Body: bytes,
        ContentType: name.endsWith('.gz') ? 'application/gzip' : 'application/json',
        ChecksumAlgorithm: 'SHA256',
        ObjectLockMode: 'COMPLIANCE',
        ObjectLockRetainUntilDate: new Date(this.now() + retentionDays * 86_400_000),
        ...(kmsKeyId ? { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: kmsKeyId } : {}),
      }),
    );
  }
}
