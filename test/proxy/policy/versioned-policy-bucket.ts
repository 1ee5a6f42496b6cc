import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, NoSuchKey, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';

/** A response body as the SDK gives it in Node: a stream with the SDK's transform helpers. */
function sdkBody(text: string) {
  const bytes = Buffer.from(text, 'utf8');
  return Object.assign(Readable.from([bytes]), {
    transformToString: async () => text,
    transformToByteArray: async () => new Uint8Array(bytes),
    transformToWebStream: () => Readable.toWeb(Readable.from([bytes])),
  });
}

interface StoredVersion {
  id: string;
  body: string;
  changedBy?: string;
}

/**
 * One object of a versioned bucket, served through a mocked S3Client (every S3Client instance, the
 * gateway's included): HeadObject and GetObject answer with the newest version, its VersionId, ETag
 * and `changed-by` metadata. There is no emulator with versioning here; this is what S3 documents.
 */
export class VersionedPolicyBucket {
  readonly s3 = mockClient(S3Client);
  private readonly versions: StoredVersion[] = [];
  private failure: Error | undefined;

  constructor(
    readonly bucket = 'gatehouse-policy',
    readonly key = 'policy.yaml',
  ) {
    const { s3 } = this;
    s3.on(HeadObjectCommand, { Bucket: bucket, Key: key }).callsFake(async () => {
      const latest = this.latest();
      return { VersionId: latest.id, ETag: etag(latest.body), ContentLength: Buffer.byteLength(latest.body) };
    });
    s3.on(GetObjectCommand, { Bucket: bucket, Key: key }).callsFake(async () => {
      const latest = this.latest();
      return {
        VersionId: latest.id,
        ETag: etag(latest.body),
        ContentLength: Buffer.byteLength(latest.body),
        Metadata: latest.changedBy ? { 'changed-by': latest.changedBy } : {},
        Body: sdkBody(latest.body),
      };
    });
  }

  /** Uploads a new version; returns its VersionId. */
  put(body: string, changedBy?: string): string {
    const id = `v${this.versions.length + 1}-${createHash('sha256').update(body).digest('hex').slice(0, 8)}`;
    this.versions.push({ id, body, changedBy });
    return id;
  }

  /** Makes every request fail (as S3 does without permission), or work again with `undefined`. */
  failWith(error: Error | undefined): void {
    this.failure = error;
  }

  heads(): number {
    return this.s3.commandCalls(HeadObjectCommand).length;
  }

  gets(): number {
    return this.s3.commandCalls(GetObjectCommand).length;
  }

  restore(): void {
    this.s3.restore();
  }

  private latest(): StoredVersion {
    if (this.failure) throw this.failure;
    const latest = this.versions.at(-1);
    if (!latest) throw new NoSuchKey({ message: 'The specified key does not exist.', $metadata: {} });
    return latest;
  }
}

function etag(body: string): string {
  return `"${createHash('md5').update(body).digest('hex')}"`;
}
