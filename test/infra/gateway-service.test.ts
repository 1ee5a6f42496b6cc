import fs, { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { App, type CfnElement, Duration, type Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as servicediscovery from 'aws-cdk-lib/aws-servicediscovery';
import type { IConstruct } from 'constructs';
import { parseGatewayConfig } from '../../fargate-proxy/src/config';
import type { ApprovalWorkflow } from '../../infra/approvals/approval-workflow';
import type { GatewayApprovals, GatewayServiceProps } from '../../infra/gateway/gateway-service';
import { GatewayServiceError, type GatewayServiceErrorCode } from '../../infra/gateway/gateway-service-error';
import {
  ARTIFACT_ENTRY,
  DOCKERFILE,
  GATEWAY_USER,
  PROJECT_ROOT,
  SPOOL_DIRECTORY,
  TMP_DIRECTORY,
} from '../../infra/gateway/gateway-service-props';
import {
  AUDIT_BUCKET_ARN,
  AUDIT_LOG_GROUP,
  allow,
  CONFIG_FRAGMENT,
  gatewayTestStack,
  POLICY_BUCKET_ARN,
  rulesOf,
  SIGNING_KEY_ARN,
  STATE_MACHINE_ARN,
  statementsOf,
  TABLE_ARN,
  TLS_SECRET_ARN,
  UPSTREAM_SECRET_ARN,
  VPC_CIDR,
} from './support/gateway-stack';

// The approval workflow of infra/approvals fits the approvals prop as it is (checked by the compiler).
const _workflowFits: (workflow: ApprovalWorkflow) => GatewayApprovals = (workflow) => workflow;
void _workflowFits;

// Synthesized once for the file.
const test = gatewayTestStack();
const assembly = test.app.synth();
const template = Template.fromStack(test.stack);
const resources = template.toJSON().Resources as Record<
  string,
  { Type: string; Properties: Record<string, unknown> }
>;

function child(root: IConstruct, pathOf: string): IConstruct {
  return pathOf.split('/').reduce<IConstruct>((scope, id) => scope.node.findChild(id), root);
}
const logicalId = (construct: IConstruct) =>
  test.stack.getLogicalId((construct.node.defaultChild ?? construct) as CfnElement);
const gatewayId = (pathOf: string) => logicalId(child(test.gateway, pathOf));
const arnOf = (pathOf: string) => ({ 'Fn::GetAtt': [gatewayId(pathOf), 'Arn'] });
const dataKeyArn = { 'Fn::GetAtt': [logicalId(test.dataKey), 'Arn'] };
const only = (type: string) => {
  const found = Object.values(resources).filter((r) => r.Type === type);
  expect(found).toHaveLength(1);
  return found[0]!;
};
const container = () =>
  (only('AWS::ECS::TaskDefinition').Properties.ContainerDefinitions as Record<string, unknown>[])[0]!;

/** The Dockerfile's instructions (continuations joined, comments dropped) as [keyword, arguments]. */
function dockerfile(): [string, string][] {
  return readFileSync(path.join(PROJECT_ROOT, DOCKERFILE), 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [keyword = '', ...rest] = line.split(/\s+/);
      return [keyword.toUpperCase(), rest.join(' ')];
    });
}

/** The stack's container image assets, from its asset manifest. */
function imageAssets(): { directory: string; dockerFile: string; platform?: string }[] {
  const manifest = JSON.parse(
    readFileSync(path.join(assembly.directory, `${test.stack.artifactId}.assets.json`), 'utf8'),
  ) as {
    dockerImages: Record<string, { source: { directory: string; dockerFile: string; platform?: string } }>;
  };
  return Object.values(manifest.dockerImages).map((image) => image.source);
}

/** The configuration parameter's JSON, the data key's ARN filled in as CloudFormation would. */
function deployedConfig(parameter = only('AWS::SSM::Parameter')): Record<string, unknown> {
  const value = parameter.Properties.Value as { 'Fn::Join': [string, unknown[]] };
  const fakeKeyArn = 'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-4333-8444-555555555555';
  const text = value['Fn::Join'][1]
    .map((part) => {
      if (typeof part === 'string') return part;
      expect(part).toEqual(dataKeyArn);
      return fakeKeyArn;
    })
    .join(value['Fn::Join'][0]);
  return JSON.parse(text);
}

describe('GatewayService task', () => {
  it('runs the image as a non-root user on a read-only root filesystem, with no capabilities', () => {
    expect(container()).toMatchObject({
      Name: 'Gateway',
      Essential: true,
      User: GATEWAY_USER,
      ReadonlyRootFilesystem: true,
      LinuxParameters: { Capabilities: { Drop: ['ALL'] }, InitProcessEnabled: true },
    });
    expect(GATEWAY_USER).toMatch(/^[1-9]\d*:[1-9]\d*$/);
    // The image's USER is the same numeric user.
    expect(dockerfile().filter(([k]) => k === 'USER')).toEqual([['USER', GATEWAY_USER]]);
  });

  it('writes only to two task volumes, the spool and /tmp, which the image declares as VOLUMEs', () => {
    const task = only('AWS::ECS::TaskDefinition').Properties;
    expect(task.Volumes).toEqual([{ Name: 'spool' }, { Name: 'tmp' }]);
    expect(task.EphemeralStorage).toEqual({ SizeInGiB: 30 });
    expect(container().MountPoints).toEqual([
      { SourceVolume: 'spool', ContainerPath: SPOOL_DIRECTORY, ReadOnly: false },
      { SourceVolume: 'tmp', ContainerPath: TMP_DIRECTORY, ReadOnly: false },
    ]);
    const volumes = dockerfile().filter(([k]) => k === 'VOLUME');
    expect(volumes).toEqual([
      ['VOLUME', JSON.stringify([SPOOL_DIRECTORY, TMP_DIRECTORY]).replace(',', ', ')],
    ]);
  });

  it('gets its configuration from the SSM parameter as a secret, and nothing in environment (ECS2)', () => {
    expect(container().Environment).toBeUndefined();
    expect(container().Secrets).toEqual([
      {
        Name: 'GATEHOUSE_CONFIG',
        ValueFrom: {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':ssm:eu-west-1:123456789012:parameter/',
              { Ref: gatewayId('Config') },
            ],
          ],
        },
      },
    ]);
  });

  it('rolls out a changed configuration: its digest labels the task definition', () => {
    const digest = (container().DockerLabels as Record<string, string>)['org.gatehouse.config-sha256'];
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    const changed = gatewayTestStack({
      service: { gatewayConfig: { ...CONFIG_FRAGMENT, limits: { idleTimeoutMs: 1_800_000 } } },
    });
    const other = Template.fromStack(changed.stack).toJSON().Resources as typeof resources;
    const task = Object.values(other).find((r) => r.Type === 'AWS::ECS::TaskDefinition')!;
    const labels = (task.Properties.ContainerDefinitions as { DockerLabels: Record<string, string> }[])[0]!
      .DockerLabels;
    expect(labels['org.gatehouse.config-sha256']).toMatch(/^[0-9a-f]{64}$/);
    expect(labels['org.gatehouse.config-sha256']).not.toBe(digest);
  });

  it('stops within drain + 20 s (45 s, under Fargate’s 120 s); the drain is the deregistration delay', () => {
    expect(container().StopTimeout).toBe(45);
    expect(test.network.drain.toSeconds() + 20).toBe(45);
    expect(deployedConfig().drainMs).toBe(test.network.drain.toMilliseconds());
    // Keepalive probes keep quiet sessions alive through the NLB: the gateway sends them as often as
    // the network's idle timeout was chosen for.
    expect(parseGatewayConfig(deployedConfig()).limits.tcpKeepAliveMs).toBe(
      test.network.keepAlive.toMilliseconds(),
    );
  });

  it('runs on Fargate arm64 at 1 vCPU / 2 GiB, the image built for linux/arm64 from the Dockerfile', () => {
    expect(only('AWS::ECS::TaskDefinition').Properties).toMatchObject({
      Cpu: '1024',
      Memory: '2048',
      RequiresCompatibilities: ['FARGATE'],
      NetworkMode: 'awsvpc',
      RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
      TaskRoleArn: arnOf('TaskRole'),
      ExecutionRoleArn: arnOf('ExecutionRole'),
    });
    expect(imageAssets()).toEqual([
      expect.objectContaining({ dockerFile: DOCKERFILE, platform: 'linux/arm64' }),
    ]);
  });

  it('stages only the Dockerfile and the packaged artefact as the image context', () => {
    const [image] = imageAssets();
    const staged = readdirSync(path.join(assembly.directory, image!.directory), {
      recursive: true,
    }) as string[];
    expect(staged).toContain(DOCKERFILE);
    const outside = staged.filter(
      (file) =>
        !['build', 'build/gateway', 'fargate-proxy', DOCKERFILE].includes(file) &&
        !file.startsWith('build/gateway/app') &&
        !file.startsWith('build/gateway/spool'),
    );
    expect(outside).toEqual([]);
  });

  it('checks liveness with node itself on /healthz (no shell in the image)', () => {
    expect(container().HealthCheck).toEqual({
      Command: [
        'CMD',
        'node',
        '-e',
        "require('http').get('http://127.0.0.1:6480/healthz',(r)=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))",
      ],
      Interval: 15,
      Timeout: 5,
      Retries: 3,
      StartPeriod: 30,
    });
  });

  it('logs to its own log group under the data key, kept a year, without blocking the gateway', () => {
    expect(container().LogConfiguration).toEqual({
      LogDriver: 'awslogs',
      Options: {
        'awslogs-group': { Ref: gatewayId('Logs') },
        'awslogs-stream-prefix': 'gateway',
        'awslogs-region': 'eu-west-1',
        mode: 'non-blocking',
        'max-buffer-size': '26214400b',
      },
    });
    template.hasResource('AWS::Logs::LogGroup', {
      DeletionPolicy: 'Retain',
      Properties: { KmsKeyId: dataKeyArn, RetentionInDays: 365 },
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'GatehouseGatewayCloudWatchLogs',
            Principal: { Service: 'logs.eu-west-1.amazonaws.com' },
          }),
        ]),
      },
    });
  });

  it('runs in a cluster with Container Insights', () => {
    expect(only('AWS::ECS::Cluster').Properties).toEqual({
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
    });
  });
});

