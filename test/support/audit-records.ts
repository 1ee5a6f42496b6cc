import { generateKeyPairSync } from 'node:crypto';
import { type DigestSigner, LocalDigestSigner } from '../../core/audit/digest';
import type { AuditRecord, RecordBody, StatementRecord } from '../../core/audit/records';
import { AuditWriter, type AuditWriterOptions } from '../../fargate-proxy/src/audit/audit-writer';
import { readLocalStore } from '../../fargate-proxy/src/audit/local-store';
import { silentLogger } from '../../fargate-proxy/src/observability/logger';

/** A plausible statement record body, for tests that write records without a gateway. */
export function statementBody(text: string, time = Date.now() * 1000): RecordBody<StatementRecord> {
  return {
    type: 'statement',
    time,
    start: time,
    end: time + 10,
    protocol: 'simple',
    text,
    textSha256: 'x'.repeat(64),
    decision: 'allowed',
    outcome: { tag: 'SELECT 1', rows: 1 },
    bytesIn: 10,
    bytesOut: 20,
  };
}

/** A fresh ECDSA P-256 signer, as the audit digests use. */
export function testDigestSigner(): LocalDigestSigner {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return new LocalDigestSigner(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
}

/**
 * An audit writer that flushes and digests only when the test says so (long timers), writing as
 * `i-1-w0` unless told otherwise.
 */
export function manualAuditWriter(
  directory: string,
  signer: DigestSigner,
  options: Partial<AuditWriterOptions> = {},
): AuditWriter {
  return new AuditWriter({
    directory,
    writer: 'i-1-w0',
    signer,
    flushMs: 60_000,
    digestIntervalMs: 600_000,
    log: silentLogger,
    ...options,
  });
}

/** Every record of a local audit store (open chunks included), in the order the chunks list them. */
export function storedRecords(directory: string): AuditRecord[] {
  return readLocalStore(directory)
    .flatMap((writer) => [...writer.chunks.values()])
    .flatMap((bytes) => bytes.toString('utf8').split('\n'))
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as AuditRecord);
}
