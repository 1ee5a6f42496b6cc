import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';

/** Which version of the policy object is current, without its body. */
export interface PolicyObjectHead {
  /** S3 VersionId; absent when the bucket has never been versioned. */
  version?: string;
  etag?: string;
}

export interface PolicyObject extends PolicyObjectHead {
  body: string;
  /** The uploader's name, from the object metadata `changed-by` (set by the deploy tooling). */
  changedBy?: string;
}

/** The one object the policy lives in. A port: the policy source never sees the AWS SDK. */
export interface PolicyObjectStore {
  /** `s3://bucket/key`, for messages. */
  readonly location: string;
  head(): Promise<PolicyObjectHead>;
  get(): Promise<PolicyObject>;
}

/** Policies are a few kilobytes; anything this large is not one, and is not read into memory. */
const MAX_POLICY_BYTES = 16 * 1024 * 1024; // 16 MiB

/** The metadata key the deploy tooling sets (`x-amz-meta-changed-by`); the SDK gives it lower-cased. */
export const CHANGED_BY_METADATA = 'changed-by';

/** S3 reports an unversioned object's version as the string "null". */
function versionOf(versionId: string | undefined): string | undefined {
  return versionId && versionId !== 'null' ? versionId : undefined;
}

/** The S3 adapter: HeadObject to poll, GetObject when the version changed. */
export class S3PolicyObjectStore implements PolicyObjectStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly key: string,
  ) {}

  get location(): string {
    return `s3://${this.bucket}/${this.key}`;
  }

  async head(): Promise<PolicyObjectHead> {
    const result = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key }));
    return { version: versionOf(result.VersionId), etag: result.ETag };
  }

  async get(): Promise<PolicyObject> {
    const result = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key }));
    if (result.ContentLength !== undefined && result.ContentLength > MAX_POLICY_BYTES) {
      // Not read: the connection is dropped instead (in Node the body is the response stream).
      if (result.Body instanceof Readable) result.Body.destroy();
      throw new Error(`${this.location} holds ${result.ContentLength} bytes: too large for a policy`);
    }
    if (!result.Body) throw new Error(`${this.location} returned no body`);
    return {
      body: await result.Body.transformToString('utf8'),
      version: versionOf(result.VersionId),
      etag: result.ETag,
      changedBy: result.Metadata?.[CHANGED_BY_METADATA] || undefined,
    };
  }
}
