import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import type { PolicyReloadRecord, RecordBody } from '../../../core/audit/records';
import { approvalDeskFor } from '../approval/approval-desk-for';
import { AuditWriter } from '../audit/audit-writer';
import { AuditSelfCheck } from '../audit/self-check';
import { FailureThrottle } from '../auth/failure-throttle';
import { JwksTokenVerifier } from '../auth/token-verifier';
import type { CancelForwarder } from '../cancel/cancel-router';
import { CancelRouter } from '../cancel/cancel-router';
import type { GatewayConfig } from '../config';
import { createMaskingPlanner } from '../masking/masking-service';
import { TokenVault } from '../masking/token-vault';
import type { Logger } from '../observability/logger';
import { Metrics } from '../observability/metrics';
import { ParsePool } from '../policy/parse-pool';
import { PolicyEngine } from '../policy/policy-engine';
import { openPolicySource } from '../policy/policy-source-for';
import { StatementAnalyser } from '../policy/statement-analyser';
import { StatementPacer } from '../policy/statement-pacer';
import { authenticationCleartextPassword } from '../protocol/backend-messages';
import { RecordingWriter } from '../recording/recording-writer';
import { IdleSweeper } from '../session/idle-sweeper';
import type { StatementGate } from '../session/statement-gate';
import { openSessionRegistry, type RegistryLocation } from '../sessions/registry-for';
import { SessionPublisher } from '../sessions/session-publisher';
import { readCaBundle } from '../upstream/ca-bundle';
import type { CredentialSource } from '../upstream/credential-source';
import { credentialSourceFor } from '../upstream/credential-source-for';
import type { UpstreamEndpoint } from '../upstream/upstream-connection';
import { auditShipper, cloudWatchCopy, digestSigner, strictStore } from './audit-services';
import { GatewayServer } from './gateway-server';
import { openTlsContextSource } from './tls-context-for';

export interface GatewayProcess {
  server: GatewayServer;
  metrics: Metrics;
  verifier: JwksTokenVerifier;
  cancelRouter: CancelRouter;
  upstream: UpstreamEndpoint;
  policy: PolicyEngine;
  audit: AuditWriter;
  /** Stops the policy file checks and the parser threads, and writes the last audit digest. */
  close(): Promise<void>;
}

export interface GatewayProcessOptions {
  config: GatewayConfig;
  workerSlot: number;
  instanceTag: number;
  forwarder?: CancelForwarder;
  gate?: StatementGate;
  log: Logger;
  /** Overrides the configured credential source (tests, local mode). */
  credentials?: CredentialSource;
}

/** Tokens a process remembers for `token-equality` filters (about 100 bytes each). */
const TOKEN_VAULT_ENTRIES = 200_000;

/** The masking token key: from its file, or drawn for this process alone (with a warning). */
function readTokenKey(file: string | undefined, log: Logger): Buffer {
  if (!file) {
    log.info('masking.tokenKeyFile is not set: masking tokens are consistent within this process only');
    return randomBytes(32);
  }
  const key = readFileSync(file);
  if (key.length < 32)
    throw new Error(`masking.tokenKeyFile ${file} holds ${key.length} bytes; at least 32 are needed`);
  return key;
}

/** The upstream server as the configuration names it, with its CA bundle read (file or S3 object). */
export async function upstreamEndpoint(config: GatewayConfig): Promise<UpstreamEndpoint> {
  const { upstream } = config;
  return {
    host: upstream.host,
    port: upstream.port,
    tls: upstream.tls,
    ca: upstream.caFile
      ? readFileSync(upstream.caFile)
      : upstream.caS3 && (await readCaBundle(upstream.caS3)),
    serverName: upstream.serverName,
    connectTimeoutMs: upstream.connectTimeoutMs,
  };
}

/**
 * Builds everything one gateway process (a worker, or the only process) needs, from its configuration.
 * Rejects when the policy or the TLS certificate cannot be had (fetched from S3 or Secrets Manager).
 */
