import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { GetPublicKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import {
  digestPayload,
  signDigest,
  type UnsignedDigest,
  verifyDigestSignature,
} from '../../../core/audit/digest';
import { KmsDigestSigner } from '../../../fargate-proxy/src/audit/kms-digest-signer';

describe('digests signed by KMS (mocked client: there is no KMS emulator)', () => {
  it('asks KMS to sign the SHA-256 of the digest, and the signature verifies with the public key', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const heads = Object.fromEntries(
      Array.from({ length: 200 }, (_, i) => [`session-${i}`, { hash: 'a'.repeat(64), seq: i }]),
    );
    const unsigned: UnsignedDigest = {
      type: 'digest',
      v: 1,
      writer: 'i-1-w0',
      seq: 3,
      from: 1,
      to: 2,
      chunks: [],
      heads,
      previousSignature: 'prev',
    };
    const payload = digestPayload(unsigned);
    expect(payload.length).toBeGreaterThan(4096); // past KMS's RAW limit: hence DIGEST
    const kms = mockClient(KMSClient);
    kms.on(SignCommand).callsFake((input) => {
      // What KMS does with a DIGEST message: sign the given SHA-256 with the key it keeps.
      expect(input).toMatchObject({
        KeyId: 'alias/gatehouse-audit',
        MessageType: 'DIGEST',
        SigningAlgorithm: 'ECDSA_SHA_256',
      });
      expect(Buffer.from(input.Message)).toEqual(createHash('sha256').update(payload).digest());
      return { Signature: sign('sha256', payload, privateKey) };
    });
    kms.on(GetPublicKeyCommand).resolves({ PublicKey: publicKey.export({ type: 'spki', format: 'der' }) });
    const signer = new KmsDigestSigner(new KMSClient({ region: 'eu-west-1' }), 'alias/gatehouse-audit');
    const digest = await signDigest(unsigned, signer);
    expect(verifyDigestSignature(digest, await signer.publicKeyPem())).toBe(true);
    expect(verifyDigestSignature({ ...digest, seq: 4 }, await signer.publicKeyPem())).toBe(false);
    kms.restore();
  });
});
