import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { type GatewayConfig, parseGatewayConfig } from '../fargate-proxy/src/config';
import type { Logger } from '../fargate-proxy/src/observability/logger';
import { type RunningGateway, startGateway } from '../fargate-proxy/src/server/primary';
import { StaticCredentialSource } from '../fargate-proxy/src/upstream/credential-source';
import { startApprovalsPage } from './approvals-page/server';
import { ensureAuditSigningKey, ensureMaskingTokenKey, ensureSelfSignedCertificate } from './certificates';
import { DEMO_DATABASE, seedDemoDatabase } from './demo-data';
import { type RunningPostgres, startEmbeddedPostgres } from './embedded-postgres';
import { freePort } from './free-port';
import type { LoopbackPage } from './loopback-page';
import { startRecordingsPage } from './recordings-page/server';
import { type LocalIssuer, localIssuerConfig, openLocalIssuer } from './token-issuer';

export interface LocalModeOptions {
  /** Where local mode keeps its state (keys, certificate, database files). */
  home: string;
  host: string;
  port: number;
  healthPort: number;
  /** The recordings page's port on 127.0.0.1 (0: any free port). */
  replayPort: number;
  /** The approval page's port on 127.0.0.1 (0: any free port). */
  approvalsPort: number;
  workers: number;
  /** Front this server instead of starting the embedded one: postgres://user:password@host:port/db?sslmode=… */
  upstreamUrl?: string;
  /** Extra PostgreSQL settings for the embedded server. */
  postgresSettings?: Record<string, string | number>;
  /** The policy file; by default `<home>/policy.yaml`, created from local/demo-policy.yaml. */
  policyFile?: string;
  logLevel: GatewayConfig['logLevel'];
  log: Logger;
}

/** The demo policy ships with the sources (beside this file, or beside its compiled copy's source). */
const DEMO_POLICY = [
  path.join(__dirname, 'demo-policy.yaml'),
  path.resolve(__dirname, '..', '..', 'local', 'demo-policy.yaml'),
].find((candidate) => existsSync(candidate))!;

function ensureDemoPolicy(home: string): string {
  const file = path.join(home, 'policy.yaml');
  if (!existsSync(file)) copyFileSync(DEMO_POLICY, file);
  return file;
}

export interface LocalMode {
  gateway: RunningGateway;
  issuer: LocalIssuer;
  postgres?: RunningPostgres;
  config: GatewayConfig;
  certFile: string;
  database: string;
  /** The recordings page's address, with its per-run secret. */
  recordingsUrl: string;
  /** The approval page's address, with its per-run secret. */
  approvalsUrl: string;
  stop(): Promise<void>;
}

interface UpstreamChoice {
  host: string;
  port: number;
  user: string;
  password: string;
  tls: 'disable' | 'verify-full';
  caFile?: string;
  database: string;
}

/** Parses `--upstream`; only `disable` and `verify-full` are accepted, as anything between is not safe. */
export function parseUpstreamUrl(url: string): UpstreamChoice {
  const parsed = new URL(url);
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:')
    throw new Error(`--upstream must be a postgres:// URL, got ${parsed.protocol}`);
  const sslmode = parsed.searchParams.get('sslmode') ?? 'disable';
  if (sslmode !== 'disable' && sslmode !== 'verify-full') {
    throw new Error(
      `--upstream sslmode=${sslmode} is not supported: use verify-full (with sslrootcert=FILE) or disable`,
    );
  }
  const caFile = parsed.searchParams.get('sslrootcert') ?? undefined;
  if (sslmode === 'verify-full' && !caFile)
    throw new Error('--upstream with sslmode=verify-full needs sslrootcert=FILE');
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 5432),
    user: decodeURIComponent(parsed.username || 'postgres'),
    password: decodeURIComponent(parsed.password),
    tls: sslmode,
    caFile,
    database: decodeURIComponent(parsed.pathname.slice(1)) || 'postgres',
  };
}

