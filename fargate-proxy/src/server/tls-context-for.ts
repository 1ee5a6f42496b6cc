import type { GatewayConfig } from '../config';
import type { Logger } from '../observability/logger';
import { secretsManagerReader } from '../upstream/secret-reader';
import { FileTlsContextSource, SecretTlsContextSource, type TlsContextSource } from './tls-context-source';

/**
 * The configured certificate source, loaded: files, or a Secrets Manager secret refreshed every
 * `refreshMs`. Throws TlsCertificateError when the certificate cannot be had (the gateway must not
 * start without the TLS it was configured with).
 */
export async function openTlsContextSource(
  tls: NonNullable<GatewayConfig['tls']>,
  log: Logger,
): Promise<TlsContextSource> {
  if (tls.secretsManager)
    return SecretTlsContextSource.open(secretsManagerReader(tls.secretsManager), {
      refreshMs: tls.secretsManager.refreshMs,
      log,
    });
  if (tls.certFile && tls.keyFile) return new FileTlsContextSource(tls.certFile, tls.keyFile);
  throw new Error('the TLS configuration names no certificate'); // the configuration schema requires one
}
