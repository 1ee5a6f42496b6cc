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
  /** `limits.idleTimeoutMs` (1 hour): the gateway closes a quiet session itself after this long. */
  sessionIdleTimeout: Duration.hours(1),
});

/** Seconds the listener's TCP idle timeout stays above `keepAlive`. */
export const IDLE_TIMEOUT_MARGIN_SECONDS = 60;
/** Seconds: the range of an NLB TCP listener's idle timeout. */
const MIN_IDLE_TIMEOUT_SECONDS = 60;
const MAX_IDLE_TIMEOUT_SECONDS = 6000;
/** Seconds: the range of a target group's deregistration delay. */
const MAX_DEREGISTRATION_DELAY_SECONDS = 3600;

/**
 * How the NLB decides a target is healthy.
 *
 * - `tcp`: a TCP connection to the PostgreSQL port. With Proxy Protocol v2 on, the NLB opens it with a
 *   LOCAL header and nothing else, which the gateway answers as a health check
 *   (fargate-proxy/src/session/handshake.ts). It proves the process accepts connections, not that the
 *   upstream server is reachable.
 * - `http`: GET `path` on the gateway's health port (`/readyz`: upstream reachable, token keys loaded,
 *   all workers up). The NLB sends its PPv2 header on health-check connections too, also to another
 *   port, and the health server (fargate-proxy/src/server/health-server.ts) does not accept one yet:
 *   choose `http` only once it does. Mind also that NLBs reset established connections to a target
 *   that turns unhealthy: a readiness check that fails on an upstream blip would cut every session.
 */
export type GatewayHealthCheck =
  | { readonly kind: 'tcp' }
  | { readonly kind: 'http'; readonly port: number; readonly path?: string };

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
   * The longest a healthy connection may carry no packet in either direction. The gateway sets no TCP
   * keepalive on client connections (fargate-proxy/src/server/gateway-server.ts), so for a quiet session
   * this is its session idle timeout (`limits.idleTimeoutMs`), after which it closes the session itself;
   * a statement that runs longer without traffic needs client keepalives (libpq `keepalives_idle`)
   * shorter than this. The listener's TCP idle timeout is set 60 seconds above it, so the NLB never
   * drops a connection the gateway still holds. Whole seconds, 1 minute to 5940 seconds.
   *
   * @default Duration.hours(1), the gateway's default limits.idleTimeoutMs
   */
  readonly keepAlive?: Duration;
  /**
   * The target group's health check.
   *
   * @default { kind: 'tcp' } (see GatewayHealthCheck for why not /readyz yet)
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
  /** The listener's TCP idle timeout: the gateway must close quiet sessions before it. */
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
  /** Seconds: keepAlive plus the margin. */
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
  const keepAliveSeconds = wholeSeconds(
    'keepAlive',
    props.keepAlive ?? GATEWAY_DEFAULTS.sessionIdleTimeout,
    MIN_IDLE_TIMEOUT_SECONDS,
    MAX_IDLE_TIMEOUT_SECONDS - IDLE_TIMEOUT_MARGIN_SECONDS,
    'KeepAliveOutOfRange',
    'the listener idle timeout (keepAlive + 60 s) must stay within the NLB’s 60 to 6000 seconds; ' +
      'lower the gateway’s limits.idleTimeoutMs with it, e.g. Duration.hours(1).',
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
    idleTimeoutSeconds: keepAliveSeconds + IDLE_TIMEOUT_MARGIN_SECONDS,
    healthCheck: validateHealthCheck(props.healthCheck ?? { kind: 'tcp' }, port),
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
  code: 'DrainOutOfRange' | 'KeepAliveOutOfRange',
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
  validatePort('healthCheck.port', check.port);
  if (check.port === port) {
    throw new GatewayNetworkError(
      'HealthCheckInvalid',
      'healthCheck.port',
      `${check.port} is the PostgreSQL port; an HTTP check goes to the gateway’s health port (health.port).`,
    );
  }
  const path = check.path ?? '/readyz';
  if (!/^\/[\w./-]*$/.test(path)) {
    throw new GatewayNetworkError(
      'HealthCheckInvalid',
      'healthCheck.path',
      `"${path}" is not a path such as /readyz.`,
    );
  }
  return { kind: 'http', port: check.port, path };
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