/** Starts everything local mode needs: issuer, certificate, PostgreSQL (embedded unless given), gateway. */
export async function startLocalMode(options: LocalModeOptions): Promise<LocalMode> {
  const { home, log } = options;
  // The home stays traversable so the database's service account (when run as root) reaches pgdata;
  // the secrets inside live in 0700 subdirectories.
  mkdirSync(home, { recursive: true, mode: 0o755 });
  const issuer = openLocalIssuer(path.join(home, 'issuer'));
  const certificate = await ensureSelfSignedCertificate(path.join(home, 'tls'));
  let postgres: RunningPostgres | undefined;
  let upstream: UpstreamChoice;
  if (options.upstreamUrl) {
    upstream = parseUpstreamUrl(options.upstreamUrl);
  } else {
    postgres = await startEmbeddedPostgres({
      dataDir: path.join(home, 'pgdata'),
      port: await freePort(),
      settings: options.postgresSettings,
    });
    try {
      if (await seedDemoDatabase(postgres)) log.info('demo database created', { database: DEMO_DATABASE });
    } catch (error) {
      await postgres.stop();
      throw error;
    }
    upstream = {
      host: postgres.host,
      port: postgres.port,
      user: postgres.user,
      password: postgres.password,
      tls: 'disable',
      database: DEMO_DATABASE,
    };
  }
  const approvalsDirectory = path.join(home, 'approvals');
  let approvals: LoopbackPage;
  try {
    // Before the gateway: webhook messages link to the page, whose port may be chosen now.
    approvals = await startApprovalsPage({ directory: approvalsDirectory, port: options.approvalsPort });
  } catch (error) {
    await postgres?.stop();
    throw error;
  }
  const slackWebhookFile = path.join(home, 'slack-webhook-url');
  const config = parseGatewayConfig({
    listen: { host: options.host, port: options.port },
    workers: options.workers,
    tls: { certFile: certificate.certFile, keyFile: certificate.keyFile },
    upstream: { host: upstream.host, port: upstream.port, tls: upstream.tls, caFile: upstream.caFile },
    credentials: { source: 'env', user: upstream.user },
    issuers: [localIssuerConfig(issuer)],
    policy: { file: options.policyFile ?? ensureDemoPolicy(home), reloadCheckMs: 1000 },
    audit: {
      directory: path.join(home, 'audit'),
      signingKeyFile: ensureAuditSigningKey(path.join(home, 'keys', 'audit-signing-key.pem')),
      writer: 'local',
    },
    masking: { tokenKeyFile: ensureMaskingTokenKey(path.join(home, 'keys', 'masking-token.key')) },
    sessions: { directory: path.join(home, 'sessions') },
    approvals: {
      directory: approvalsDirectory,
      pageUrl: `http://127.0.0.1:${approvals.port}/`,
      ...(existsSync(slackWebhookFile) ? { slackWebhookFile } : {}),
    },
    health: { host: '127.0.0.1', port: options.healthPort, emfIntervalMs: 0 },
    cancel: {},
    drainMs: 5000,
    logLevel: options.logLevel,
  });
  let gateway: RunningGateway;
  try {
    gateway = await startGateway(config, {
      log,
      workerEnv: { GATEHOUSE_UPSTREAM_PASSWORD: upstream.password },
      credentials: new StaticCredentialSource({ user: upstream.user, password: upstream.password }),
    });
  } catch (error) {
    await approvals.close();
    await postgres?.stop();
    throw error;
  }
  let page: LoopbackPage;
  try {
    page = await startRecordingsPage({ store: config.audit.directory, port: options.replayPort });
  } catch (error) {
    await approvals.close();
    await gateway.stop();
    await postgres?.stop();
    throw error;
  }
  return {
    gateway,
    issuer,
    postgres,
    config,
    certFile: certificate.certFile,
    database: upstream.database,
    recordingsUrl: page.url,
    approvalsUrl: approvals.url,
    stop: async () => {
      await page.close();
      await approvals.close();
      await gateway.stop();
      await postgres?.stop();
    },
  };
}
