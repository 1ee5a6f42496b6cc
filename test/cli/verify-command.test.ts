import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { LocalDigestSigner } from '../../core/audit/digest';
import type { StatementRecord } from '../../core/audit/records';
import { AuditShipper } from '../../fargate-proxy/src/audit/audit-shipper';
import { AuditWriter } from '../../fargate-proxy/src/audit/audit-writer';
import { DynamoDbHeadRegistry } from '../../fargate-proxy/src/audit/dynamodb-head-registry';
import { S3AuditStore } from '../../fargate-proxy/src/audit/s3-audit-store';
import { silentLogger } from '../../fargate-proxy/src/observability/logger';
import { ensureAuditSigningKey } from '../../local/certificates';
import { startDynalite } from '../support/dynalite';
import { runCommand } from '../support/run-command';
import { startS3rver } from '../support/s3rver';

const CLI = path.join(__dirname, '..', '..', 'dist', 'bin', 'gatehouse.js');

describe('gatehouse verify', () => {
  it('passes an untouched store and fails one with a changed byte, naming what changed', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'gh-verify-'));
    const key = ensureAuditSigningKey(path.join(home, 'keys', 'audit-signing-key.pem'));
    const writer = new AuditWriter({
      directory: path.join(home, 'audit', 'local-w0'),
      writer: 'local-w0',
      signer: new LocalDigestSigner(readFileSync(key, 'utf8')),
      flushMs: 60_000,
      digestIntervalMs: 600_000,
      log: silentLogger,
    });
    for (const text of ['SELECT 1', 'SELECT 2']) {
      writer.append<StatementRecord>('s1', {
        type: 'statement',
        time: 1,
        start: 1,
        end: 2,
        protocol: 'simple',
        text,
        textSha256: '0'.repeat(64),
        decision: 'allowed',
        outcome: { tag: 'SELECT 1', rows: 1 },
        bytesIn: 1,
        bytesOut: 1,
      });
    }
    await writer.close();
    const verify = () => runCommand(process.execPath, [CLI, 'verify', '--home', home], { env: process.env });
    const good = await verify();
    expect(good.code).toBe(0);
    expect(good.stdout).toContain('1 writers, 1 digests, 1 chunks, 0 recordings, 1 sessions, 2 records');
    const chunk = path.join(home, 'audit', 'local-w0', 'chunk-0.jsonl');
    writeFileSync(chunk, readFileSync(chunk, 'utf8').replace('SELECT 2', 'SELECT 3'));
    const bad = await verify();
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('FAIL  local-w0: chunk-altered');
    expect(bad.stdout).toContain('record-altered');
    expect(bad.stdout).toContain('NOT VERIFIED');
  });

  it('verifies a store in S3 against the heads registered in DynamoDB, and finds a deleted tail', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'gh-verify-s3-'));
    const key = ensureAuditSigningKey(path.join(home, 'keys', 'audit-signing-key.pem'));
    const directory = path.join(home, 'spool', 'i-1-w0');
    const writer = new AuditWriter({
      directory,
      writer: 'i-1-w0',
      signer: new LocalDigestSigner(readFileSync(key, 'utf8')),
      flushMs: 60_000,
      digestIntervalMs: 600_000,
      log: silentLogger,
    });
    await writer.digest();
    await writer.close();
    const s3 = await startS3rver();
    const dynamo = await startDynalite();
    try {
      await s3.createBucket('evidence');
      const table = await dynamo.createTable();
      const shipper = new AuditShipper({
        directory,
        writer: 'i-1-w0',
        store: new S3AuditStore(s3.client, { bucket: 'evidence', prefix: 'audit/', retentionDays: 1 }),
        heads: new DynamoDbHeadRegistry(dynamo.client, table),
        log: silentLogger,
        retryBaseMs: 10,
        retryMaxMs: 10,
      });
      await shipper.ship();
      const env = {
        ...process.env,
        AWS_ACCESS_KEY_ID: 'S3RVER',
        AWS_SECRET_ACCESS_KEY: 'S3RVER',
        AWS_REGION: 'us-east-1',
      };
      const args = [
        CLI,
        'verify',
        '--home',
        home,
        '--s3',
        'evidence/audit',
        '--s3-endpoint',
        s3.endpoint,
        '--table',
        table,
        '--dynamodb-endpoint',
        dynamo.endpoint,
      ];
      const good = await runCommand(process.execPath, args, { env });
      expect([good.code, good.stdout]).toEqual([
        0,
        expect.stringContaining('s3://evidence/audit/: 1 writers, 2 digests'),
      ]);
      await s3.client.send(
        new DeleteObjectCommand({ Bucket: 'evidence', Key: 'audit/i-1-w0/digest-1.json' }),
      );
      const bad = await runCommand(process.execPath, args, { env });
      expect(bad.code).toBe(1);
      expect(bad.stdout).toContain('digest-tail-deleted');
    } finally {
      await s3.stop();
      await dynamo.stop();
    }
  });
});
