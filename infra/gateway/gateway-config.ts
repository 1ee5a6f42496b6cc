import type { GatewayConfigInput } from '../../fargate-proxy/src/config';
import { GatewayServiceError } from './gateway-service-error';

/** Every key optional at every depth; arrays stay whole. */
type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/** Part of the gateway configuration (fargate-proxy/src/config.ts input): what the deployment leaves to its owner. */
export type GatewayConfigFragment = DeepPartial<GatewayConfigInput>;

/** What the construct decides, resolved to values (tokens included) the configuration names. */
export interface GatewayConfigDecisions {
  readonly port: number;
  readonly healthPort: number;
  readonly peerPort: number;
  /** The name whose A records are the tasks (the Cloud Map service's). */
  readonly peerDnsName: string;
  readonly drainSeconds: number;
  /** Milliseconds: the load balancer's idle timeout, which the session idle timeout must stay under. */
  readonly loadBalancerIdleTimeoutMs: number;
  /** Milliseconds: the TCP keepalive the load balancer's idle timeout was chosen for. */
  readonly tcpKeepAliveMs: number;
  readonly spoolDirectory: string;
  readonly tlsSecretId: string;
  readonly credentialsSecretId: string;
  readonly policy: { readonly bucket: string; readonly key: string };
  readonly audit: {
    readonly bucket: string;
    readonly prefix: string;
    readonly kmsKeyId: string;
    readonly signingKeyId: string;
    readonly logGroup?: string;
  };
  readonly table: string;
  readonly approvals?: { readonly table: string; readonly stateMachineArn: string };
}

/** The gateway's defaults this construct checks against (fargate-proxy/src/config.ts). */
const DEFAULT_IDLE_TIMEOUT_MS = 3_600_000; // limits.idleTimeoutMs: 1 hour
const DEFAULT_EMF_INTERVAL_MS = 60_000; // health.emfIntervalMs: 1 minute
/** The scaling metric is read per minute: the gateway must log it at least that often. */
const MAX_EMF_INTERVAL_MS = 60_000;

/**
 * Configuration keys the fragment may not set, and why: the construct decides them (from the load
 * balancer, the task definition or the resources it grants), or they would undo a decision.
 */
const DECIDED: Record<string, string> = {
  listen: 'the gateway listens on all addresses on loadBalancing.port',
  'health.host': 'the health server listens on all addresses on the healthPort prop',
  'health.port': 'set the healthPort prop',
  'proxyProtocol.enabled': 'the load balancer always sends Proxy Protocol v2',
  'limits.tcpKeepAliveMs': 'it is the network’s keepAlive (loadBalancing.keepAlive)',
  'cancel.peerHost': 'the peer port listens on all addresses (admitted from the service only)',
  'cancel.peerPort': 'set the peerPort prop',
  'cancel.peers': 'the tasks find each other in Cloud Map (cancel.peerDiscovery)',
  'cancel.peerDiscovery.dnsName':
    'the tasks’ Cloud Map service; set the peerNamespace or peerServiceName prop',
  'cancel.peerDiscovery.port': 'set the peerPort prop',
  drainMs: 'it is the load balancer’s deregistration delay (loadBalancing.drain)',
  allowCleartextPasswordWithoutTls: 'tokens are passwords: a deployment accepts them over TLS only',
  credentials: 'the upstream credentials are the upstreamCredentials secret',
  'tls.certFile': 'the certificate is the tlsCertificate secret',
  'tls.keyFile': 'the certificate is the tlsCertificate secret',
  'tls.secretsManager': 'the certificate is the tlsCertificate secret',
  'policy.file': 'the policy is the policy object',
  'policy.s3': 'the policy is the policy object',
  'audit.directory': 'the spool is the task’s spool volume',
  'audit.signingKeyFile': 'digests are signed with the signingKey',
  'audit.kmsSigningKey': 'digests are signed with the signingKey',
  'audit.strict.dynamodb': 'strict records go to the table prop',
  'audit.ship.s3.bucket': 'audit files go to the audit prop',
  'audit.ship.s3.prefix': 'set audit.prefix on the construct',
  'audit.ship.s3.kmsKeyId': 'audit files are encrypted with the dataKey',
  'audit.ship.s3.endpoint': 'the task reaches AWS’s own endpoints',
  'audit.ship.s3.forcePathStyle': 'the task reaches AWS’s own endpoints',
  'audit.cloudwatch.logGroup': 'the copy goes to the auditLogGroup prop',
  'audit.cloudwatch.endpoint': 'the task reaches AWS’s own endpoints',
  'sessions.directory': 'live sessions are published to the table prop',
  'sessions.dynamodb': 'live sessions are published to the table prop',
  'approvals.directory': 'approvals are the approvals prop',
  'approvals.dynamodb': 'approvals are the approvals prop',
  'approvals.workflow': 'approvals are the approvals prop',
  'approvals.slackWebhookFile': 'local mode only: on AWS the approvals prop notifies',
  'approvals.pageUrl': 'local mode only: on AWS the approvals prop notifies',
};

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every leaf path of `value` (arrays are leaves), dotted. */
function leaves(value: Json, prefix = ''): string[] {
  return Object.entries(value).flatMap(([key, child]) => {
    const at = prefix ? `${prefix}.${key}` : key;
    return isObject(child) && Object.keys(child).length > 0 ? leaves(child, at) : [at];
  });
}

