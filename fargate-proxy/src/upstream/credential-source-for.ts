import { type GatewayConfig, upstreamPasswordFromEnv } from '../config';
import type { Logger } from '../observability/logger';
import { type CredentialSource, FileCredentialSource, StaticCredentialSource } from './credential-source';
import { secretsManagerReader } from './secret-reader';
import { SecretsManagerCredentialSource } from './secrets-manager-credential-source';

/** The configured source of the gateway's upstream credential. */
export function credentialSourceFor(config: GatewayConfig, log: Logger): CredentialSource {
  const { credentials } = config;
  switch (credentials.source) {
    case 'file':
      return new FileCredentialSource(credentials.file);
    case 'secrets-manager':
      return new SecretsManagerCredentialSource(secretsManagerReader(credentials), {
        cacheMs: credentials.cacheMs,
        log,
      });
    case 'env':
      return new StaticCredentialSource({ user: credentials.user, password: upstreamPasswordFromEnv() });
  }
}
