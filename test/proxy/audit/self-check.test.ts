import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { StatementRecord } from '../../../core/audit/records';
import { AuditSelfCheck } from '../../../fargate-proxy/src/audit/self-check';
import { manualAuditWriter, statementBody, testDigestSigner } from '../../support/audit-records';

const signer = testDigestSigner();

/** A writer whose digests the self-check follows, with one sealed chunk listed. */
async function signedStore(): Promise<{ directory: string; check: AuditSelfCheck }> {
  const directory = path.join(mkdtempSync(path.join(os.tmpdir(), 'gh-self-check-')), 'i-1-w0');
  mkdirSync(directory);
  const check = new AuditSelfCheck(directory);
  const writer = manualAuditWriter(directory, signer, {
    onDigestWritten: (name, bytes, digest) => check.digestWritten(name, bytes, digest),
  });
  writer.append<StatementRecord>('s1', statementBody('SELECT 1'));
  await writer.close();
  return { directory, check };
}

describe('AuditSelfCheck', () => {
  it('finds nothing when what was signed is untouched', async () => {
    const { check } = await signedStore();
    expect(check.check()).toEqual({ checked: 2, problems: [] });
  });

  it('names a signed chunk changed, or removed, before it was shipped', async () => {
    const { directory, check } = await signedStore();
    const chunk = path.join(directory, 'chunk-0.jsonl');
    writeFileSync(chunk, readFileSync(chunk, 'utf8').replace('SELECT 1', 'SELECT 2'));
    expect(check.check().problems).toEqual(['chunk-0.jsonl changed after it was signed']);
    rmSync(chunk);
    expect(check.check().problems).toEqual(['chunk-0.jsonl is missing (it was signed, and not shipped)']);
  });

  it('stops following files once they are shipped', async () => {
    const { directory, check } = await signedStore();
    for (const name of ['chunk-0.jsonl', 'digest-0.json']) {
      renameSync(path.join(directory, name), path.join(directory, `${name}.shipped`));
    }
    expect(check.check()).toEqual({ checked: 0, problems: [] });
  });
});