function at(value: Json, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((node, key) => (isObject(node) ? node[key] : undefined), value);
}

/** Deep merge of plain objects; the two never set the same leaf (checked before). */
function merge(base: Json, extra: Json): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    out[key] = isObject(current) && isObject(value) ? merge(current, value) : value;
  }
  return out;
}

/**
 * The gateway's configuration: the fragment plus the construct's decisions. Refuses a fragment that
 * sets a decided key, lacks what the gateway cannot start without, or would not fit the load balancer
 * and the scaling.
 */
export function gatewayConfig(fragment: GatewayConfigFragment, decided: GatewayConfigDecisions): Json {
  const given = fragment as Json;
  for (const leaf of leaves(given)) {
    const rule = Object.keys(DECIDED).find((key) => leaf === key || leaf.startsWith(`${key}.`));
    if (rule) {
      throw new GatewayServiceError(
        'ConfigConflict',
        `gatewayConfig.${leaf}`,
        `set by the construct (${DECIDED[rule]}); remove it from the fragment.`,
      );
    }
  }
  if (isObject(given.audit) && given.audit.cloudwatch !== undefined && decided.audit.logGroup === undefined) {
    throw new GatewayServiceError(
      'ConfigConflict',
      'gatewayConfig.audit.cloudwatch',
      'set, but the auditLogGroup prop is not: give the log group (the task role may write to it) or drop the key.',
    );
  }
  if (given.approvals !== undefined && decided.approvals === undefined) {
    throw new GatewayServiceError(
      'ConfigConflict',
      'gatewayConfig.approvals',
      'set, but the approvals prop is not: give the approval workflow (its grants come with it) or drop the key.',
    );
  }
  if (!isObject(given.upstream) || typeof given.upstream.host !== 'string' || given.upstream.host === '') {
    throw new GatewayServiceError(
      'ConfigIncomplete',
      'gatewayConfig.upstream.host',
      'missing: name the PostgreSQL server the gateway fronts (and upstream.tls, upstream.caFile).',
    );
  }
  if (!Array.isArray(given.issuers) || given.issuers.length === 0) {
    throw new GatewayServiceError(
      'ConfigIncomplete',
      'gatewayConfig.issuers',
      'missing or empty: the gateway accepts tokens of the issuers listed there only.',
    );
  }
  const idleTimeoutMs = at(given, 'limits.idleTimeoutMs') ?? DEFAULT_IDLE_TIMEOUT_MS;
  if (idleTimeoutMs === 0 || (idleTimeoutMs as number) >= decided.loadBalancerIdleTimeoutMs) {
    throw new GatewayServiceError(
      'IdleTimeoutNotBelowLoadBalancer',
      'gatewayConfig.limits.idleTimeoutMs',
      `${idleTimeoutMs} ms is not under the load balancer’s TCP idle timeout ` +
        `(${decided.loadBalancerIdleTimeoutMs} ms): the NLB would drop quiet sessions silently instead of the ` +
        'gateway closing them with a message. Lower it, or raise the network’s keepAlive.',
    );
  }
  const emfIntervalMs = at(given, 'health.emfIntervalMs') ?? DEFAULT_EMF_INTERVAL_MS;
  if (emfIntervalMs === 0 || (emfIntervalMs as number) > MAX_EMF_INTERVAL_MS) {
    throw new GatewayServiceError(
      'MetricsDisabled',
      'gatewayConfig.health.emfIntervalMs',
      `${emfIntervalMs} ms: the service scales on the Connections metric the gateway logs, read every minute; ` +
        'keep it at most 60000 (the default).',
    );
  }

  const { audit } = decided;
  const decisions: GatewayConfigFragment = {
    listen: { host: '0.0.0.0', port: decided.port },
    health: { host: '0.0.0.0', port: decided.healthPort },
    proxyProtocol: { enabled: true },
    // Tasks come and go with their addresses: each finds the others as the A records of its Cloud Map
    // service when a cancel must be forwarded (the owner may tune cancel.peerDiscovery.refreshMs).
    cancel: {
      peerHost: '0.0.0.0',
      peerPort: decided.peerPort,
      peerDiscovery: { dnsName: decided.peerDnsName, port: decided.peerPort },
    },
    drainMs: decided.drainSeconds * 1000,
    // Keepalive probes count as traffic for the NLB: quiet sessions outlive its idle timeout.
    limits: { tcpKeepAliveMs: decided.tcpKeepAliveMs },
    tls: { secretsManager: { secretId: decided.tlsSecretId } },
    credentials: { source: 'secrets-manager', secretId: decided.credentialsSecretId },
    policy: { s3: { bucket: decided.policy.bucket, key: decided.policy.key } },
    audit: {
      directory: decided.spoolDirectory,
      kmsSigningKey: { keyId: audit.signingKeyId },
      strict: { dynamodb: { table: decided.table } },
      ship: { s3: { bucket: audit.bucket, prefix: audit.prefix, kmsKeyId: audit.kmsKeyId } },
      ...(audit.logGroup !== undefined ? { cloudwatch: { logGroup: audit.logGroup } } : {}),
    },
    sessions: { dynamodb: { table: decided.table } },
    ...(decided.approvals
      ? {
          approvals: {
            dynamodb: { table: decided.approvals.table },
            workflow: { stateMachineArn: decided.approvals.stateMachineArn },
          },
        }
      : {}),
  };
  return merge(given, decisions as Json);
}
