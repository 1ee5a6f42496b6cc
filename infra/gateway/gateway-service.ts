import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Duration, IgnoreMode, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as servicediscovery from 'aws-cdk-lib/aws-servicediscovery';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { gatewayConfig } from './gateway-config';
import { grantGateway } from './gateway-grants';
import { acknowledgeGatewayFindings, nagResourceName } from './gateway-nag';
import { GatewayServiceError } from './gateway-service-error';
import {
  ARTIFACT_ENTRY,
  CONFIG_VARIABLE,
  CONTAINER_NAME,
  DEFAULT_PEER_NAMESPACE,
  DOCKERFILE,
  dockerIgnorePatterns,
  GATEWAY_USER,
  type GatewayServiceProps,
  type GatewayServiceSettings,
  gatewayServiceSettings,
  PEER_RECORD_TTL_SECONDS,
  PROJECT_ROOT,
  SPOOL_DIRECTORY,
  TMP_DIRECTORY,
} from './gateway-service-props';

export type { GatewayConfigFragment } from './gateway-config';
export {
  CONTAINER_NAME,
  GATEWAY_USER,
  type GatewayApprovals,
  type GatewayAuditBucket,
  type GatewayPolicyObject,
  type GatewayServiceProps,
  SPOOL_DIRECTORY,
} from './gateway-service-props';

import { allowLogsToUseKey } from '../shared/logs-key-access';

/** The task definition label holding the configuration's digest (see the constructor). */
export const CONFIG_DIGEST_LABEL = 'org.gatehouse.config-sha256';

/** The metric the service scales on besides CPU: the gateway's client connections (EMF, every minute). */
export const CONNECTIONS_METRIC = Object.freeze({
  namespace: 'Gatehouse',
  metricName: 'Connections',
  dimensionsMap: { Service: 'gateway' },
});

/**
 * The container health check's command: GET /healthz on the health port, with node itself (the image
 * needs no shell or curl). Liveness only; readiness is the load balancer's business.
 */
export function containerHealthCommand(healthPort: number): string[] {
  const script =
    `require('http').get('http://127.0.0.1:${healthPort}/healthz',` +
    "(r)=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))";
  return ['CMD', 'node', '-e', script];
}

/**
 * The gateway on Fargate (issue 7): an ECS cluster with Container Insights, a task of the gateway's
 * image (fargate-proxy/Dockerfile) running as a non-root user on a read-only root filesystem, its
 * configuration from an SSM parameter injected as a secret, the service registered in the load
 * balancer's target group, two tasks at least across availability zones, scaling on CPU and client
 * connections, and a task role with exactly what the gateway calls on exactly the resources given.
 *
 * Drain: on a deployment or scale-in ECS deregisters the task and waits the load balancer's
 * deregistration delay (`loadBalancing.drain`, also the gateway's `drainMs`), during which sessions go
 * on and new ones go elsewhere; then the NLB resets what is left and ECS sends SIGTERM, and the
 * gateway stops within `stopTimeout` (drain + 20 s, at most Fargate's 120 s).
 *
 * Cancels: a CancelRequest is a new connection the load balancer may hand to any task, so each task
 * registers in Cloud Map (`peerNamespace`) and forwards a cancel it does not hold to the others, found as
 * the A records of its Cloud Map service, on the peer port that only the service's own tasks may reach.
 */
export class GatewayService extends Construct implements ec2.IConnectable {
  /** The ECS service. */
  readonly service: ecs.FargateService;
  /** The cluster (Container Insights on). */
  readonly cluster: ecs.ICluster;
  /** The tasks' role: the grants of the props, nothing else. */
  readonly taskRole: iam.IRole;
  /** The tasks' security group. */
  readonly securityGroup: ec2.ISecurityGroup;
  /** The tasks' connections: allow them to reach more than the upstream (`gateway.connections.allowTo`). */
  readonly connections: ec2.Connections;
  /** The gateway's log group (JSON lines and the embedded metrics), under the data key. */
  readonly logGroup: logs.ILogGroup;
  /** The gateway's configuration JSON, injected into the container as GATEHOUSE_CONFIG. */
  readonly configParameter: ssm.IStringParameter;
  /** The Cloud Map namespace the tasks register in (given, or created). */
  readonly peerNamespace: servicediscovery.IPrivateDnsNamespace;

