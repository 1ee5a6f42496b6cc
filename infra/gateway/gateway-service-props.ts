import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Token } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as servicediscovery from 'aws-cdk-lib/aws-servicediscovery';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { GatewayLoadBalancing } from '../network/gateway-network-props';
import { PROJECT_ROOT } from '../project-root';
import type { GatewayConfigFragment } from './gateway-config';
import { GatewayServiceError } from './gateway-service-error';

export { PROJECT_ROOT };
/** The Dockerfile, relative to the context. */
export const DOCKERFILE = 'fargate-proxy/Dockerfile';
/** The context's ignore patterns (Docker reads the file beside the Dockerfile; the asset gets the same). */
export const DOCKER_IGNORE_FILE = path.join(PROJECT_ROOT, 'fargate-proxy', 'Dockerfile.dockerignore');
/** What `npm run package:gateway` writes and the Dockerfile copies; checked before a real synth. */
export const ARTIFACT_ENTRY = path.join(PROJECT_ROOT, 'build', 'gateway', 'app', 'bin', 'gatehouse.js');

/** The uid:gid the gateway runs as: the base image's `node` user (fargate-proxy/Dockerfile USER). */
export const GATEWAY_USER = '1000:1000';
/** The audit spool (`audit.directory`): a task volume, the image's VOLUME of the same path. */
export const SPOOL_DIRECTORY = '/var/spool/gatehouse';
/** The other writable path of the read-only root filesystem. */
export const TMP_DIRECTORY = '/tmp';
/** The environment variable `gatehouse serve` reads the configuration JSON from (fargate-proxy/src/config.ts). */
export const CONFIG_VARIABLE = 'GATEHOUSE_CONFIG';
/** The container's name in the task definition (a contract: the target registration names it). */
export const CONTAINER_NAME = 'Gateway';

/** Seconds the container may take after the drain: workers exit (drainMs + 10 s at most), spools flush. */
export const STOP_MARGIN_SECONDS = 20;
/** The Cloud Map namespace the construct creates when it is given none. */
export const DEFAULT_PEER_NAMESPACE = 'gatehouse.internal';
/** The tasks' Cloud Map service (`<name>.<namespace>` resolves to every running task). */
export const DEFAULT_PEER_SERVICE_NAME = 'gateway';
/** Seconds resolvers may keep the tasks' A records: short, so tasks that come and go are followed. */
export const PEER_RECORD_TTL_SECONDS = 10;

/** Seconds: Fargate's longest stopTimeout. */
const FARGATE_MAX_STOP_SECONDS = 120;

