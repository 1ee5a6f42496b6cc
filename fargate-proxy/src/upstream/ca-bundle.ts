import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';

/** RDS's global bundle is about 160 KiB; anything far larger is not a CA bundle. */
const MAX_BUNDLE_BYTES = 4 * 1024 * 1024;

/**
 * The upstream server's CA bundle from S3 (read once at start; a gateway that cannot read it does not
 * start, since it could not verify the server).
 */
export async function readCaBundle(
  location: { bucket: string; key: string; region?: string },
  client: S3Client = new S3Client({ region: location.region }),
): Promise<Buffer> {
  const where = `s3://${location.bucket}/${location.key}`;
  try {
    const result = await client.send(new GetObjectCommand({ Bucket: location.bucket, Key: location.key }));
    const bytes = Buffer.from((await result.Body?.transformToByteArray()) ?? []);
    if (
      bytes.length === 0 ||
      bytes.length > MAX_BUNDLE_BYTES ||
      !bytes.includes('-----BEGIN CERTIFICATE-----')
    )
      throw new Error('it is not a PEM certificate bundle');
    return bytes;
  } catch (error) {
    throw new Error(`cannot read the upstream CA bundle ${where}: ${(error as Error).message}`);
  }
}
