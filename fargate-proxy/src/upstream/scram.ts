import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it: the user name in the
 * client-first message is ignored by the server and sent as `*`; no channel binding (`n,,`).
 * @see https://www.postgresql.org/docs/current/sasl-authentication.html
 */
export const SCRAM_MECHANISM = 'SCRAM-SHA-256';

export class ScramError extends Error {
  override readonly name = 'ScramError';
}

export interface ScramClient {
  /** The SASLInitialResponse payload. */
  readonly clientFirst: string;
  /** Given the server-first message, returns the client-final message. */
  continue(serverFirst: string): string;
  /** Checks the server signature in the server-final message: the server must prove it knows the secret. */
  finish(serverFinal: string): void;
}

function attributes(message: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const part of message.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) map.set(part[0]!, part.slice(2));
  }
  return map;
}

const hmac = (key: Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();

/**
 * @param user sent in the client-first message; PostgreSQL ignores it (the startup packet names the role),
 *   so it is `*` except in tests against the RFC's example.
 */
export function startScram(
  password: string,
  nonce: string = randomBytes(18).toString('base64'),
  user = '*',
): ScramClient {
  const clientFirstBare = `n=${user},r=${nonce}`;
  let expectedServerSignature: Buffer | undefined;
  return {
    clientFirst: `n,,${clientFirstBare}`,
    continue(serverFirst) {
      const attrs = attributes(serverFirst);
      const serverNonce = attrs.get('r');
      const salt = attrs.get('s');
      const iterations = Number(attrs.get('i'));
      if (!serverNonce?.startsWith(nonce) || serverNonce.length === nonce.length) {
        throw new ScramError('server nonce does not extend the client nonce');
      }
      if (!salt || !Number.isInteger(iterations) || iterations < 1) {
        throw new ScramError('malformed SCRAM server-first message');
      }
      // PostgreSQL applies SASLprep to the password; ASCII passwords (all we generate or store) are unchanged.
      const saltedPassword = pbkdf2Sync(
        password.normalize('NFKC'),
        Buffer.from(salt, 'base64'),
        iterations,
        32,
        'sha256',
      );
      const clientKey = hmac(saltedPassword, 'Client Key');
      const storedKey = createHash('sha256').update(clientKey).digest();
      const clientFinalWithoutProof = `c=biws,r=${serverNonce}`;
      const authMessage = `${clientFirstBare},${serverFirst},${clientFinalWithoutProof}`;
      const clientSignature = hmac(storedKey, authMessage);
      const proof = Buffer.alloc(clientKey.length);
      for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ clientSignature[i]!;
      expectedServerSignature = hmac(hmac(saltedPassword, 'Server Key'), authMessage);
      return `${clientFinalWithoutProof},p=${proof.toString('base64')}`;
    },
    finish(serverFinal) {
      const signature = attributes(serverFinal).get('v');
      if (expectedServerSignature === undefined || signature === undefined) {
        throw new ScramError('SCRAM exchange ended out of order');
      }
      const received = Buffer.from(signature, 'base64');
      if (
        received.length !== expectedServerSignature.length ||
        !timingSafeEqual(received, expectedServerSignature)
      ) {
        throw new ScramError(
          'server signature does not match: the upstream server did not prove it knows the password',
        );
      }
    },
  };
}

/** The MD5 password response: "md5" + md5(md5(password + user) + salt). */
export function md5PasswordResponse(user: string, password: string, salt: Buffer): string {
  const inner = createHash('md5')
    .update(password + user)
    .digest('hex');
  return `md5${createHash('md5').update(inner).update(salt).digest('hex')}`;
}