  constructor(scope: Construct, id: string, props: GatewayServiceProps) {
    super(scope, id);
    const settings = gatewayServiceSettings(props);
    const { vpc, loadBalancing, dataKey } = props;
    const stack = Stack.of(this);

    this.peerNamespace =
      props.peerNamespace ??
      new servicediscovery.PrivateDnsNamespace(this, 'PeerNamespace', {
        name: DEFAULT_PEER_NAMESPACE,
        vpc,
        description: 'Gatehouse gateway tasks, found by each other to forward cancel requests',
      });

    const configJson = stack.toJsonString(
      gatewayConfig(props.gatewayConfig, {
        port: settings.port,
        healthPort: settings.healthPort,
        peerPort: settings.peerPort,
        peerDnsName: `${settings.peerServiceName}.${this.peerNamespace.namespaceName}`,
        drainSeconds: settings.drainSeconds,
        loadBalancerIdleTimeoutMs: loadBalancing.idleTimeout.toMilliseconds(),
        tcpKeepAliveMs: loadBalancing.keepAlive.toMilliseconds(),
        spoolDirectory: SPOOL_DIRECTORY,
        tlsSecretId: props.tlsCertificate.secretFullArn ?? props.tlsCertificate.secretArn,
        credentialsSecretId: props.upstreamCredentials.secretFullArn ?? props.upstreamCredentials.secretArn,
        policy: { bucket: props.policy.bucket.bucketName, key: props.policy.key },
        audit: {
          bucket: props.audit.bucket.bucketName,
          prefix: settings.auditPrefix,
          kmsKeyId: dataKey.keyArn,
          signingKeyId: props.signingKey.keyArn,
          logGroup: props.auditLogGroup?.logGroupName,
        },
        table: props.table.tableName,
        approvals: props.approvals && {
          table: props.approvals.table.tableName,
          stateMachineArn: props.approvals.stateMachine.stateMachineArn,
        },
      }),
    );
    this.configParameter = new ssm.StringParameter(this, 'Config', {
      description: 'Gatehouse gateway configuration (fargate-proxy/src/config.ts), read at task start',
      // JSON with every issuer can pass the 4 KB of the standard tier; larger values cost the advanced price.
      tier: ssm.ParameterTier.INTELLIGENT_TIERING,
      stringValue: configJson,
    });
    // ECS reads the parameter when a task starts, so a new value alone would reach no running task: its
    // digest in the task definition makes a changed configuration a new revision, rolled out as such.
    const configDigest = createHash('sha256')
      .update(JSON.stringify(stack.resolve(configJson)))
      .digest('hex');

    const cluster = new ecs.Cluster(this, 'Cluster', {
      vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    this.cluster = cluster;

    allowLogsToUseKey(dataKey, stack, { sid: 'GatehouseGatewayCloudWatchLogs' });
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: settings.logRetention,
      encryptionKey: dataKey,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.logGroup = logGroup;

    const taskRole = new iam.Role(this, 'TaskRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description:
        'Gatehouse gateway tasks: audit shipping and signing, the gateway table, secrets, policy, approvals',
    });
    // ECS uses it to pull the image, write the container's logs and read the configuration parameter.
    const executionRole = new iam.Role(this, 'ExecutionRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'Gatehouse gateway tasks (ECS agent): pull the image, write logs, read the configuration',
    });
    this.taskRole = taskRole;
    grantGateway(taskRole, {
      dataKey,
      audit: { bucket: props.audit.bucket, prefix: settings.auditPrefix },
      table: props.table,
      signingKey: props.signingKey,
      auditLogGroup: props.auditLogGroup,
      upstreamCredentials: props.upstreamCredentials,
      tlsCertificate: props.tlsCertificate,
      policy: props.policy,
      approvals: props.approvals,
    });

    const taskDefinition = new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      cpu: settings.cpu,
      memoryLimitMiB: settings.memoryLimitMiB,
      ephemeralStorageGiB: settings.ephemeralStorageGiB,
      runtimePlatform: {
        cpuArchitecture: ecs.CpuArchitecture.ARM64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
      taskRole,
      executionRole,
    });
    // Bind mounts on the task's ephemeral storage; the image declares both paths as VOLUMEs, so ECS
    // copies their ownership (the spool belongs to the runtime user; /tmp is 1777).
    taskDefinition.addVolume({ name: 'spool' });
    taskDefinition.addVolume({ name: 'tmp' });

