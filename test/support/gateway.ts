import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { type GatewayConfigInput, parseGatewayConfig } from '../../fargate-proxy/src/config';
import { silentLogger } from '../../fargate-proxy/src/observability/logger';
import { type RunningGateway, startGateway } from '../../fargate-proxy/src/server/primary';
import type { StatementGate } from '../../fargate-proxy/src/session/statement-gate';
import {
  type CredentialSource,
  StaticCredentialSource,
} from '../../fargate-proxy/src/upstream/credential-source';
import { localIssuerConfig } from '../../local/token-issuer';
import { auditKeyFile, testCertificate, testHome, testIssuer, testUpstream } from './environment';
import { everythingPolicyFile } from './test-policy';

export interface TestGateway extends RunningGateway {
  /** A fresh token of the test issuer for `subject`. */
  token(subject?: string, ttlSeconds?: number, extra?: Record<string, unknown>): string;
  /** node-postgres / postgres.js connection options through the gateway. */
  connection(subject?: string): {
    host: string;
    port: number;
    user: string;
    password: string;
    database: string;
  };
}

/** Test overrides: any part of the configuration, at any depth. */
export type ConfigOverrides = {
  [K in keyof GatewayConfigInput]?: GatewayConfigInput[K] extends object | undefined
    ? Partial<NonNullable<GatewayConfigInput[K]>>
    : GatewayConfigInput[K];
};

/** Deep-merges plain objects; arrays and values in `override` win. */
function merge(base: Record<string, unknown>, override: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const current = out[key];
    out[key] =
      value &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      current &&
      typeof current === 'object' &&
      !Array.isArray(current)
        ? merge(current as Record<string, unknown>, value as Record<string, unknown>)
        : value;
  }
  return out;
}

/** The configuration a test gateway starts from: in-process, TLS on, upstream = the suite's server. */
export function baseTestConfig(overrides: ConfigOverrides = {}): GatewayConfigInput {
  const upstream = testUpstream();
  const issuer = testIssuer();
  const base: GatewayConfigInput = {
    listen: { host: '127.0.0.1', port: 0 },
    workers: 0,
    tls: testCertificate(),
    upstream: { host: upstream.host, port: upstream.port, tls: 'disable' },
    credentials: { source: 'env', user: upstream.user },
    issuers: [localIssuerConfig(issuer)],
    policy: { file: everythingPolicyFile() },
    // Each gateway writes its own store; tests that read it pass `audit.directory`.
    audit: {
      directory: mkdtempSync(path.join(testHome(), 'audit-')),
      signingKeyFile: auditKeyFile(),
      flushMs: 20,
      digestIntervalMs: 1000,
    },
    health: { host: '127.0.0.1', port: 0, emfIntervalMs: 0 },
    drainMs: 1000,
    logLevel: 'error',
  };
  return merge(base as Record<string, unknown>, overrides as Record<string, unknown>) as GatewayConfigInput;
}

export async function startTestGateway(
  overrides: ConfigOverrides = {},
  gate?: StatementGate,
  credentials?: CredentialSource,
): Promise<TestGateway> {
  const upstream = testUpstream();
  const issuer = testIssuer();
  const config = parseGatewayConfig(baseTestConfig(overrides));
  const running = await startGateway(config, {
    log: silentLogger,
    gate,
    credentials:
      credentials ?? new StaticCredentialSource({ user: upstream.user, password: upstream.password }),
  });
  const token = (subject = 'test-job', ttlSeconds = 600, extra: Record<string, unknown> = {}) =>
    issuer.sign({ ...extra, sub: subject }, ttlSeconds);
  return {
    ...running,
    token,
    connection: (subject = 'test-job') => ({
      host: '127.0.0.1',
      port: running.port,
      user: subject,
      password: token(subject),
      database: 'postgres',
    }),
  };
}

/**
 * A node-postgres client connected through the gateway as `subject` (TLS, the test certificate
 * accepted); errors after connecting are the test's to observe, not the process's.
 */
export async function connectThrough(gateway: TestGateway, subject: string): Promise<Client> {
  const client = new Client({ ...gateway.connection(subject), ssl: { rejectUnauthorized: false } });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}