describe('GatewayService configuration', () => {
  it('is a configuration the gateway accepts (fargate-proxy/src/config.ts)', () => {
    expect(() => parseGatewayConfig(deployedConfig())).not.toThrow();
  });

  it('matches the load balancer and the task: ports, PPv2, drain, spool, idle timeout under the NLB’s', () => {
    const config = parseGatewayConfig(deployedConfig());
    expect(config.listen).toEqual({ host: '0.0.0.0', port: test.network.port });
    expect(config.health).toMatchObject({ host: '0.0.0.0', port: 6480, emfIntervalMs: 60_000 });
    expect(config.cancel).toEqual({
      peerHost: '0.0.0.0',
      peerPort: 6433,
      peers: [],
      peerDiscovery: { dnsName: 'gateway.gatehouse.internal', port: 6433, refreshMs: 5_000 },
    });
    expect(config.proxyProtocol).toEqual({ enabled: true, allowedVpcEndpoints: ['vpce-0123456789abcdef0'] });
    expect(config.audit.directory).toBe(SPOOL_DIRECTORY);
    expect(config.limits.idleTimeoutMs).toBeLessThan(test.network.idleTimeout.toMilliseconds());
    expect(config.allowCleartextPasswordWithoutTls).toBe(false);
  });

  it('names exactly the resources the task role is granted', () => {
    const config = deployedConfig();
    expect(config.tls).toEqual({ secretsManager: { secretId: TLS_SECRET_ARN } });
    expect(config.credentials).toEqual({ source: 'secrets-manager', secretId: UPSTREAM_SECRET_ARN });
    expect(config.policy).toEqual({ s3: { bucket: 'gatehouse-policy-123456789012', key: 'policy.yaml' } });
    expect(config.audit).toEqual({
      directory: SPOOL_DIRECTORY,
      kmsSigningKey: { keyId: SIGNING_KEY_ARN },
      strict: { dynamodb: { table: 'gatehouse-gateway' } },
      ship: {
        s3: {
          bucket: 'gatehouse-evidence-123456789012',
          prefix: 'audit/',
          kmsKeyId: expect.stringMatching(/^arn:aws:kms:/),
        },
      },
      cloudwatch: { logGroup: AUDIT_LOG_GROUP },
    });
    expect(config.sessions).toEqual({ dynamodb: { table: 'gatehouse-gateway' } });
    expect(config.approvals).toEqual({
      dynamodb: { table: 'gatehouse-approvals' },
      workflow: { stateMachineArn: STATE_MACHINE_ARN },
    });
    expect(config.upstream).toEqual(CONFIG_FRAGMENT.upstream);
  });
});