/** The patterns of DOCKER_IGNORE_FILE, comments and blank lines left out. */
export function dockerIgnorePatterns(): string[] {
  return readFileSync(DOCKER_IGNORE_FILE, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** Where the gateway ships sealed audit files (`audit.ship.s3`): the evidence bucket and its prefix. */
export interface GatewayAuditBucket {
  /** The Object Lock bucket; puts are granted below `prefix` only. */
  readonly bucket: s3.IBucket;
  /**
   * The key prefix (`audit.ship.s3.prefix`): chunks, recordings and digests go to `<prefix><writer>/…`.
   *
   * @default 'audit/'
   */
  readonly prefix?: string;
}

/** The policy the gateway enforces: one object of a versioned bucket (`policy.s3`). */
export interface GatewayPolicyObject {
  readonly bucket: s3.IBucket;
  readonly key: string;
}

/** The approval workflow the gateway starts (infra/approvals `ApprovalWorkflow` has this shape). */
export interface GatewayApprovals {
  /** The approvals table (`approvals.dynamodb.table`). */
  readonly table: dynamodb.ITable;
  /** The state machine each request starts (`approvals.workflow.stateMachineArn`). */
  readonly stateMachine: sfn.IStateMachine;
  /** Grants what the gateway does to both: start executions, read and write request items. */
  grantStart(grantee: iam.IGrantable): iam.Grant;
}

export interface GatewayServiceProps {
  /** The VPC of the tasks. */
  readonly vpc: ec2.IVpc;
  /**
   * Subnets of the tasks, in at least two availability zones; they need a route to AWS APIs and to the
   * token issuers' JWKS (NAT, or VPC endpoints and a proxy).
   *
   * @default - the VPC's private subnets with egress
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** Where the tasks register and whose timings the gateway must match (`GatewayNetwork`). */
  readonly loadBalancing: GatewayLoadBalancing;
  /**
   * The gateway configuration (fargate-proxy/src/config.ts) without what this construct decides: the
   * upstream server, issuers, limits, masking, recording and the like. The construct adds the ports,
   * drain, Proxy Protocol, spool directory and every AWS resource below (so the configuration names
   * exactly what the task role may use), and refuses a fragment that sets any of them otherwise.
   */
  readonly gatewayConfig: GatewayConfigFragment;
  /**
   * The customer-managed key of the gateway's data: audit objects are put under it (SSE-KMS), the log
   * group is encrypted with it, and it is granted through S3 and DynamoDB only. When it is a `kms.Key`
   * of this app, CloudWatch Logs is allowed to use it for log groups of this account and region.
   */
  readonly dataKey: kms.IKey;
  /** Where sealed audit files go. */
  readonly audit: GatewayAuditBucket;
  /**
   * The gateway's DynamoDB table: strict records (`strict#`), writer heads (`head#`), live sessions
   * (`session#`) and operators' kill requests (`kill#`, read only). Its key, when it has one.
   */
  readonly table: dynamodb.ITable;
  /** The asymmetric key (ECC_NIST_P256, SIGN_VERIFY) that signs audit digests. */
  readonly signingKey: kms.IKey;
  /**
   * The CloudWatch Logs copy of the audit records (`audit.cloudwatch.logGroup`).
   *
   * @default - no copy
   */
  readonly auditLogGroup?: logs.ILogGroup;
  /** Secret `{"username", "password"}` of the upstream role (an RDS-managed secret works as is). */
  readonly upstreamCredentials: secretsmanager.ISecret;
  /** Secret `{"certificate": PEM chain, "privateKey": PEM}` of the gateway's own TLS certificate. */
  readonly tlsCertificate: secretsmanager.ISecret;
  /** The policy object. */
  readonly policy: GatewayPolicyObject;
  /**
   * The approval workflow.
   *
   * @default - none: statements whose rule needs approval are refused
   */
  readonly approvals?: GatewayApprovals;
  /**
   * The upstream server's security group: the tasks are admitted to it on `upstream.port`.
   *
   * @default - egress to the upstream port within the VPC's CIDR; admit the tasks on the server yourself
   */
  readonly upstreamSecurityGroup?: ec2.ISecurityGroup;
  /**
   * Task CPU units (a Fargate size; the gateway runs one worker per vCPU).
   *
   * @default 1024
   */
  readonly cpu?: number;
  /**
   * Task memory in MiB, valid for `cpu` on Fargate.
   *
   * @default 2048
   */
  readonly memoryLimitMiB?: number;
  /**
   * Tasks at least (the desired count and the scaling minimum), two or more: Fargate spreads them
   * across the subnets' availability zones.
   *
   * @default 2
   */
  readonly minTasks?: number;
  /**
   * Tasks at most. Beyond eight, a cancel that reaches another task may miss the one holding the session:
   * a Cloud Map multivalue answer lists eight tasks at most (see `peerNamespace`).
   *
   * @default 10
   */
  readonly maxTasks?: number;
  /**
   * Ephemeral storage of each task in GiB (21 to 200): the audit spool lives there until shipped.
   *
   * @default 30
   */
  readonly ephemeralStorageGiB?: number;
  /**
   * The gateway's HTTP port for /healthz, /readyz and /metrics (`health.port`); admitted from the load
   * balancer only when its health check uses it.
   *
   * @default 6480
   */
  readonly healthPort?: number;
  /**
   * The private port where tasks forward cancel requests to each other (`cancel.peerPort`), admitted
   * from the service's own security group only.
   *
   * @default 6433
   */
  readonly peerPort?: number;
  /**
   * The Cloud Map private DNS namespace the tasks register in (A records, multivalue, 10-second TTL) and
   * find each other through (`cancel.peerDiscovery`). Give one to share a namespace the VPC already has:
   * a VPC can be associated with one private namespace of a given name only. The VPC needs DNS support
   * and DNS hostnames.
   *
   * @default - a new namespace `gatehouse.internal` in the VPC
   */
  readonly peerNamespace?: servicediscovery.IPrivateDnsNamespace;
  /**
   * The tasks' Cloud Map service in `peerNamespace`: `<peerServiceName>.<namespace>` resolves to every
   * running task. It must be unique in the namespace (another gateway service sharing the namespace
   * takes another name).
   *
   * @default 'gateway'
   */
  readonly peerServiceName?: string;
  /**
   * Average CPU utilization the service scales to, in percent.
   *
   * @default 60
   */
  readonly cpuTargetPercent?: number;
  /**
   * Client connections per task the service scales to: the `Connections` metric the gateway logs every
   * minute (CloudWatch embedded metric format, namespace Gatehouse, dimension Service=gateway), averaged
   * over the tasks.
   *
   * @default 1000
   */
  readonly connectionsPerTask?: number;
  /**
   * Retention of the gateway's log group.
   *
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The gateway's image.
   *
   * @default - fargate-proxy/Dockerfile over the packaged artefact (`npm run package:gateway`), linux/arm64
   */
  readonly image?: ecs.ContainerImage;
}

/** The props after defaults and checks: what the construct builds from. */
export interface GatewayServiceSettings {
  readonly vpcSubnets: ec2.SubnetSelection;
  readonly cpu: number;
  readonly memoryLimitMiB: number;
  readonly minTasks: number;
  readonly maxTasks: number;
  readonly ephemeralStorageGiB: number;
  readonly port: number;
  readonly healthPort: number;
  readonly peerPort: number;
  readonly peerServiceName: string;
  /** Seconds: the load balancer's deregistration delay, the gateway's drainMs. */
  readonly drainSeconds: number;
  /** Seconds: drain plus the margin, at most Fargate's 120. */
  readonly stopTimeoutSeconds: number;
  readonly auditPrefix: string;
  readonly cpuTargetPercent: number;
  readonly connectionsPerTask: number;
  readonly logRetention: logs.RetentionDays;
}

/** Fargate's task sizes: CPU units → the memory (MiB) it allows. */
const FARGATE_SIZES: Record<number, { min: number; max: number; step: number }> = {
  256: { min: 512, max: 2048, step: 512 },
  512: { min: 1024, max: 4096, step: 1024 },
  1024: { min: 2048, max: 8192, step: 1024 },
  2048: { min: 4096, max: 16384, step: 1024 },
  4096: { min: 8192, max: 30720, step: 1024 },
  8192: { min: 16384, max: 61440, step: 4096 },
  16384: { min: 32768, max: 122880, step: 8192 },
};

/** Applies the defaults and refuses what cannot deploy or would deploy wrong, naming the prop and the fix. */
export function gatewayServiceSettings(props: GatewayServiceProps): GatewayServiceSettings {
  const vpcSubnets = props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
  validateZones(props.vpc, vpcSubnets);
  const { cpu, memoryLimitMiB } = validateSize(props.cpu ?? 1024, props.memoryLimitMiB ?? 2048);
  const minTasks = props.minTasks ?? 2;
  const maxTasks = props.maxTasks ?? 10;
  if (!Number.isInteger(minTasks) || minTasks < 2 || minTasks > 1000) {
    throw new GatewayServiceError(
      'TasksOutOfRange',
      'minTasks',
      `${minTasks} is not a whole number from 2 to 1000; two tasks at least keep the gateway up in two ` +
        'availability zones and through a deployment.',
    );
  }
  if (!Number.isInteger(maxTasks) || maxTasks < minTasks || maxTasks > 1000) {
    throw new GatewayServiceError(
      'TasksOutOfRange',
      'maxTasks',
      `${maxTasks} is not a whole number from minTasks (${minTasks}) to 1000.`,
    );
  }
  const ephemeralStorageGiB = props.ephemeralStorageGiB ?? 30;
  if (!Number.isInteger(ephemeralStorageGiB) || ephemeralStorageGiB < 21 || ephemeralStorageGiB > 200) {
    throw new GatewayServiceError(
      'EphemeralStorageOutOfRange',
      'ephemeralStorageGiB',
      `${ephemeralStorageGiB} is outside Fargate’s 21 to 200 GiB; size it for the audit spool, e.g. 30.`,
    );
  }
  const { loadBalancing } = props;
  const port = loadBalancing.port;
  const healthPort = props.healthPort ?? 6480;
  const peerPort = props.peerPort ?? 6433;
  validatePorts({ 'loadBalancing.port': port, healthPort, peerPort });
  if (loadBalancing.healthCheckPort !== port && loadBalancing.healthCheckPort !== healthPort) {
    throw new GatewayServiceError(
      'PortInvalid',
      'healthPort',
      `${healthPort} is not the port the load balancer health-checks (${loadBalancing.healthCheckPort}); ` +
        'give both the same port.',
    );
  }
  const drainSeconds = loadBalancing.drain.toSeconds();
  if (drainSeconds + STOP_MARGIN_SECONDS > FARGATE_MAX_STOP_SECONDS) {
    throw new GatewayServiceError(
      'DrainTooLong',
      'loadBalancing.drain',
      `${drainSeconds} seconds of drain plus ${STOP_MARGIN_SECONDS} seconds to stop exceed Fargate’s ` +
        `${FARGATE_MAX_STOP_SECONDS}-second stopTimeout; drain at most ` +
        `${FARGATE_MAX_STOP_SECONDS - STOP_MARGIN_SECONDS} seconds.`,
    );
  }
  const cpuTargetPercent = props.cpuTargetPercent ?? 60;
  if (!Number.isInteger(cpuTargetPercent) || cpuTargetPercent < 10 || cpuTargetPercent > 90) {
    throw new GatewayServiceError(
      'ScalingTargetInvalid',
      'cpuTargetPercent',
      `${cpuTargetPercent} is not a whole percentage from 10 to 90.`,
    );
  }
  const connectionsPerTask = props.connectionsPerTask ?? 1000;
  if (!Number.isInteger(connectionsPerTask) || connectionsPerTask < 1) {
    throw new GatewayServiceError(
      'ScalingTargetInvalid',
      'connectionsPerTask',
      `${connectionsPerTask} is not a positive whole number of connections.`,
    );
  }
  return Object.freeze({
    vpcSubnets,
    cpu,
    memoryLimitMiB,
    minTasks,
    maxTasks,
    ephemeralStorageGiB,
    port,
    healthPort,
    peerPort,
    peerServiceName: validatePeerServiceName(props.peerServiceName ?? DEFAULT_PEER_SERVICE_NAME),
    drainSeconds,
    stopTimeoutSeconds: drainSeconds + STOP_MARGIN_SECONDS,
    auditPrefix: validateAuditPrefix(props.audit.prefix ?? 'audit/'),
    cpuTargetPercent,
    connectionsPerTask,
    logRetention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
  });
}

function validateSize(cpu: number, memoryLimitMiB: number): { cpu: number; memoryLimitMiB: number } {
  const size = FARGATE_SIZES[cpu];
  if (!size) {
    throw new GatewayServiceError(
      'SizingInvalid',
      'cpu',
      `${cpu} is not a Fargate CPU size (${Object.keys(FARGATE_SIZES).join(', ')}).`,
    );
  }
  const fits = memoryLimitMiB >= size.min && memoryLimitMiB <= size.max && memoryLimitMiB % size.step === 0;
  if (!Number.isInteger(memoryLimitMiB) || !fits) {
    throw new GatewayServiceError(
      'SizingInvalid',
      'memoryLimitMiB',
      `${memoryLimitMiB} MiB does not go with ${cpu} CPU units on Fargate: ${size.min} to ${size.max} MiB ` +
        `in steps of ${size.step}.`,
    );
  }
  return { cpu, memoryLimitMiB };
}

/** Ports the gateway binds as a non-root user with no capabilities: 1024 and up, all different. */
function validatePorts(ports: Record<string, number>): void {
  const seen = new Map<number, string>();
  for (const [prop, port] of Object.entries(ports)) {
    if (Token.isUnresolved(port) || !Number.isInteger(port) || port < 1024 || port > 65535) {
      throw new GatewayServiceError(
        'PortInvalid',
        prop,
        `${port} is not a port from 1024 to 65535, known at synth time; the gateway runs as a non-root user ` +
          'without capabilities, so it cannot bind lower ports.',
      );
    }
    const other = seen.get(port);
    if (other) {
      throw new GatewayServiceError(
        'PortInvalid',
        prop,
        `${port} is also ${other}; give each listener its own port.`,
      );
    }
    seen.set(port, prop);
  }
}

function validatePeerServiceName(name: string): string {
  if (Token.isUnresolved(name) || !/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(name)) {
    throw new GatewayServiceError(
      'PeerServiceNameInvalid',
      'peerServiceName',
      `"${name}" is not a literal DNS label (lower-case letters, digits and inner hyphens, 63 at most), e.g. ` +
        '"gateway"; it names the tasks in the Cloud Map namespace.',
    );
  }
  return name;
}

function validateAuditPrefix(prefix: string): string {
  if (Token.isUnresolved(prefix) || !/^([A-Za-z0-9_.-]+\/)+$/.test(prefix)) {
    throw new GatewayServiceError(
      'AuditPrefixInvalid',
      'audit.prefix',
      `"${prefix}" is not a literal key prefix of letters, digits, . _ - and "/", ending in "/", e.g. "audit/"; puts are ` +
        'granted below it and nowhere else.',
    );
  }
  return prefix;
}

function validateZones(vpc: ec2.IVpc, vpcSubnets: ec2.SubnetSelection): void {
  const zones = new Set(vpc.selectSubnets(vpcSubnets).availabilityZones);
  if ([...zones].some((zone) => Token.isUnresolved(zone))) return;
  if (zones.size < 2) {
    throw new GatewayServiceError(
      'SubnetsTooFewZones',
      'vpcSubnets',
      `the subnets span ${zones.size} availability zone(s); the tasks need two at least so that a zone ` +
        'outage leaves the gateway up. Select subnets in two zones or more.',
    );
  }
}
