import type { GatewayConfigInput } from '../../fargate-proxy/src/config';
import { parseGatewayConfig } from '../../fargate-proxy/src/config';
import { type Logger, silentLogger } from '../../fargate-proxy/src/observability/logger';
import { type RunningGateway, startGateway } from '../../fargate-proxy/src/server/primary';
import type { CredentialSource } from '../../fargate-proxy/src/upstream/credential-source';
import { testIssuer } from '../support/environment';
import { baseTestConfig } from '../support/gateway';

export interface ConfiguredGateway extends RunningGateway {
  /** node-postgres connection options through the gateway, with a fresh token for `subject`. */
  connection(subject?: string): {
    host: string;
    port: number;
    user: string;
    password: string;
    database: string;
  };
}

/**
 * A gateway started from a whole configuration, as `gatehouse serve` starts one: the test support's
 * base configuration with some sections replaced rather than merged (a policy in S3 replaces the policy
 * file, a certificate secret the certificate files, a credential secret the `env` source). Without
 * `credentials`, the gateway builds the configured credential source itself.
 */
export async function startConfiguredGateway(
  replace: Partial<GatewayConfigInput>,
  options: { log?: Logger; credentials?: CredentialSource } = {},
): Promise<ConfiguredGateway> {
  const config = parseGatewayConfig({ ...baseTestConfig(), ...replace });
  const running = await startGateway(config, {
    log: options.log ?? silentLogger,
    credentials: options.credentials,
  });
  const issuer = testIssuer();
  return {
    ...running,
    connection: (subject = 'test-job') => ({
      host: '127.0.0.1',
      port: running.port,
      user: subject,
      password: issuer.sign({ sub: subject }, 600),
      database: 'postgres',
    }),
  };
}

/** Waits until `check` holds (polling every 50 ms), or fails naming what was awaited. */
export async function eventually(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
