import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';

/** S3 as the tests know it: s3rver, an S3-compatible emulator (no Object Lock, no KMS: see the mocks). */
export interface TestS3 {
  endpoint: string;
  port: number;
  directory: string;
  client: S3Client;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** `port` and `directory` start it again where it was, with what it held. */
export async function startS3rver(options: { port?: number; directory?: string } = {}): Promise<TestS3> {
  const directory = options.directory ?? mkdtempSync(path.join(os.tmpdir(), 'gh-s3-'));
  const server = new S3rver({ port: options.port ?? 0, address: '127.0.0.1', silent: true, directory });
  const { port } = (await server.run()) as { port: number };
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  return {
    endpoint,
    port,
    directory,
    client,
    createBucket: async (name) => {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    stop: async () => {
      client.destroy();
      // Connections are cut, not waited for (see the DynamoDB emulator's stop).
      const closed = server.close();
      server.httpServer.closeAllConnections();
      await closed;
    },
  };
}
