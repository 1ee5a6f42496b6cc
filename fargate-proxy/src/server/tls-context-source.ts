import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { Logger } from '../observability/logger';
import type { SecretReader, SecretValue } from '../upstream/secret-reader';

/**
 * The gateway's TLS certificate and key, as the secure context new client connections are given. The
 * handshake reads `current` for each connection, so a swapped context reaches new connections only;
 * sessions already encrypted keep the one they started with.
 */
export interface TlsContextSource {
  readonly current: tls.SecureContext;
  close(): void;
}

/** The certificate could not be had at start: the gateway does not start without it. */
export class TlsCertificateError extends Error {
  override readonly name = 'TlsCertificateError';
}

/** A context from a PEM chain and key; throws when they do not parse or do not belong together. */
export function secureContextOf(
  certificate: string | Buffer,
  privateKey: string | Buffer,
): tls.SecureContext {
  return tls.createSecureContext({ cert: certificate, key: privateKey, minVersion: 'TLSv1.2' });
}

/** Facts about the leaf certificate for logs (never the key). */
function certificateFacts(certificate: string): Record<string, string> {
  try {
    const leaf = new X509Certificate(certificate);
    return { subject: leaf.subject, fingerprint256: leaf.fingerprint256, validTo: leaf.validTo };
  } catch {
    return {};
  }
}

/** Certificate and key files, read once at start (local mode; a certificate baked into an image). */
export class FileTlsContextSource implements TlsContextSource {
  readonly current: tls.SecureContext;

  constructor(certFile: string, keyFile: string) {
    try {
      this.current = secureContextOf(readFileSync(certFile), readFileSync(keyFile));
    } catch (error) {
      throw new TlsCertificateError(
        `cannot use the TLS certificate ${certFile} with key ${keyFile}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  close(): void {}
}

/** The secret's JSON: `{"certificate": PEM chain, "privateKey": PEM}`. Errors never quote it. */
function parseCertificateSecret(text: string): { certificate: string; privateKey: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the input; the input holds a private key.
    throw new Error('the secret is not JSON');
  }
  const fields = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  if (typeof fields.certificate !== 'string' || typeof fields.privateKey !== 'string')
    throw new Error('the secret must hold {"certificate": PEM chain, "privateKey": PEM}');
  return { certificate: fields.certificate, privateKey: fields.privateKey };
}

interface LoadedCertificate {
  context: tls.SecureContext;
  version: string;
  facts: Record<string, string>;
}

/** What tells versions apart: the store's VersionId, else the SHA-256 of the text. */
function versionOf(value: SecretValue): string {
  return value.version ?? createHash('sha256').update(value.text).digest('hex');
}

/** A secure context from one version of the secret; throws when it is not a usable certificate and key. */
function loadCertificate(value: SecretValue): LoadedCertificate {
  const { certificate, privateKey } = parseCertificateSecret(value.text);
  return {
    context: secureContextOf(certificate, privateKey),
    version: versionOf(value),
    facts: certificateFacts(certificate),
  };
}

export interface SecretTlsContextSourceOptions {
  /** How often the secret is read again to pick up a rotation. */
  refreshMs: number;
  log: Logger;
}

/**
 * The certificate and key from a secret (Secrets Manager in AWS), read at start (the gateway does not
 * start without them) and every `refreshMs`. A new version that is good replaces the context for new
 * connections; a secret that cannot be read, or a version that does not make a context (bad PEM, a key
 * that is not the certificate's), leaves the certificate in use and is logged at every attempt.
 */
export class SecretTlsContextSource implements TlsContextSource {
  private context: tls.SecureContext;
  /** The version in use (VersionId, else the SHA-256 of the secret's text). */
  private version: string;
  private readonly timer: NodeJS.Timeout;
  private refreshing: Promise<void> | undefined;

  private constructor(
    private readonly secret: SecretReader,
    initial: LoadedCertificate,
    private readonly options: SecretTlsContextSourceOptions,
  ) {
    this.context = initial.context;
    this.version = initial.version;
    this.timer = setInterval(() => void this.refresh(), options.refreshMs);
    this.timer.unref();
  }

  static async open(
    secret: SecretReader,
    options: SecretTlsContextSourceOptions,
  ): Promise<SecretTlsContextSource> {
    let initial: LoadedCertificate;
    try {
      initial = loadCertificate(await secret.read());
    } catch (error) {
      throw new TlsCertificateError(
        `the gateway does not start without its TLS certificate: cannot load secret ${secret.name}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    options.log.info('TLS certificate loaded', { secret: secret.name, ...initial.facts });
    return new SecretTlsContextSource(secret, initial, options);
  }

  get current(): tls.SecureContext {
    return this.context;
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** Reads the secret now and swaps the context if a new, good version is there (the timer calls this). */
  refresh(): Promise<void> {
    this.refreshing ??= this.reload().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async reload(): Promise<void> {
    try {
      const value = await this.secret.read();
      if (versionOf(value) === this.version) return;
      const loaded = loadCertificate(value);
      this.context = loaded.context;
      this.version = loaded.version;
      this.options.log.info('TLS certificate rotated: new connections get the new one', {
        secret: this.secret.name,
        ...loaded.facts,
      });
    } catch (error) {
      this.options.log.error('cannot refresh the TLS certificate; the one in use stays', {
        secret: this.secret.name,
        error: (error as Error).message,
      });
    }
  }
}
