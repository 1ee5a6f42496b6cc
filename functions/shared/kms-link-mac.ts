import { GenerateMacCommand, KMSClient, VerifyMacCommand } from '@aws-sdk/client-kms';
import type { LinkMac } from '../../core/approval/approval-link';

/**
 * Link MACs made and checked by KMS (an HMAC_256 key, HMAC_SHA_256): the key never leaves KMS, so
 * neither function holds anything that could forge a link, and key policy says who may do which.
 */
export class KmsLinkMac implements LinkMac {
  constructor(
    private readonly keyId: string,
    private readonly client: KMSClient = new KMSClient({}),
  ) {}

  async sign(message: Uint8Array): Promise<Uint8Array> {
    const answer = await this.client.send(
      new GenerateMacCommand({ KeyId: this.keyId, Message: message, MacAlgorithm: 'HMAC_SHA_256' }),
    );
    if (!answer.Mac) throw new Error('KMS GenerateMac returned no MAC');
    return answer.Mac;
  }

  async verify(message: Uint8Array, mac: Uint8Array): Promise<boolean> {
    try {
      const answer = await this.client.send(
        new VerifyMacCommand({ KeyId: this.keyId, Message: message, Mac: mac, MacAlgorithm: 'HMAC_SHA_256' }),
      );
      return answer.MacValid === true;
    } catch (error) {
      // KMS answers a wrong MAC with an exception, not MacValid: false.
      if (error instanceof Error && error.name === 'KMSInvalidMacException') return false;
      throw error;
    }
  }
}
