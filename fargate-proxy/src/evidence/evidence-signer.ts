import { readFileSync } from 'node:fs';
import { KMSClient } from '@aws-sdk/client-kms';
import { type DigestSigner, LocalDigestSigner } from '../../../core/audit/digest';
import { KmsDigestSigner } from '../audit/kms-digest-signer';

/** What signs a package's manifest, and the public key that checks it. */
export interface EvidenceSigner {
  readonly signer: DigestSigner;
  /** Where the key is, for messages (a file, or `kms:<key id>`). */
  readonly description: string;
  publicKeyPem(): Promise<string>;
}

/**
 * The manifest is signed as the audit digests are: with the local ECDSA P-256 key file (local mode's
 * `.gatehouse/keys/audit-signing-key.pem`), or with the KMS key that signs the digests in AWS (the
 * digest signer's approach: KMS signs the SHA-256 of the payload, ECDSA_SHA_256).
 */
export function evidenceSigner(
  options: { signingKeyFile: string } | { kmsKeyId: string; region?: string; endpoint?: string },
): EvidenceSigner {
  if ('signingKeyFile' in options) {
    let signer: LocalDigestSigner;
    try {
      signer = new LocalDigestSigner(readFileSync(options.signingKeyFile, 'utf8'));
    } catch (error) {
      throw new Error(`cannot use ${options.signingKeyFile} as a signing key: ${(error as Error).message}`);
    }
    return {
      signer,
      description: options.signingKeyFile,
      publicKeyPem: async () => signer.publicKeyPem(),
    };
  }
  const signer = new KmsDigestSigner(
    new KMSClient({ region: options.region, endpoint: options.endpoint }),
    options.kmsKeyId,
  );
  return { signer, description: `kms:${options.kmsKeyId}`, publicKeyPem: () => signer.publicKeyPem() };
}
