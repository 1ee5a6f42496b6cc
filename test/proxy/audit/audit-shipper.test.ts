import { mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import type { StatementRecord } from '../../../core/audit/records';
import { verifyStore } from '../../../core/audit/verify';
import { AuditShipper } from '../../../fargate-proxy/src/audit/audit-shipper';
import type { AuditWriter } from '../../../fargate-proxy/src/audit/audit-writer';
import { DynamoDbHeadRegistry } from '../../../fargate-proxy/src/audit/dynamodb-head-registry';
import { S3AuditStore } from '../../../fargate-proxy/src/audit/s3-audit-store';
import { readS3Store } from '../../../fargate-proxy/src/audit/s3-store-reader';
import { silentLogger } from '../../../fargate-proxy/src/observability/logger';
import { manualAuditWriter, statementBody, testDigestSigner } from '../../support/audit-records';
import { startDynalite } from '../../support/dynalite';
import { fixedTestPort } from '../../support/ports';
import { startS3rver, type TestS3 } from '../../support/s3rver';

const signer = testDigestSigner();
const BUCKET = 'gatehouse-audit';
const PREFIX = 'audit/';

function writerIn(directory: string): AuditWriter {
  return manualAuditWriter(directory, signer);
}

function shipperFor(directory: string, s3: TestS3, backlog: number[] = []): AuditShipper {
  return new AuditShipper({
    directory,
    writer: 'i-1-w0',
    store: new S3AuditStore(s3.client, { bucket: BUCKET, prefix: PREFIX, retentionDays: 1 }),
    log: silentLogger,
    retryBaseMs: 20,
    retryMaxMs: 100,
    onBacklog: (files) => backlog.push(files),
  });
}

describe('shipping sealed audit files to S3 (s3rver)', () => {
  it('ships chunks before their digests, frees the disk, retries while the store is down, and the shipped store verifies', async () => {
    // Restarted on its port later: one below the ephemeral range, which nothing else can take meanwhile.
    let s3 = await startS3rver({ port: await fixedTestPort() });
    await s3.createBucket(BUCKET);
    const directory = path.join(mkdtempSync(path.join(os.tmpdir(), 'gh-ship-')), 'i-1-w0');
    let writer = writerIn(directory);
    writer.append<StatementRecord>('s1', statementBody('SELECT 1'));
    await writer.digest();
    writer.append<StatementRecord>('s1', statementBody('SELECT 2'));
    await writer.digest();
    await shipperFor(directory, s3).ship();
    expect(readdirSync(directory).sort()).toEqual([
      'chunk-1.jsonl.shipped',
      'digest-1.json',
      'digest-1.json.shipped',
    ]);
    let store = await readS3Store(s3.client, BUCKET, PREFIX);
    expect([...store[0]!.chunks.keys()].sort()).toEqual(['chunk-0.jsonl', 'chunk-1.jsonl']);
    expect(verifyStore(store, signer.publicKeyPem())).toMatchObject({ ok: true, records: 2, digests: 2 });

    // The store goes away: files wait (the backlog shows), and nothing is lost.
    const { port, directory: kept } = s3;
    await s3.stop();
    writer.append<StatementRecord>('s1', statementBody('SELECT 3'));
    await writer.digest();
    const backlog: number[] = [];
    const shipper = shipperFor(directory, s3, backlog);
    const shipping = shipper.ship();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(backlog.at(-1)).toBe(2);
    s3 = await startS3rver({ port, directory: kept });
    await shipping;
    expect(backlog.at(-1)).toBe(0);

    // A new process of the same writer continues the numbering and the signature chain.
    writer.detach();
    writer = writerIn(directory);
    writer.append<StatementRecord>('s2', statementBody('SELECT 4'));
    await writer.close();
    await shipperFor(directory, s3).ship();
    store = await readS3Store(s3.client, BUCKET, PREFIX);
    expect([...store[0]!.chunks.keys()].sort()).toEqual([
      'chunk-0.jsonl',
      'chunk-1.jsonl',
      'chunk-2.jsonl',
      'chunk-3.jsonl',
    ]);
    expect(verifyStore(store, signer.publicKeyPem())).toMatchObject({
      ok: true,
      records: 4,
      digests: 4,
      problems: [],
    });
    await s3.stop();
  });
});

describe('S3AuditStore requests', () => {
  it('locks each object in compliance mode until its retention date, encrypts it with the KMS key, and sends its SHA-256', async () => {
    const s3 = mockClient(S3Client);
    s3.on(PutObjectCommand).resolves({});
    const now = Date.UTC(2026, 10, 23);
    const store = new S3AuditStore(
      new S3Client({ region: 'eu-west-1' }),
      {
        bucket: 'evidence',
        prefix: 'audit/',
        kmsKeyId: 'arn:aws:kms:eu-west-1:111122223333:key/abc',
        retentionDays: 400,
      },
      () => now,
    );
    await store.put('i-1-w0', 'chunk-7.jsonl', Buffer.from('{}\n'));
    expect(s3.commandCalls(PutObjectCommand)[0]!.args[0].input).toMatchObject({
      Bucket: 'evidence',
      Key: 'audit/i-1-w0/chunk-7.jsonl',
      ObjectLockMode: 'COMPLIANCE',
      ObjectLockRetainUntilDate: new Date(now + 400 * 86_400_000),
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: 'arn:aws:kms:eu-west-1:111122223333:key/abc',
      ChecksumAlgorithm: 'SHA256',
    });
    s3.restore();
  });
});

describe('writer heads in DynamoDB (dynalite)', () => {
  it('registers the newest digest of each writer and never moves a head back', async () => {
    const dynamo = await startDynalite();
    const table = await dynamo.createTable();
    const heads = new DynamoDbHeadRegistry(dynamo.client, table);
    await heads.register('i-1-w0', { seq: 5, signature: 'sig5', to: 1 });
    await heads.register('i-1-w0', { seq: 4, signature: 'sig4', to: 1 });
    const item = await dynamo.client.send(
      new GetItemCommand({ TableName: table, Key: { pk: { S: 'head#i-1-w0' } } }),
    );
    expect(item.Item).toMatchObject({ seq: { N: '5' }, signature: { S: 'sig5' } });
    await dynamo.stop();
  });
});
