import { createHash } from 'node:crypto';
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { MANIFEST_FILE } from '../../core/evidence/manifest';

/** Where packages are written. A port: the export never sees the AWS SDK. */
export interface PackageStore {
  /** `s3://bucket/`, for messages and results. */
  readonly location: string;
  /** The run prefixes below `prefix` that hold a manifest: the complete packages written there. */
  completeRuns(prefix: string): Promise<string[]>;
  /** Writes one object that must not exist yet. */
  put(key: string, content: Buffer): Promise<void>;
}

const CONTENT_TYPES: readonly [RegExp, string][] = [
  [/\.json$/, 'application/json'],
  [/\.jsonl$/, 'application/x-ndjson'],
  [/\.html$/, 'text/html; charset=utf-8'],
  [/\.ya?ml$/, 'application/yaml'],
];

function contentType(key: string): string {
  return CONTENT_TYPES.find(([pattern]) => pattern.test(key))?.[1] ?? 'application/octet-stream';
}

/**
 * Packages in the evidence bucket. Every put carries the SHA-256 of its bytes, which S3 checks on
 * receipt (and which satisfies Object Lock's integrity-header rule), and `If-None-Match: *`, so no run
 * replaces an object another run wrote. The bucket's default retention locks each object; no
 * per-object retention is set (that would need s3:PutObjectRetention).
 */
export class S3PackageStore implements PackageStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  get location(): string {
    return `s3://${this.bucket}/`;
  }

  async completeRuns(prefix: string): Promise<string[]> {
    const runs: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) {
        const key = object.Key ?? '';
        const run = key.slice(prefix.length).split('/');
        if (run.length === 2 && run[1] === MANIFEST_FILE) runs.push(`${prefix}${run[0]}/`);
      }
      token = page.NextContinuationToken;
    } while (token);
    return runs.sort();
  }

  async put(key: string, content: Buffer): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: content,
        ContentLength: content.length,
        ContentType: contentType(key),
        ChecksumSHA256: createHash('sha256').update(content).digest('base64'),
        IfNoneMatch: '*',
      }),
    );
  }
}
