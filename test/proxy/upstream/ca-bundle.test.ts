import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { parseGatewayConfig } from '../../../fargate-proxy/src/config';
import { readCaBundle } from '../../../fargate-proxy/src/upstream/ca-bundle';

const PEM = readFileSync(path.join(__dirname, '..', '..', '..', 'deploy', 'example-upstream-ca.pem'));

describe('the upstream CA bundle from S3', () => {
  const s3 = mockClient(S3Client);
  afterAll(() => s3.restore());
  beforeEach(() => s3.reset());

  /** A response body as the SDK gives it in Node: a stream with its transform helpers. */
  const body = (bytes: Buffer) =>
    Object.assign(Readable.from([bytes]), {
      transformToString: async () => bytes.toString('utf8'),
      transformToByteArray: async () => new Uint8Array(bytes),
      transformToWebStream: () => Readable.toWeb(Readable.from([bytes])),
    }) as never;

  it('reads a PEM bundle', async () => {
    s3.on(GetObjectCommand, { Bucket: 'config', Key: 'upstream-ca.pem' }).resolves({ Body: body(PEM) });
    await expect(
      readCaBundle({ bucket: 'config', key: 'upstream-ca.pem' }, new S3Client({})),
    ).resolves.toEqual(PEM);
  });

  it('refuses what is not a bundle, and says where it looked', async () => {
    s3.on(GetObjectCommand).resolves({ Body: body(Buffer.from('<html>not found</html>')) });
    await expect(readCaBundle({ bucket: 'config', key: 'ca.pem' }, new S3Client({}))).rejects.toThrow(
      'cannot read the upstream CA bundle s3://config/ca.pem: it is not a PEM certificate bundle',
    );
    s3.on(GetObjectCommand).rejects(new Error('Access Denied'));
    await expect(readCaBundle({ bucket: 'config', key: 'ca.pem' }, new S3Client({}))).rejects.toThrow(
      'Access Denied',
    );
  });

  it('is one of two ways to name the bundle for verify-full', () => {
    const base = {
      issuers: [{ name: 'x', issuer: 'https://x', audience: 'a', jwksUri: 'https://x/keys' }],
      policy: { file: 'p.yaml' },
      audit: { directory: '/tmp/a', signingKeyFile: '/tmp/k.pem' },
    };
    const caS3 = { bucket: 'config', key: 'upstream-ca.pem' };
    expect(parseGatewayConfig({ ...base, upstream: { host: 'db', caS3 } }).upstream.caS3).toEqual(caS3);
    expect(() => parseGatewayConfig({ ...base, upstream: { host: 'db' } })).toThrow(
      'name either caFile or caS3',
    );
    expect(() => parseGatewayConfig({ ...base, upstream: { host: 'db', caS3, caFile: '/ca.pem' } })).toThrow(
      'name either caFile or caS3',
    );
  });
});