describe('GatewayService service', () => {
  it('keeps two tasks at least in the two zones’ private subnets, rolling back a failed deployment', () => {
    expect(only('AWS::ECS::Service').Properties).toMatchObject({
      LaunchType: 'FARGATE',
      DesiredCount: 2,
      AvailabilityZoneRebalancing: 'ENABLED',
      EnableExecuteCommand: false,
      HealthCheckGracePeriodSeconds: 60,
      DeploymentConfiguration: {
        MinimumHealthyPercent: 100,
        MaximumPercent: 200,
        DeploymentCircuitBreaker: { Enable: true, Rollback: true },
      },
      NetworkConfiguration: {
        AwsvpcConfiguration: {
          AssignPublicIp: 'DISABLED',
          Subnets: ['subnet-00a1b2c3d4e5f6071', 'subnet-01a1b2c3d4e5f6071'],
          SecurityGroups: [{ 'Fn::GetAtt': [gatewayId('SecurityGroup'), 'GroupId'] }],
        },
      },
    });
    const zones = test.vpc.selectSubnets({
      subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS,
    }).availabilityZones;
    expect(new Set(zones).size).toBeGreaterThanOrEqual(2);
  });

  it('registers its PostgreSQL port in the load balancer’s target group, after the listener exists', () => {
    const service = Object.entries(resources).find(([, r]) => r.Type === 'AWS::ECS::Service')!;
    expect(service[1].Properties.LoadBalancers).toEqual([
      {
        ContainerName: 'Gateway',
        ContainerPort: 5432,
        TargetGroupArn: { Ref: logicalId(test.network.node.findChild('Targets')) },
      },
    ]);
    const listener = logicalId(child(test.network, 'LoadBalancer/Postgres'));
    expect((template.toJSON().Resources[service[0]] as { DependsOn: string[] }).DependsOn).toContain(
      listener,
    );
  });

  it('admits PostgreSQL from the load balancer only, and the peer port from its own tasks only', () => {
    const tasks = gatewayId('SecurityGroup');
    const nlb = logicalId(test.network.node.findChild('SecurityGroup'));
    // An HTTP health check on its own port is admitted from the load balancer too.
    const healthCheck =
      test.network.healthCheckPort === 5432 ? [] : [`${nlb} ${test.network.healthCheckPort}`];
    expect(rulesOf(template, tasks, 'ingress')).toEqual(
      [`${tasks} 6433`, `${nlb} 5432`, ...healthCheck].sort(),
    );
    expect(rulesOf(template, tasks, 'egress')).toEqual([
      `0.0.0.0/0 443`,
      `${VPC_CIDR} 5432`,
      `${tasks} 6433`,
    ]);
  });

  it('joins the upstream server’s security group when given one, instead of the VPC range', () => {
    const withDatabase = gatewayTestStack({
      service: (stack) => ({
        upstreamSecurityGroup: ec2.SecurityGroup.fromSecurityGroupId(stack, 'Db', 'sg-0123456789abcdef0'),
      }),
    });
    const t = Template.fromStack(withDatabase.stack);
    const tasks = withDatabase.stack.getLogicalId(
      withDatabase.gateway.node.findChild('SecurityGroup').node.defaultChild as CfnElement,
    );
    expect(rulesOf(t, tasks, 'egress')).toEqual([
      '0.0.0.0/0 443',
      `${tasks} 6433`,
      'sg-0123456789abcdef0 5432',
    ]);
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: 'sg-0123456789abcdef0',
      SourceSecurityGroupId: { 'Fn::GetAtt': [tasks, 'GroupId'] },
      FromPort: 5432,
    });
  });

  it('scales between 2 and 10 tasks on CPU and on connections per task (Gatehouse/Connections, Service=gateway)', () => {
    expect(only('AWS::ApplicationAutoScaling::ScalableTarget').Properties).toMatchObject({
      MinCapacity: 2,
      MaxCapacity: 10,
      ScalableDimension: 'ecs:service:DesiredCount',
    });
    const policies = Object.values(resources)
      .filter((r) => r.Type === 'AWS::ApplicationAutoScaling::ScalingPolicy')
      .map((r) => r.Properties.TargetTrackingScalingPolicyConfiguration);
    expect(policies).toEqual([
      {
        PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' },
        TargetValue: 60,
        ScaleOutCooldown: 60,
        ScaleInCooldown: 600,
      },
      {
        CustomizedMetricSpecification: {
          Namespace: 'Gatehouse',
          MetricName: 'Connections',
          Dimensions: [{ Name: 'Service', Value: 'gateway' }],
          Statistic: 'Average',
        },
        TargetValue: 1000,
        ScaleOutCooldown: 60,
        ScaleInCooldown: 600,
      },
    ]);
  });
});

