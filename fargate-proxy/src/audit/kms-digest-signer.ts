import { createHash, createPublicKey } from 'node:crypto';
import { GetPublicKeyCommand, type KMSClient, SignCommand } from '@aws-sdk/client-kms';
import type { DigestSigner } from '../../../core/audit/digest';

/**
 * Signs audit digests with a KMS asymmetric key (ECC_NIST_P256, SIGN_VERIFY): the private key never
 * leaves KMS. The SHA-256 of the payload is sent (MessageType DIGEST: a digest can be larger than
 * KMS's 4 KB message limit), so the signature is the same ECDSA P-256/SHA-256 a local key makes and
 * `gatehouse verify` checks it with the key's public half.
 */
export class KmsDigestSigner implements DigestSigner {
  constructor(
    private readonly client: KMSClient,
    private readonly keyId: string,
  ) {}

  async sign(payload: Buffer): Promise<string> {
    const result = await this.client.send(
      new SignCommand({
        KeyId: this.keyId,
        Message: createHash('sha256').update(payload).digest(),
        MessageType: 'DIGEST',
        SigningAlgorithm: 'ECDSA_SHA_256',
      }),
    );
    if (!result.Signature) throw new Error(`KMS returned no signature for key ${this.keyId}`);
    return Buffer.from(result.Signature).toString('base64');
  }

  /** The public key, PEM, for verifiers (`gatehouse verify --public-key`). */
  async publicKeyPem(): Promise<string> {
    const result = await this.client.send(new GetPublicKeyCommand({ KeyId: this.keyId }));
    if (!result.PublicKey) throw new Error(`KMS returned no public key for ${this.keyId}`);
    return createPublicKey({ key: Buffer.from(result.PublicKey), format: 'der', type: 'spki' })
      .export({ type: 'spki', format: 'pem' })
      .toString();
  }
}