export async function createGatewayProcess(options: GatewayProcessOptions): Promise<GatewayProcess> {
  const { config, log } = options;
  const metrics = new Metrics();
  // One writer per worker slot: stable across restarts, so a new process picks up the old one's spool.
  const writer = `${config.audit.writer ?? hostname()}-w${options.workerSlot}`;
  // The certificate and the policy first: when either cannot be had, nothing else has been started.
  const tlsContext = config.tls && (await openTlsContextSource(config.tls, log));
  const policyLog = `policy-${writer}`;
  // Set once the audit writer exists; reloads (applied or rejected) only come from later checks.
  let recordReload: (record: RecordBody<PolicyReloadRecord>) => void = () => undefined;
  const policySource = await openPolicySource(config.policy, log, ({ error, digest, revision }) => {
    metrics.data.policyReloadFailures++;
    recordReload({
      type: 'policy-reload',
      time: Date.now() * 1000,
      digest,
      previous: policySource.current.digest,
      outcome: 'rejected',
      error,
      ...revision,
    });
  }).catch((error: unknown) => {
    tlsContext?.close();
    throw error;
  });
  const verifier = new JwksTokenVerifier(config.issuers);
  const directory = path.join(config.audit.directory, writer);
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  const shipper = auditShipper(config, directory, writer, log, metrics);
  const cloudwatch = cloudWatchCopy(config, writer, log, metrics);
  // Whatever an earlier process of this writer left sealed goes first.
  void shipper?.ship();
  const selfCheck = new AuditSelfCheck(directory);
  const audit = new AuditWriter({
    directory,
    writer,
    signer: digestSigner(config),
    flushMs: config.audit.flushMs,
    digestIntervalMs: config.audit.digestIntervalMs,
    sessionEndDigestMs: config.audit.sessionEndDigestMs,
    log,
    onSpoolFailure: () => metrics.data.auditSpoolFailures++,
    strict: strictStore(config, directory),
    onDigest: () => void shipper?.ship(),
    onDigestWritten: (name, bytes, digest) => selfCheck.digestWritten(name, bytes, digest),
    onSpooled: cloudwatch && ((lines) => cloudwatch.add(lines)),
    persistentChains: [policyLog],
    recording: config.recording.enabled
      ? {
          writer: new RecordingWriter({
            directory,
            flushMs: config.recording.flushMs,
            maxPendingBytes: config.recording.maxPendingBytes,
            log,
          }),
          caps: config.recording,
        }
      : undefined,
  });
  recordReload = (record) => audit.append<PolicyReloadRecord>(policyLog, record);
  policySource.onChange(({ previous, current, revision }) =>
    recordReload({
      type: 'policy-reload',
      time: Date.now() * 1000,
      digest: current.digest,
      previous: previous.digest,
      outcome: 'applied',
      ...revision,
    }),
  );
  const selfCheckTimer =
    config.audit.selfCheckMs > 0
      ? setInterval(() => {
          const result = selfCheck.check();
          metrics.data.auditSelfChecks++;
          metrics.data.auditSelfCheckProblems += result.problems.length;
          if (result.problems.length > 0)
            log.error('audit self-check: signed files changed before shipping', {
              problems: result.problems,
            });
        }, config.audit.selfCheckMs).unref()
      : undefined;
  const parsePool = new ParsePool(1);
  const now = () => new Date();
  const upstream = await upstreamEndpoint(config);
  const credentials = options.credentials ?? credentialSourceFor(config, log);
  const masking = createMaskingPlanner(upstream, credentials, {
    catalogueTtlMs: config.masking.catalogueTtlMs,
    planCacheEntries: config.policy.cacheEntries,
  });
  const maskingTokenKey = readTokenKey(config.masking.tokenKeyFile, log);
  const policy = new PolicyEngine(policySource, {
    analyser: new StatementAnalyser({
      cacheEntries: config.policy.cacheEntries,
      offloadChars: config.policy.offloadBytes,
      pool: parsePool,
    }),
    pacer: new StatementPacer(),
    masking: masking.planner,
    maskingTokenKey,
    tokenVault: new TokenVault(TOKEN_VAULT_ENTRIES),
    approvals: config.approvals && approvalDeskFor(config.approvals, log),
    maxStatementChars: config.policy.maxStatementBytes,
    now,
  });
  const cancelRouter = new CancelRouter(options.instanceTag, options.workerSlot, options.forwarder);
  const server = new GatewayServer({
    host: config.listen.host,
    port: config.listen.port,
    maxConnections: config.limits.maxConnections,
    metrics,
    log,
    dependencies: {
      handshake: {
        proxyProtocol: config.proxyProtocol.enabled,
        allowedVpcEndpoints: config.proxyProtocol.allowedVpcEndpoints,
        // Read for each connection: a rotated certificate reaches new connections, open ones keep theirs.
        get secureContext() {
          return tlsContext?.current;
        },
        allowDirectTls: config.tls?.allowDirect ?? false,
        allowCleartextPasswordWithoutTls: config.allowCleartextPasswordWithoutTls,
        maxStartupPacketBytes: config.limits.maxStartupPacketBytes,
        maxTokenBytes: config.limits.maxTokenBytes,
        passwordRequest: authenticationCleartextPassword(),
      },
      limits: config.limits,
      verifier,
      credentials,
      upstream,
      cancelRouter,
      policy,
      audit,
      authThrottle: new FailureThrottle(config.limits.maxAuthFailures, config.limits.authFailureWindowMs),
      gate: options.gate,
      idle: IdleSweeper.forTimeout(config.limits.idleTimeoutMs),
      metrics,
      log,
    },
  });
  const publisher =
    config.sessions &&
    new SessionPublisher({
      registry: openSessionRegistry(config.sessions as RegistryLocation),
      writer,
      sessions: server,
      refreshMs: config.sessions.refreshMs,
      log,
    });
  return {
    server,
    metrics,
    verifier,
    cancelRouter,
    upstream,
    policy,
    audit,
    close: async () => {
      clearInterval(selfCheckTimer);
      policySource.close();
      tlsContext?.close();
      masking.close();
      await publisher?.stop();
      await parsePool.close();
      await audit.close();
      await cloudwatch?.close();
      // The last digest and what it lists go out within the drain period; what does not stays for
      // the next process of this writer.
      if (shipper) {
        await Promise.race([shipper.ship(), new Promise((resolve) => setTimeout(resolve, config.drainMs))]);
        await shipper.stop();
      }
    },
  };
}