describe('GatewayService peer discovery', () => {
  /** The one resource of `type` in `t`. */
  const onlyIn = (t: Template, type: string) => {
    const found = Object.values(t.toJSON().Resources as typeof resources).filter((r) => r.Type === type);
    expect(found).toHaveLength(1);
    return found[0]!;
  };

  it('registers every task in a private Cloud Map namespace of the VPC: A records, multivalue, 10-second TTL', () => {
    const namespace = gatewayId('PeerNamespace');
    expect(only('AWS::ServiceDiscovery::PrivateDnsNamespace').Properties).toMatchObject({
      Name: 'gatehouse.internal',
      Vpc: 'vpc-0a1b2c3d4e5f60718',
    });
    expect(only('AWS::ServiceDiscovery::Service').Properties).toEqual({
      Name: 'gateway',
      NamespaceId: { 'Fn::GetAtt': [namespace, 'Id'] },
      DnsConfig: {
        NamespaceId: { 'Fn::GetAtt': [namespace, 'Id'] },
        DnsRecords: [{ Type: 'A', TTL: 10 }],
        RoutingPolicy: 'MULTIVALUE',
      },
      // ECS reports each task's health to Cloud Map: a task that fails its health check leaves the answer.
      HealthCheckCustomConfig: { FailureThreshold: 1 },
    });
    const registry = Object.entries(resources).find(([, r]) => r.Type === 'AWS::ServiceDiscovery::Service')!;
    expect(only('AWS::ECS::Service').Properties.ServiceRegistries).toEqual([
      { RegistryArn: { 'Fn::GetAtt': [registry[0], 'Arn'] } },
    ]);
    expect(test.gateway.peerNamespace.namespaceName).toBe('gatehouse.internal');
  });

  it('gives the gateway that name and the peer port to find the other tasks by, in a configuration it accepts', () => {
    const { cancel } = parseGatewayConfig(deployedConfig());
    const service = only('AWS::ServiceDiscovery::Service').Properties;
    const namespace = only('AWS::ServiceDiscovery::PrivateDnsNamespace').Properties;
    expect(cancel.peerDiscovery).toEqual({
      dnsName: `${service.Name}.${namespace.Name}`,
      port: cancel.peerPort,
      refreshMs: 5_000,
    });
    expect(cancel.peers).toEqual([]);
    // The port is the container's peer-cancel port, which only the service's own group may reach.
    expect(container().PortMappings).toContainEqual({
      Name: 'peer-cancel',
      ContainerPort: 6433,
      Protocol: 'tcp',
    });
    const tasks = gatewayId('SecurityGroup');
    expect(rulesOf(template, tasks, 'ingress').filter((rule) => rule.endsWith(' 6433'))).toEqual([
      `${tasks} 6433`,
    ]);
  });

  it('registers in a namespace it is given, under the service name it is given, and creates none', () => {
    // GIVEN
    const shared = gatewayTestStack({
      service: (stack) => ({
        peerNamespace: servicediscovery.PrivateDnsNamespace.fromPrivateDnsNamespaceAttributes(
          stack,
          'Shared',
          {
            namespaceName: 'corp.internal',
            namespaceId: 'ns-0123456789abcdef',
            namespaceArn: 'arn:aws:servicediscovery:eu-west-1:123456789012:namespace/ns-0123456789abcdef',
          },
        ),
        peerServiceName: 'gatehouse-billing',
      }),
    });
    // WHEN
    const t = Template.fromStack(shared.stack);
    // THEN
    t.resourceCountIs('AWS::ServiceDiscovery::PrivateDnsNamespace', 0);
    expect(onlyIn(t, 'AWS::ServiceDiscovery::Service').Properties).toMatchObject({
      Name: 'gatehouse-billing',
      NamespaceId: 'ns-0123456789abcdef',
    });
    const config = parseGatewayConfig(deployedConfig(onlyIn(t, 'AWS::SSM::Parameter')));
    expect(config.cancel.peerDiscovery?.dnsName).toBe('gatehouse-billing.corp.internal');
    expect(shared.gateway.peerNamespace.namespaceId).toBe('ns-0123456789abcdef');
  });

  it('leaves the look-up interval to the owner', () => {
    const tuned = gatewayTestStack({
      service: { gatewayConfig: { ...CONFIG_FRAGMENT, cancel: { peerDiscovery: { refreshMs: 1_000 } } } },
    });
    const config = parseGatewayConfig(
      deployedConfig(onlyIn(Template.fromStack(tuned.stack), 'AWS::SSM::Parameter')),
    );
    expect(config.cancel.peerDiscovery).toEqual({
      dnsName: 'gateway.gatehouse.internal',
      port: 6433,
      refreshMs: 1_000,
    });
  });
});

