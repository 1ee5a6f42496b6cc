import type { GatewayConfig } from '../config';
import type { Logger } from '../observability/logger';
import { loadConfiguredPolicy } from '../policy/policy-source-for';
import { openTlsContextSource } from './tls-context-for';

/**
 * What must be at hand before any worker starts: the policy (a file that loads, or the S3 object,
 * fetched and loaded) and the TLS certificate (files, or the secret). Throws the error that says why
 * not, so the gateway fails to start instead of serving without them or restarting workers forever.
 */
export async function checkStartupPrerequisites(config: GatewayConfig, log: Logger): Promise<void> {
  await loadConfiguredPolicy(config.policy);
  if (config.tls) (await openTlsContextSource(config.tls, log)).close();
}
