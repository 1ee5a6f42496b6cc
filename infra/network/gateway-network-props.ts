import { Duration, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { GatewayNetworkError } from './gateway-network-error';

/** The gateway's own defaults (fargate-proxy/src/config.ts), which the network's defaults follow. */
export const GATEWAY_DEFAULTS = Object.freeze({
  /** PostgreSQL's port: what clients expect behind a PrivateLink endpoint. */
  port: 5432,
  /** `drainMs` (25 seconds). */
  drain: Duration.seconds(25),
  /** `health.port` as GatewayService sets it (its `healthPort` prop): /healthz, /readyz, /metrics. */
  healthPort: 6480,
  /** `limits.tcpKeepAliveMs` (1 minute): the TCP keepalive of client connections. */
  tcpKeepAlive: Duration.minutes(1),
  /** `limits.idleTimeoutMs` (1 hour): the gateway closes a quiet session itself after this long. */
  sessionIdleTimeout: Duration.hours(1),
});

/**
 * Seconds the default listener idle timeout stays above the gateway's session idle timeout: 3660 s in
 * all, so that the gateway, not the load balancer, ends a quiet session even with keepalive off.
 */
export const IDLE_TIMEOUT_MARGIN_SECONDS = 60;
/**
 * Seconds the listener idle timeout must exceed `keepAlive` by at least. After an unanswered probe the
 * gateway (Node's libuv) probes every second, ten times: a lost probe is made good within this margin.
 */
export const KEEPALIVE_MARGIN_SECONDS = 10;
/** Seconds: the range of an NLB TCP listener's idle timeout. */
const MIN_IDLE_TIMEOUT_SECONDS = 60;
const MAX_IDLE_TIMEOUT_SECONDS = 6000;
/** Seconds: the range of a target group's deregistration delay. */
const MAX_DEREGISTRATION_DELAY_SECONDS = 3600;

/**
 * How the NLB decides a target is healthy.
 *
 * - `http` (the default): GET `path` (`/healthz`, liveness: the gateway process answers) on the
 *   gateway's health port, 200 for healthy. Not `/readyz` by default: it is 503 also while the upstream
 *   server is unreachable, and ECS replaces a task its load balancer reports unhealthy, so a database
 *   outage would recycle every task (and reset every session) for nothing; `/readyz` can be chosen. The NLB puts its Proxy Protocol v2
 *   header on health-check connections too; the health server reads and drops it
 *   (fargate-proxy/src/server/health-server.ts). A failing check stops new sessions going to the task;
 *   the sessions it holds stay (the target group does not reset connections to unhealthy targets), but
 *   ECS replaces a task its load balancer reports unhealthy: see the README.
 * - `tcp`: a TCP connection to the PostgreSQL port. With Proxy Protocol v2 on, the NLB opens it with a
 *   LOCAL header and nothing else, which the gateway answers as a health check
 *   (fargate-proxy/src/session/handshake.ts). It proves the process accepts connections, not that it
 *   can serve a session.
 */
export type GatewayHealthCheck =
  | { readonly kind: 'tcp' }
  | {
      readonly kind: 'http';
      /** @default 6480, GatewayService's default healthPort */
      readonly port?: number;
      /** @default '/healthz' */
      readonly path?: string;
    };

export interface GatewayNetworkProps {
  /** The VPC of the load balancer and the gateway's tasks. */
  readonly vpc: ec2.IVpc;
  /**
   * Subnets of the load balancer, in at least two availability zones. PrivateLink consumers can only
   * use zones where it has a subnet.
   *
   * @default - the VPC's private subnets with egress
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * The PostgreSQL port: the listener's, the targets' and the gateway's (`listen.port`).
   *
   * @default 5432
   */
  readonly port?: number;
  /**
   * Principals allowed to connect VPC endpoints to the endpoint service: accounts
   * (`arn:aws:iam::111122223333:root`), roles or users. Never `*`. Every connection still waits for
   * acceptance (`AcceptVpcEndpointConnections`).
   *
   * @default - none: no consumer can create an endpoint until a principal is added
   */
  readonly allowedPrincipals?: iam.ArnPrincipal[];
  /**
   * IPv4 CIDR blocks admitted to the listener, besides the VPC's own. With security group evaluation on
   * for PrivateLink traffic (the default), consumers' traffic must be admitted here.
   *
   * @default - none
   */
  readonly clientCidrs?: string[];
  /**
   * Managed prefix lists (`pl-…`) admitted to the listener.
   *
   * @default - none
   */
  readonly clientPrefixLists?: string[];
  /**
   * Whether the load balancer's security group rules also apply to PrivateLink traffic. Turning it off
   * leaves PrivateLink consumers to `allowedPrincipals`, endpoint acceptance and the gateway's
   * `proxyProtocol.allowedVpcEndpoints`.
   *
   * @default true
   */
  readonly enforceSecurityGroupOnPrivateLink?: boolean;
  /**
   * How long a deregistered task keeps its connections: the target group's deregistration delay, after
   * which the NLB resets the connections left (connection termination is on). It is also the gateway's
   * `drainMs` (GatewayService sets both from this), the time sessions get to finish on their own.
   * Whole seconds.
   *
   * @default Duration.seconds(25), the gateway's default drainMs
   */
  readonly drain?: Duration;
  /**
   * The TCP keepalive of the gateway's client connections (`limits.tcpKeepAliveMs`): after this long
   * without a packet the gateway's kernel probes the client, and the NLB counts probes as traffic, so a
   * quiet session (or a long statement that sends nothing) outlives `idleTimeout`. GatewayService
   * configures the gateway with it. Whole seconds, at least 1, and at least 10 seconds under
   * `idleTimeout`.
   *
   * @default Duration.minutes(1), the gateway's default limits.tcpKeepAliveMs
   */
  readonly keepAlive?: Duration;
  /**
   * The listener's TCP idle timeout: the NLB forgets a connection that carries no packet for this long
   * (and resets it at its next packet). The gateway's keepalive keeps its sessions under it, so any
   * value above `keepAlive` works; the default also stays above the gateway's session idle timeout, so
   * that even with keepalive off the gateway, not the NLB, ends a quiet session, with a message. Whole
   * seconds, 60 to 6000.
   *
   * @default Duration.seconds(3660), the gateway's default limits.idleTimeoutMs (1 hour) plus 60 s
   */
  readonly idleTimeout?: Duration;
  /**
   * The target group's health check.
   *
   * @default { kind: 'http', port: 6480, path: '/healthz' }
   */
  readonly healthCheck?: GatewayHealthCheck;
}

/**
 * What the gateway service needs from the network: the target group to register its tasks in, the
 * source to admit, and the timings its own configuration must match. `GatewayNetwork` provides it.
 */
export interface GatewayLoadBalancing {
  /** IP targets: the service registers its tasks' PostgreSQL port here. */
  readonly targetGroup: elbv2.INetworkTargetGroup;
  /** The load balancer's security group: the only source the tasks admit on `port` and `healthCheckPort`. */
  readonly securityGroup: ec2.ISecurityGroup;
  /** The listener's port, the targets' and the gateway's `listen.port`. */
  readonly port: number;
  /** The port the NLB health-checks targets on (`port` for a TCP check). */
  readonly healthCheckPort: number;
  /** The deregistration delay: the gateway's `drainMs` must equal it. */
  readonly drain: Duration;
  /** The TCP keepalive the gateway must set on client connections (`limits.tcpKeepAliveMs`). */
  readonly keepAlive: Duration;
  /**
   * The listener's TCP idle timeout, above `keepAlive`: a connection quiet for longer is dropped, so the
   * gateway must keep its keepalive on (or, with it off, close quiet sessions before this).
   */
  readonly idleTimeout: Duration;
}

/** The props after defaults and checks: what the construct builds from. */
export interface GatewayNetworkSettings {
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets: ec2.SubnetSelection;
  readonly port: number;
  readonly allowedPrincipals: iam.ArnPrincipal[];
  readonly clientCidrs: string[];
  readonly clientPrefixLists: string[];
  readonly enforceSecurityGroupOnPrivateLink: boolean;
  /** Seconds. */
  readonly drainSeconds: number;
  /** Seconds. */
  readonly keepAliveSeconds: number;
  /** Seconds, at least KEEPALIVE_MARGIN_SECONDS above keepAliveSeconds. */
  readonly idleTimeoutSeconds: number;
  readonly healthCheck:
    | { readonly kind: 'tcp' }
    | { readonly kind: 'http'; readonly port: number; readonly path: string };
}

/** Applies the defaults and refuses what cannot deploy or would deploy wrong, naming the prop and the fix. */
export function gatewayNetworkSettings(props: GatewayNetworkProps): GatewayNetworkSettings {
  const port = validatePort('port', props.port ?? GATEWAY_DEFAULTS.port);
  const vpcSubnets = props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
  validateZones(props.vpc, vpcSubnets);
  const idleTimeoutSeconds = wholeSeconds(
    'idleTimeout',
    props.idleTimeout ??
      GATEWAY_DEFAULTS.sessionIdleTimeout.plus(Duration.seconds(IDLE_TIMEOUT_MARGIN_SECONDS)),
    MIN_IDLE_TIMEOUT_SECONDS,
    MAX_IDLE_TIMEOUT_SECONDS,
    'IdleTimeoutOutOfRange',
    'an NLB TCP listener’s idle timeout is 60 to 6000 seconds; e.g. Duration.seconds(3660).',
  );
  const keepAliveSeconds = wholeSeconds(
    'keepAlive',
    props.keepAlive ?? GATEWAY_DEFAULTS.tcpKeepAlive,
    1,
    idleTimeoutSeconds - KEEPALIVE_MARGIN_SECONDS,
    'KeepAliveOutOfRange',
    `the gateway’s keepalive probes must come at least ${KEEPALIVE_MARGIN_SECONDS} seconds before the ` +
      `listener drops a quiet connection (idleTimeout, ${idleTimeoutSeconds} s); lower keepAlive ` +
      '(e.g. Duration.minutes(1)) or raise idleTimeout.',
  );
  const drainSeconds = wholeSeconds(
    'drain',
    props.drain ?? GATEWAY_DEFAULTS.drain,
    0,
    MAX_DEREGISTRATION_DELAY_SECONDS,
    'DrainOutOfRange',
    'a target group’s deregistration delay is 0 to 3600 seconds (and the gateway’s drain must fit ' +
      'Fargate’s 120-second stop timeout); e.g. Duration.seconds(25).',
  );
  return Object.freeze({
    vpc: props.vpc,
    vpcSubnets,
    port,
    allowedPrincipals: validatePrincipals(props.allowedPrincipals ?? []),
    clientCidrs: validateCidrs(props.clientCidrs ?? []),
    clientPrefixLists: validatePrefixLists(props.clientPrefixLists ?? []),
    enforceSecurityGroupOnPrivateLink: props.enforceSecurityGroupOnPrivateLink ?? true,
    drainSeconds,
    keepAliveSeconds,
    idleTimeoutSeconds,
    healthCheck: validateHealthCheck(props.healthCheck ?? { kind: 'http' }, port),
  });
}

function validatePort(prop: string, port: number): number {
  if (Token.isUnresolved(port)) {
    throw new GatewayNetworkError(
      'PortOutOfRange',
      prop,
      'must be known at synth time (the gateway configuration and the security groups are built from it).',
    );
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new GatewayNetworkError(
      'PortOutOfRange',
      prop,
      `${port} is not a TCP port (1 to 65535), e.g. 5432.`,
    );
  }
  return port;
}

function wholeSeconds(
  prop: string,
  duration: Duration,
  min: number,
  max: number,
  code: 'DrainOutOfRange' | 'KeepAliveOutOfRange' | 'IdleTimeoutOutOfRange',
  fix: string,
): number {
  if (duration.isUnresolved()) {
    throw new GatewayNetworkError(code, prop, 'must be known at synth time; pass a literal Duration.');
  }
  const seconds = duration.toSeconds({ integral: false });
  if (!Number.isInteger(seconds) || seconds < min || seconds > max) {
    throw new GatewayNetworkError(
      code,
      prop,
      `${duration.toHumanString()} is outside ${min} to ${max} seconds in whole seconds: ${fix}`,
    );
  }
  return seconds;
}

const ARN_PRINCIPAL = /^arn:aws[a-z-]*:iam::\d{12}:(root|role\/[\w+=,.@/-]+|user\/[\w+=,.@/-]+)$/;

function validatePrincipals(principals: iam.ArnPrincipal[]): iam.ArnPrincipal[] {
  principals.forEach((principal, index) => {
    const arn = principal.arn;
    if (Token.isUnresolved(arn)) return;
    if (!ARN_PRINCIPAL.test(arn)) {
      throw new GatewayNetworkError(
        'PrincipalNotAllowed',
        `allowedPrincipals[${index}]`,
        `"${arn}" is not an account root, role or user ARN; name each consumer, e.g. ` +
          'new iam.ArnPrincipal("arn:aws:iam::111122223333:root"). A wildcard would let any account connect.',
      );
    }
  });
  return [...principals];
}

function validateCidrs(cidrs: string[]): string[] {
  cidrs.forEach((cidr, index) => {
    if (Token.isUnresolved(cidr)) return;
    const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
    const octets = match ? match.slice(1, 5).map(Number) : [];
    const bits = match ? Number(match[5]) : -1;
    if (!match || octets.some((o) => o > 255) || bits < 1 || bits > 32) {
      throw new GatewayNetworkError(
        'CidrInvalid',
        `clientCidrs[${index}]`,
        `"${cidr}" is not an IPv4 CIDR block with a prefix of 1 to 32 bits, e.g. 10.20.0.0/16; ` +
          '0.0.0.0/0 would admit anyone, so it is refused.',
      );
    }
  });
  return [...cidrs];
}

function validatePrefixLists(ids: string[]): string[] {
  ids.forEach((id, index) => {
    if (!Token.isUnresolved(id) && !/^pl-[0-9a-f]+$/.test(id)) {
      throw new GatewayNetworkError(
        'PrefixListInvalid',
        `clientPrefixLists[${index}]`,
        `"${id}" is not a managed prefix list id (pl-…).`,
      );
    }
  });
  return [...ids];
}

function validateHealthCheck(check: GatewayHealthCheck, port: number): GatewayNetworkSettings['healthCheck'] {
  if (check.kind === 'tcp') return { kind: 'tcp' };
  if (check.kind !== 'http') {
    throw new GatewayNetworkError(
      'HealthCheckInvalid',
      'healthCheck.kind',
      `"${String((check as { kind: unknown }).kind)}" is neither "tcp" nor "http".`,
    );
  }
  const healthPort = validatePort('healthCheck.port', check.port ?? GATEWAY_DEFAULTS.healthPort);
  if (healthPort === port) {
    throw new GatewayNetworkError(
      'HealthCheckInvalid',
      'healthCheck.port',
      `${healthPort} is the PostgreSQL port; an HTTP check goes to the gateway’s health port (health.port).`,
    );
  }
  const path = check.path ?? '/healthz';
  if (!/^\/[\w./-]*$/.test(path)) {
    throw new GatewayNetworkError(
      'HealthCheckInvalid',
      'healthCheck.path',
      `"${path}" is not a path such as /readyz.`,
    );
  }
  return { kind: 'http', port: healthPort, path };
}

function validateZones(vpc: ec2.IVpc, vpcSubnets: ec2.SubnetSelection): void {
  const zones = new Set(vpc.selectSubnets(vpcSubnets).availabilityZones);
  if ([...zones].some((zone) => Token.isUnresolved(zone))) return;
  if (zones.size < 2) {
    throw new GatewayNetworkError(
      'SubnetsTooFewZones',
      'vpcSubnets',
      `the subnets span ${zones.size} availability zone(s); the load balancer needs two at least, so that ` +
        'losing a zone does not take the gateway down. Select subnets in two zones or more.',
    );
  }
}