describe('GatewayService permissions', () => {
  const viaService = (service: string) => ({
    StringEquals: { 'kms:ViaService': `${service}.eu-west-1.amazonaws.com` },
  });

  it('task role: exactly what the gateway calls, on exactly the resources given', () => {
    expect(statementsOf(template, gatewayId('TaskRole'))).toEqual(
      [
        allow(['s3:PutObject', 's3:PutObjectRetention'], `${AUDIT_BUCKET_ARN}/audit/*`),
        allow(['kms:GenerateDataKey'], dataKeyArn, viaService('s3')),
        allow(['s3:GetObject'], `${POLICY_BUCKET_ARN}/policy.yaml`),
        allow(['kms:Decrypt'], dataKeyArn, viaService('s3')),
        allow(['dynamodb:PutItem', 'dynamodb:BatchWriteItem'], TABLE_ARN, {
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['head#*', 'strict#*', 'session#*'] },
        }),
        allow(['dynamodb:Scan'], TABLE_ARN),
        allow(
          ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
          dataKeyArn,
          viaService('dynamodb'),
        ),
        allow(['kms:Sign'], SIGNING_KEY_ARN, {
          StringEquals: { 'kms:SigningAlgorithm': 'ECDSA_SHA_256', 'kms:MessageType': 'DIGEST' },
        }),
        allow(['logs:CreateLogStream', 'logs:PutLogEvents'], {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              `:logs:eu-west-1:123456789012:log-group:${AUDIT_LOG_GROUP}:*`,
            ],
          ],
        }),
        allow(['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], UPSTREAM_SECRET_ARN),
        allow(['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], TLS_SECRET_ARN),
        // The approvals double grants StartExecution; the real workflow adds its table's partitions.
        allow(['states:StartExecution'], STATE_MACHINE_ARN),
      ].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    );
    expect(test.approvalGrantees).toEqual([child(test.gateway, 'TaskRole')]);
  });

  it('execution role: pulls the image, writes the container’s logs, reads the configuration; nothing else', () => {
    const statements = statementsOf(template, gatewayId('ExecutionRole'));
    expect(statements.map((s) => s.Action.join(' ')).sort()).toEqual(
      [
        'ecr:BatchCheckLayerAvailability ecr:BatchGetImage ecr:GetDownloadUrlForLayer',
        'ecr:GetAuthorizationToken',
        'logs:CreateLogStream logs:PutLogEvents',
        'ssm:DescribeParameters ssm:GetParameter ssm:GetParameterHistory ssm:GetParameters',
      ].sort(),
    );
    expect(statements.find((s) => s.Action.includes('logs:PutLogEvents'))?.Resource).toEqual(arnOf('Logs'));
    expect(
      JSON.stringify(statements.find((s) => s.Action.includes('ssm:GetParameters'))?.Resource),
    ).toContain(gatewayId('Config'));
    expect(
      JSON.stringify(statements.find((s) => s.Action.includes('ecr:BatchGetImage'))?.Resource),
    ).toContain(':repository/cdk-hnb659fds-container-assets-');
  });
});

describe('GatewayService props', () => {
  function refusal(
    service: Partial<GatewayServiceProps> | ((stack: Stack) => Partial<GatewayServiceProps>),
    network = {},
  ): GatewayServiceError {
    try {
      gatewayTestStack({ service, network });
    } catch (error) {
      if (error instanceof GatewayServiceError) return error;
      throw error;
    }
    throw new Error('the props were accepted');
  }
  const fragment = (extra: Record<string, unknown>) => ({ gatewayConfig: { ...CONFIG_FRAGMENT, ...extra } });

  it.each<[string, Partial<GatewayServiceProps>, GatewayServiceErrorCode, RegExp]>([
    [
      'one task',
      { minTasks: 1 },
      'TasksOutOfRange',
      /^GatewayService minTasks: 1 is not a whole number from 2/,
    ],
    ['fewer tasks at most than at least', { minTasks: 4, maxTasks: 3 }, 'TasksOutOfRange', /maxTasks: 3/],
    ['a CPU size Fargate lacks', { cpu: 300 }, 'SizingInvalid', /cpu: 300 is not a Fargate CPU size/],
    [
      'memory that does not fit the CPU',
      { memoryLimitMiB: 1024 },
      'SizingInvalid',
      /memoryLimitMiB: 1024 MiB/,
    ],
    ['20 GiB of storage', { ephemeralStorageGiB: 20 }, 'EphemeralStorageOutOfRange', /21 to 200 GiB/],
    ['a privileged health port', { healthPort: 80 }, 'PortInvalid', /healthPort: 80 .* non-root/],
    [
      'the peer port on the health port',
      { peerPort: 6480 },
      'PortInvalid',
      /peerPort: 6480 is also healthPort/,
    ],
    ['a CPU target of 95 %', { cpuTargetPercent: 95 }, 'ScalingTargetInvalid', /cpuTargetPercent: 95/],
    [
      'a Cloud Map service name that is not a DNS label',
      { peerServiceName: 'Gateway_1' },
      'PeerServiceNameInvalid',
      /peerServiceName: "Gateway_1" is not a literal DNS label/,
    ],
    [
      'a static peer list',
      fragment({ cancel: { peers: ['10.0.0.1:6433'] } }),
      'ConfigConflict',
      /gatewayConfig.cancel.peers: set by the construct \(the tasks find each other in Cloud Map/,
    ],
    [
      'a discovery name of its own',
      fragment({ cancel: { peerDiscovery: { dnsName: 'gateway.example.internal' } } }),
      'ConfigConflict',
      /gatewayConfig.cancel.peerDiscovery.dnsName: set by the construct/,
    ],

    ['zero connections per task', { connectionsPerTask: 0 }, 'ScalingTargetInvalid', /connectionsPerTask/],
    [
      'a configured listen port',
      fragment({ listen: { port: 6432 } }),
      'ConfigConflict',
      /gatewayConfig.listen.port: set by the construct/,
    ],
    [
      'configured credentials',
      fragment({ credentials: { source: 'env', user: 'postgres' } }),
      'ConfigConflict',
      /gatewayConfig.credentials.source/,
    ],
    [
      'a certificate file',
      fragment({ tls: { certFile: '/c.pem', keyFile: '/k.pem' } }),
      'ConfigConflict',
      /tls.certFile: set by the construct \(the certificate is the tlsCertificate secret\)/,
    ],
    ['a policy file', fragment({ policy: { file: '/policy.yaml' } }), 'ConfigConflict', /policy.file/],
    [
      'a drain of its own',
      fragment({ drainMs: 5000 }),
      'ConfigConflict',
      /drainMs: set by the construct \(it is the load balancer’s deregistration delay/,
    ],
    [
      'tokens over plain TCP',
      fragment({ allowCleartextPasswordWithoutTls: true }),
      'ConfigConflict',
      /over TLS only/,
    ],
    [
      'Proxy Protocol off',
      fragment({ proxyProtocol: { enabled: false } }),
      'ConfigConflict',
      /proxyProtocol.enabled/,
    ],
    [
      'no upstream',
      { gatewayConfig: { issuers: CONFIG_FRAGMENT.issuers } },
      'ConfigIncomplete',
      /upstream.host: missing/,
    ],
    ['no issuer', fragment({ issuers: [] }), 'ConfigIncomplete', /issuers: missing or empty/],
    [
      'an idle timeout past the load balancer’s',
      fragment({ limits: { idleTimeoutMs: 3_660_000 } }),
      'IdleTimeoutNotBelowLoadBalancer',
      /3660000 ms is not under the load balancer’s TCP idle timeout \(3660000 ms\)/,
    ],
    [
      'no idle timeout',
      fragment({ limits: { idleTimeoutMs: 0 } }),
      'IdleTimeoutNotBelowLoadBalancer',
      /0 ms/,
    ],
    [
      'no embedded metrics',
      fragment({ health: { emfIntervalMs: 0 } }),
      'MetricsDisabled',
      /Connections metric/,
    ],
    [
      'an audit copy without its log group',
      { ...fragment({ audit: { cloudwatch: { intervalMs: 500 } } }), auditLogGroup: undefined },
      'ConfigConflict',
      /auditLogGroup prop/,
    ],
    [
      'approval settings without the workflow',
      { ...fragment({ approvals: { pollMs: 100 } }), approvals: undefined },
      'ConfigConflict',
      /approvals prop/,
    ],
  ])('refuses %s, naming the prop and the fix', (_case, props, code, message) => {
    const error = refusal(props);
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });

  it.each(['audit', '/audit/', 'audit/*/'])('refuses the audit prefix %j', (prefix) => {
    const error = refusal((stack) => ({
      audit: { bucket: s3.Bucket.fromBucketArn(stack, 'Elsewhere', AUDIT_BUCKET_ARN), prefix },
    }));
    expect(error).toMatchObject({ code: 'AuditPrefixInvalid', prop: 'audit.prefix' });
  });

  it('refuses a drain that does not fit Fargate’s stop timeout', () => {
    const error = refusal({}, { drain: Duration.seconds(101) });
    expect(error).toMatchObject({ code: 'DrainTooLong', prop: 'loadBalancing.drain' });
    expect(error.message).toMatch(/drain at most 100 seconds/);
  });

  it('refuses to synthesize for deployment before the artefact is packaged', () => {
    const exists = fs.existsSync;
    const spy = jest
      .spyOn(fs, 'existsSync')
      .mockImplementation((file) => file !== ARTIFACT_ENTRY && exists(file));
    try {
      expect(() => gatewayTestStack({}, new App())).toThrow(
        expect.objectContaining({
          code: 'ArtifactMissing',
          message: expect.stringMatching(/npm run package:gateway/),
        }),
      );
    } finally {
      spy.mockRestore();
    }
  });
});
