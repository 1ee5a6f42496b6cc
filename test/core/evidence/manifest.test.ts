import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetPublicKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { canonicalJson } from '../../../core/audit/canonical-json';
import { LocalDigestSigner } from '../../../core/audit/digest';
import type { Manifest } from '../../../core/evidence/evidence-package';
import { parsePeriod } from '../../../core/evidence/evidence-period';
import {
  checkPackage,
  manifestEntry,
  manifestPayload,
  safePackagePath,
  signedManifest,
  verifyManifestSignature,
} from '../../../core/evidence/manifest';
import { evidenceSigner } from '../../../fargate-proxy/src/evidence/evidence-signer';
import {
  packageContents,
  readPackageFile,
  writePackage,
} from '../../../fargate-proxy/src/evidence/package-writer';

const PERIOD = parsePeriod('2026-03-01', '2026-04-01');
const AT = '2026-04-02T08:00:00.000Z';

function signer(): LocalDigestSigner {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return new LocalDigestSigner(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
}

const FILES = [
  { path: 'summary.json', content: Buffer.from('{"a":1}\n') },
  { path: 'audit/records.jsonl', content: Buffer.from('{"type":"statement"}\n') },
  { path: 'masking.jsonl', content: Buffer.alloc(0) },
];

describe('the manifest', () => {
  it('lists each file with its size and SHA-256, sorted, signed over its canonical JSON', async () => {
    const key = signer();
    const manifest = await signedManifest(
      FILES.map((f) => manifestEntry(f.path, f.content)),
      PERIOD,
      AT,
      key,
    );
    expect(manifest.files).toEqual([
      { path: 'audit/records.jsonl', bytes: 21, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
      {
        path: 'masking.jsonl',
        bytes: 0,
        sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      },
      { path: 'summary.json', bytes: 8, sha256: expect.any(String) },
    ]);
    const { signature, ...rest } = manifest;
    expect(manifestPayload(manifest).toString()).toBe(canonicalJson(rest));
    expect(signature?.algorithm).toBe('ECDSA_SHA_256');
    expect(verifyManifestSignature(manifest, key.publicKeyPem())).toBe(true);
    // Another key, a changed entry, a signature moved from another manifest: all refused.
    expect(verifyManifestSignature(manifest, signer().publicKeyPem())).toBe(false);
    const changed: Manifest = {
      ...manifest,
      files: manifest.files.map((f) => ({ ...f, bytes: f.bytes + 1 })),
    };
    expect(verifyManifestSignature(changed, key.publicKeyPem())).toBe(false);
    expect(verifyManifestSignature({ ...manifest, signature: undefined }, key.publicKeyPem())).toBe(false);
  });

  it('refuses paths that leave the package', () => {
    for (const bad of ['', '/etc/passwd', '../x', 'a/../b', 'a//b', './a', 'a\\b'])
      expect(safePackagePath(bad)).toBe(false);
    for (const good of ['summary.json', 'oscal/ssp.json', 'audit/records.jsonl'])
      expect(safePackagePath(good)).toBe(true);
  });
});

describe('writing and checking a package', () => {
  const key = signer();
  const sign = (entries: Parameters<typeof signedManifest>[0]) => signedManifest(entries, PERIOD, AT, key);

  it('writes every file then the manifest, atomically, and the check passes', async () => {
    const parent = mkdtempSync(path.join(os.tmpdir(), 'gh-evidence-'));
    const out = path.join(parent, 'package');
    const progress: string[] = [];
    const { manifest } = await writePackage(out, FILES, sign, {
      onFile: (n, total, file) => progress.push(`${n}/${total} ${file}`),
    });
    expect(progress).toEqual([
      '1/4 summary.json',
      '2/4 audit/records.jsonl',
      '3/4 masking.jsonl',
      '4/4 manifest.json',
    ]);
    // Nothing left beside it.
    expect(readdirSync(parent)).toEqual(['package']);
    expect(packageContents(out)).toEqual([
      'audit/records.jsonl',
      'manifest.json',
      'masking.jsonl',
      'summary.json',
    ]);
    expect(JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'))).toEqual(manifest);
    const check = () =>
      checkPackage(
        readFileSync(path.join(out, 'manifest.json')),
        key.publicKeyPem(),
        (f) => readPackageFile(out, f),
        packageContents(out),
      );
    expect(check().problems).toEqual([]);

    // A modified file, an added file, a removed file.
    writeFileSync(path.join(out, 'audit', 'records.jsonl'), '{"type":"statement!"}\n');
    writeFileSync(path.join(out, 'extra.txt'), 'x');
    writeFileSync(path.join(out, 'summary.json'), '{"a":2}\n');
    expect(check().problems.map((p) => [p.kind, p.path])).toEqual([
      ['size', 'audit/records.jsonl'],
      ['hash', 'summary.json'],
      ['unlisted', 'extra.txt'],
    ]);

    // A forged manifest: the entries made to match, re-signed with another key.
    const forged = await signedManifest(
      [
        ...FILES.map((f) => manifestEntry(f.path, readPackageFile(out, f.path)!)),
        manifestEntry('extra.txt', Buffer.from('x')),
      ],
      PERIOD,
      AT,
      signer(),
    );
    writeFileSync(path.join(out, 'manifest.json'), JSON.stringify(forged));
    expect(check().problems.map((p) => p.kind)).toEqual(['signature']);
  });

  it('refuses an existing directory unless forced, and then replaces only a package or an empty directory', async () => {
    const parent = mkdtempSync(path.join(os.tmpdir(), 'gh-evidence-'));
    const out = path.join(parent, 'package');
    await writePackage(out, FILES, sign);
    await expect(writePackage(out, FILES, sign)).rejects.toThrow(/exists \(--force replaces a package\)/);
    await writePackage(out, [{ path: 'summary.json', content: Buffer.from('{}') }], sign, { force: true });
    expect(packageContents(out)).toEqual(['manifest.json', 'summary.json']);
    expect(readdirSync(parent)).toEqual(['package']);
    const precious = path.join(parent, 'precious');
    mkdirSync(precious);
    writeFileSync(path.join(precious, 'thesis.tex'), 'years of work');
    await expect(writePackage(precious, FILES, sign, { force: true })).rejects.toThrow(
      /neither empty nor an evidence package/,
    );
    expect(readFileSync(path.join(precious, 'thesis.tex'), 'utf8')).toBe('years of work');
  });

  it('leaves nothing behind, and an earlier package in place, when writing fails', async () => {
    const parent = mkdtempSync(path.join(os.tmpdir(), 'gh-evidence-'));
    const out = path.join(parent, 'package');
    await writePackage(out, FILES, sign);
    const before = readFileSync(path.join(out, 'manifest.json'));
    await expect(
      writePackage(
        out,
        FILES,
        async () => {
          throw new Error('KMS is unreachable');
        },
        { force: true },
      ),
    ).rejects.toThrow('KMS is unreachable');
    await expect(
      writePackage(path.join(parent, 'other'), [{ path: '../escape', content: Buffer.from('x') }], sign),
    ).rejects.toThrow(/not a package file name/);
    expect(readdirSync(parent).sort()).toEqual(['package']);
    expect(readFileSync(path.join(out, 'manifest.json'))).toEqual(before);
    expect(existsSync(path.join(parent, '..', 'escape'))).toBe(false);
  });
});

describe('a manifest signed by KMS (mocked client: there is no KMS emulator)', () => {
  it('asks KMS to sign the SHA-256 of the manifest, and the audit public key from KMS checks it', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const entries = FILES.map((f) => manifestEntry(f.path, f.content));
    const unsigned: Manifest = {
      version: 1,
      generatedAt: AT,
      period: PERIOD,
      files: [...entries].sort((a, b) => a.path.localeCompare(b.path)),
    };
    const payload = manifestPayload(unsigned);
    const kms = mockClient(KMSClient);
    kms.on(SignCommand).callsFake((input) => {
      expect(input).toMatchObject({
        KeyId: 'alias/gatehouse-audit',
        MessageType: 'DIGEST',
        SigningAlgorithm: 'ECDSA_SHA_256',
      });
      expect(Buffer.from(input.Message)).toEqual(createHash('sha256').update(payload).digest());
      return { Signature: sign('sha256', payload, privateKey) };
    });
    kms.on(GetPublicKeyCommand).resolves({ PublicKey: publicKey.export({ type: 'spki', format: 'der' }) });
    try {
      const signer = evidenceSigner({ kmsKeyId: 'alias/gatehouse-audit', region: 'eu-west-1' });
      expect(signer.description).toBe('kms:alias/gatehouse-audit');
      const manifest = await signedManifest(entries, PERIOD, AT, signer.signer);
      expect(verifyManifestSignature(manifest, await signer.publicKeyPem())).toBe(true);
    } finally {
      kms.restore();
    }
  });
});
