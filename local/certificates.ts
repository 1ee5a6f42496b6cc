import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generate } from 'selfsigned';

export interface CertificatePair {
  certFile: string;
  keyFile: string;
  cert: string;
}

/**
 * A self-signed certificate for `localhost`/127.0.0.1, generated once under `directory` and reused, so
 * clients that pin it (sslmode=verify-full with sslrootcert) keep working across restarts.
 */
export async function ensureSelfSignedCertificate(
  directory: string,
  commonName = 'localhost',
): Promise<CertificatePair> {
  const certFile = path.join(directory, 'server.crt');
  const keyFile = path.join(directory, 'server.key');
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    const notBeforeDate = new Date(Date.now() - 60_000);
    const pems = await generate([{ name: 'commonName', value: commonName }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      notBeforeDate,
      notAfterDate: new Date(notBeforeDate.getTime() + 825 * 86_400_000),
      extensions: [
        { name: 'basicConstraints', cA: true },
        { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: [
            { type: 2, value: commonName },
            { type: 2, value: 'localhost' },
            { type: 7, ip: '127.0.0.1' },
            { type: 7, ip: '::1' },
          ],
        },
      ],
    });
    writeFileSync(keyFile, pems.private, { mode: 0o600 });
    writeFileSync(certFile, pems.cert);
  }
  return { certFile, keyFile, cert: readFileSync(certFile, 'utf8') };
}

/** The key that signs audit digests in local mode and tests: ECDSA P-256, created once. */
export function ensureAuditSigningKey(file: string): string {
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  }
  return file;
}

/** The masking token key of local mode: 32 random bytes, kept so tokens stay the same across runs. */
export function ensureMaskingTokenKey(file: string): string {
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, randomBytes(32), { mode: 0o600 });
  }
  return file;
}
