import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { canonicalJson } from './canonical-json';

/**
 * A writer's periodic, signed statement of what it has stored, in the manner of CloudTrail's log file
 * integrity validation: the chunks written since the previous digest with the SHA-256 of their stored
 * bytes, each open session's chain head, and the previous digest's signature, all signed together
 * (ECDSA P-256, SHA-256). Digests are written even when nothing happened, so a gap in time shows.
 */
export interface Digest {
  type: 'digest';
  /** 2 since the release that continues chains across restarts (see the fields marked v2). */
  v: 1 | 2;
  writer: string;
  seq: number;
  /** Microseconds since the epoch: the period this digest covers. */
  from: number;
  to: number;
  /**
   * Chunks sealed in the period. `recovered` (v2): a chunk an earlier process of this writer left
   * unsealed (it died before its digest), sealed by this process with the bytes it found.
   */
  chunks: { name: string; sha256: string; records: number; recovered?: { bytes: number } }[];
  /** Session recording files sealed in the period (absent when recording is off); `recovered` as above. */
  recordings?: { name: string; sha256: string; bytes: number; recovered?: boolean }[];
  /** Chain head (last record hash and seq) of every session this writer wrote to in the period. */
  heads: Record<string, { hash: string; seq: number }>;
  /**
   * v2: heads of the writer's own long-lived chains (its policy log), in every digest whether written
   * to or not: the writer's next process continues them from here.
   */
  chains?: Record<string, { hash: string; seq: number }>;
  /**
   * v2: the next chunk and recording numbers: every file numbered below them is listed by this digest
   * or an earlier one, so a file numbered at or above them is sealed but not yet listed.
   */
  sealed?: { chunk: number; recording: number };
  /** v2: the process that wrote it (random per start): two digests of different processes are a restart. */
  process?: string;
  /** Empty for a writer's first digest. */
  previousSignature: string;
  /** base64 DER ECDSA signature over the canonical JSON of everything else. */
  signature: string;
}

export type UnsignedDigest = Omit<Digest, 'signature'>;

/** Signs with a key held here; in AWS the same string is signed by KMS (ECDSA_SHA_256). */
export interface DigestSigner {
  sign(payload: Buffer): Promise<string>;
}

export class LocalDigestSigner implements DigestSigner {
  private readonly key: KeyObject;

  constructor(privateKeyPem: string) {
    this.key = createPrivateKey(privateKeyPem);
  }

  async sign(payload: Buffer): Promise<string> {
    return sign('sha256', payload, this.key).toString('base64');
  }

  publicKeyPem(): string {
    return createPublicKey(this.key).export({ type: 'spki', format: 'pem' }).toString();
  }
}

export function digestPayload(digest: UnsignedDigest | Digest): Buffer {
  const { signature: _omitted, ...rest } = digest as Digest;
  return Buffer.from(canonicalJson(rest), 'utf8');
}

export async function signDigest(digest: UnsignedDigest, signer: DigestSigner): Promise<Digest> {
  return { ...digest, signature: await signer.sign(digestPayload(digest)) };
}

export function verifyDigestSignature(digest: Digest, publicKeyPem: string): boolean {
  try {
    return verify(
      'sha256',
      digestPayload(digest),
      createPublicKey(publicKeyPem),
      Buffer.from(digest.signature, 'base64'),
    );
  } catch {
    return false;
  }
}