    const linuxParameters = new ecs.LinuxParameters(this, 'LinuxParameters', { initProcessEnabled: true });
    linuxParameters.dropCapabilities(ecs.Capability.ALL);
    const container = taskDefinition.addContainer(CONTAINER_NAME, {
      image: props.image ?? this.packagedImage(stack),
      essential: true,
      user: GATEWAY_USER,
      readonlyRootFilesystem: true,
      linuxParameters,
      // Nothing in `environment` (AwsSolutions-ECS2): the configuration is a parameter, read at start.
      secrets: { [CONFIG_VARIABLE]: ecs.Secret.fromSsmParameter(this.configParameter) },
      dockerLabels: { [CONFIG_DIGEST_LABEL]: configDigest },
      portMappings: [
        { name: 'postgres', containerPort: settings.port, protocol: ecs.Protocol.TCP },
        { name: 'health', containerPort: settings.healthPort, protocol: ecs.Protocol.TCP },
        { name: 'peer-cancel', containerPort: settings.peerPort, protocol: ecs.Protocol.TCP },
      ],
      stopTimeout: Duration.seconds(settings.stopTimeoutSeconds),
      healthCheck: {
        command: containerHealthCommand(settings.healthPort),
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(30),
      },
      ulimits: [{ name: ecs.UlimitName.NOFILE, softLimit: 65535, hardLimit: 65535 }],
      logging: ecs.LogDrivers.awsLogs({
        logGroup,
        streamPrefix: 'gateway',
        // A throttled CloudWatch must not stall the sessions; the audit trail does not go through stdout.
        mode: ecs.AwsLogDriverMode.NON_BLOCKING,
        maxBufferSize: Size.mebibytes(25),
      }),
    });
    container.addMountPoints(
      { sourceVolume: 'spool', containerPath: SPOOL_DIRECTORY, readOnly: false },
      { sourceVolume: 'tmp', containerPath: TMP_DIRECTORY, readOnly: false },
    );

    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc,
      description:
        'Gatehouse gateway tasks: PostgreSQL from the load balancer, cancel forwarding between tasks',
      allowAllOutbound: false,
    });
    this.securityGroup = securityGroup;
    this.connections = securityGroup.connections;
    this.admit(securityGroup, props, settings);

    const service = new ecs.FargateService(this, 'Service', {
      cluster,
      taskDefinition,
      desiredCount: settings.minTasks,
      vpcSubnets: settings.vpcSubnets,
      securityGroups: [securityGroup],
      assignPublicIp: false,
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { enable: true, rollback: true },
      enableExecuteCommand: false,
      healthCheckGracePeriod: Duration.seconds(60),
      propagateTags: ecs.PropagatedTagSource.SERVICE,
      // Each running task's address as an A record of `<peerServiceName>.<namespace>`: multivalue, so one
      // answer lists every task (eight at most, Route 53's limit), and ECS takes a task out when it stops
      // or fails its health check.
      cloudMapOptions: {
        cloudMapNamespace: this.peerNamespace,
        name: settings.peerServiceName,
        dnsRecordType: servicediscovery.DnsRecordType.A,
        dnsTtl: Duration.seconds(PEER_RECORD_TTL_SECONDS),
      },
    });
    // Fargate spreads tasks across the subnets' zones; rebalancing puts them back after a zone recovers.
    (service.node.defaultChild as ecs.CfnService).addPropertyOverride(
      'AvailabilityZoneRebalancing',
      'ENABLED',
    );
    loadBalancing.targetGroup.addTarget(
      service.loadBalancerTarget({ containerName: CONTAINER_NAME, containerPort: settings.port }),
    );
    this.service = service;
    this.scale(service, settings);

    acknowledgeGatewayFindings({
      taskRole,
      executionRole,
      auditObjects: nagResourceName(stack, props.audit.bucket.arnForObjects(`${settings.auditPrefix}*`)),
      auditLogGroup: props.auditLogGroup && nagResourceName(stack, props.auditLogGroup.logGroupArn),
    });
  }

  /** The packaged artefact through fargate-proxy/Dockerfile; a real synth needs the artefact first. */
  private packagedImage(stack: Stack): ecs.ContainerImage {
    if (stack.bundlingRequired && !existsSync(ARTIFACT_ENTRY)) {
      throw new GatewayServiceError(
        'ArtifactMissing',
        'image',
        `${ARTIFACT_ENTRY} does not exist: run \`npm run package:gateway\` before \`cdk synth\` or \`cdk deploy\` ` +
          '(the image only copies that artefact).',
      );
    }
    return ecs.ContainerImage.fromAsset(PROJECT_ROOT, {
      file: DOCKERFILE,
      exclude: dockerIgnorePatterns(),
      ignoreMode: IgnoreMode.DOCKER,
      platform: Platform.LINUX_ARM64,
    });
  }

  /** Ingress and egress of the tasks: nothing is open that the gateway does not use. */
  private admit(
    securityGroup: ec2.SecurityGroup,
    props: GatewayServiceProps,
    settings: GatewayServiceSettings,
  ): void {
    const { loadBalancing } = props;
    // PostgreSQL (and an HTTP health check's port) from the load balancer only.
    securityGroup.connections.allowFrom(
      loadBalancing.securityGroup,
      ec2.Port.tcp(settings.port),
      'PostgreSQL from the Gatehouse load balancer',
    );
    if (loadBalancing.healthCheckPort !== settings.port) {
      securityGroup.connections.allowFrom(
        loadBalancing.securityGroup,
        ec2.Port.tcp(loadBalancing.healthCheckPort),
        'Health checks from the Gatehouse load balancer',
      );
    }
    // Cancel requests forwarded between the gateway's own tasks.
    securityGroup.connections.allowInternally(
      ec2.Port.tcp(settings.peerPort),
      'Cancel forwarding between tasks',
    );
    // AWS APIs and the token issuers' JWKS.
    securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS: AWS APIs, token issuers');
    const upstreamPort = ec2.Port.tcp(props.gatewayConfig.upstream?.port ?? 5432);
    if (props.upstreamSecurityGroup) {
      securityGroup.connections.allowTo(
        props.upstreamSecurityGroup,
        upstreamPort,
        'The upstream PostgreSQL server',
      );
    } else {
      securityGroup.addEgressRule(
        ec2.Peer.ipv4(props.vpc.vpcCidrBlock),
        upstreamPort,
        'The upstream PostgreSQL server',
      );
    }
  }

  private scale(service: ecs.FargateService, settings: GatewayServiceSettings): void {
    const capacity = service.autoScaleTaskCount({
      minCapacity: settings.minTasks,
      maxCapacity: settings.maxTasks,
    });
    // Scaling in ends a task's sessions at the end of the drain: add tasks quickly, remove them slowly.
    const cooldowns = { scaleOutCooldown: Duration.minutes(1), scaleInCooldown: Duration.minutes(10) };
    capacity.scaleOnCpuUtilization('Cpu', {
      targetUtilizationPercent: settings.cpuTargetPercent,
      ...cooldowns,
    });
    capacity.scaleToTrackCustomMetric('Connections', {
      // Each task logs its connection count once a minute, all under one dimension: the average of
      // the minute is the connections per task.
      metric: new cloudwatch.Metric({
        ...CONNECTIONS_METRIC,
        statistic: 'Average',
        period: Duration.minutes(1),
      }),
      targetValue: settings.connectionsPerTask,
      ...cooldowns,
    });
  }
}
