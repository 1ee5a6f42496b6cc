import { createHash, createPublicKey, verify } from 'node:crypto';
import { canonicalJson } from '../audit/canonical-json';
import type { DigestSigner } from '../audit/digest';
import {
  EVIDENCE_PACKAGE_VERSION,
  type EvidencePeriod,
  type Manifest,
  type ManifestEntry,
} from './evidence-package';

export const MANIFEST_FILE = 'manifest.json';

export function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function manifestEntry(path: string, content: Buffer): ManifestEntry {
  return { path, bytes: content.length, sha256: sha256Hex(content) };
}

/** What the signature covers: the canonical JSON of the manifest without its signature. */
export function manifestPayload(manifest: Manifest): Buffer {
  const { signature: _omitted, ...rest } = manifest;
  return Buffer.from(canonicalJson(rest), 'utf8');
}

/**
 * The manifest of a package's files (sorted by path), signed with the audit digests' signer: a local
 * ECDSA P-256 key or KMS (ECDSA_SHA_256), so the audit trail's public key checks it.
 */
export async function signedManifest(
  entries: readonly ManifestEntry[],
  period: EvidencePeriod,
  generatedAt: string,
  signer: DigestSigner,
): Promise<Manifest> {
  const unsigned: Manifest = {
    version: EVIDENCE_PACKAGE_VERSION,
    generatedAt,
    period,
    files: [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
  };
  const value = await signer.sign(manifestPayload(unsigned));
  return { ...unsigned, signature: { algorithm: 'ECDSA_SHA_256', value } };
}

export function verifyManifestSignature(manifest: Manifest, publicKeyPem: string): boolean {
  if (manifest.signature?.algorithm !== 'ECDSA_SHA_256' || typeof manifest.signature.value !== 'string')
    return false;
  try {
    return verify(
      'sha256',
      manifestPayload(manifest),
      createPublicKey(publicKeyPem),
      Buffer.from(manifest.signature.value, 'base64'),
    );
  } catch {
    return false;
  }
}

/** A package path the manifest may name: relative, `/`-separated, no `.` or `..` segment. */
export function safePackagePath(path: string): boolean {
  if (path === '' || path.startsWith('/') || path.includes('\\') || path.includes('\0')) return false;
  return path.split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..');
}

export interface PackageProblem {
  readonly path?: string;
  readonly kind:
    | 'unreadable-manifest'
    | 'signature'
    | 'unsafe-path'
    | 'missing'
    | 'size'
    | 'hash'
    | 'unlisted';
  readonly detail: string;
}

/**
 * Checks a package: the manifest's signature with the public key, and each listed file's size and
 * SHA-256 against the bytes found (`read` returns undefined for a missing file); files found that the
 * manifest does not list are problems too.
 */
export function checkPackage(
  manifestBytes: Buffer,
  publicKeyPem: string,
  read: (path: string) => Buffer | undefined,
  present: readonly string[],
): { manifest?: Manifest; problems: PackageProblem[] } {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(manifestBytes.toString('utf8')) as Manifest;
    if (!Array.isArray(manifest.files)) throw new Error('no files');
  } catch {
    return { problems: [{ kind: 'unreadable-manifest', detail: `${MANIFEST_FILE} is not a manifest` }] };
  }
  const problems: PackageProblem[] = [];
  if (!verifyManifestSignature(manifest, publicKeyPem)) {
    problems.push({
      kind: 'signature',
      detail: manifest.signature
        ? `${MANIFEST_FILE} does not carry a valid signature for this public key`
        : `${MANIFEST_FILE} is not signed`,
    });
  }
  const listed = new Set<string>();
  for (const entry of manifest.files) {
    listed.add(entry.path);
    if (!safePackagePath(entry.path)) {
      problems.push({
        path: entry.path,
        kind: 'unsafe-path',
        detail: `${entry.path} is not a path inside the package`,
      });
      continue;
    }
    const bytes = read(entry.path);
    if (!bytes) problems.push({ path: entry.path, kind: 'missing', detail: `${entry.path} is missing` });
    else if (bytes.length !== entry.bytes)
      problems.push({
        path: entry.path,
        kind: 'size',
        detail: `${entry.path} has ${bytes.length} bytes, the manifest says ${entry.bytes}`,
      });
    else if (sha256Hex(bytes) !== entry.sha256)
      problems.push({ path: entry.path, kind: 'hash', detail: `${entry.path} does not match its SHA-256` });
  }
  for (const path of present) {
    if (path !== MANIFEST_FILE && !listed.has(path))
      problems.push({ path, kind: 'unlisted', detail: `${path} is in the package but not in the manifest` });
  }
  return { manifest, problems };
}
