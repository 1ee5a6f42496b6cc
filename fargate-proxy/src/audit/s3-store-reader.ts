import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { WriterContents } from '../../../core/audit/verify';

/** Every writer's files under `prefix` of an S3 audit store, as `verifyStore` reads them. */
export async function readS3Store(
  client: S3Client,
  bucket: string,
  prefix: string,
): Promise<WriterContents[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
    token = page.NextContinuationToken;
  } while (token);
  const writers = new Map<
    string,
    { chunks: Map<string, Buffer>; recordings: Map<string, Buffer>; digests: Buffer[] }
  >();
  for (const key of keys) {
    const [writer, name] = key.slice(prefix.length).split('/');
    if (!writer || !name) continue;
    let contents = writers.get(writer);
    if (!contents) {
      contents = { chunks: new Map(), recordings: new Map(), digests: [] };
      writers.set(writer, contents);
    }
    const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const bytes = Buffer.from(await object.Body!.transformToByteArray());
    if (/^chunk-\d+\.jsonl$/.test(name)) contents.chunks.set(name, bytes);
    else if (/^recording-\d+\.gz$/.test(name)) contents.recordings.set(name, bytes);
    else if (/^digest-\d+\.json$/.test(name)) contents.digests.push(bytes);
  }
  return [...writers]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([writer, contents]) => ({ writer, ...contents }));
}
