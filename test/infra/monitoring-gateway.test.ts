import { App, type CfnElement, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { IConstruct } from 'constructs';
import { emptySnapshot, toEmbeddedMetric } from '../../fargate-proxy/src/observability/metrics';
import { GATEWAY_METRICS, GATEWAY_NAMESPACE } from '../../infra/monitoring/gateway-metrics';
import {
  GatewayMonitoring,
  GatewayMonitoringError,
  type GatewayMonitoringErrorCode,
  type GatewayMonitoringProps,
} from '../../infra/monitoring/gateway-monitoring';

const ENV = { account: '123456789012', region: 'eu-west-1' };
const TG_ARN = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/gatehouse/0123456789abcdef';
const NLB_ARN =
  'arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/gatehouse/fedcba9876543210';
const SM_ARN = 'arn:aws:states:eu-west-1:123456789012:stateMachine:GatehouseApprovals';

interface Monitored {
  readonly stack: Stack;
  readonly monitoring: GatewayMonitoring;
  readonly template: Template;
}

/** A stack holding the monitoring of imported resources (owned by other stacks: no findings of theirs). */
function monitoredStack(props: Partial<GatewayMonitoringProps> = {}, withResources = true): Monitored {
  const stack = new Stack(new App(), 'MonitoringTest', { env: ENV });
  const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
    vpcId: 'vpc-0123',
    availabilityZones: ['eu-west-1a'],
  });
  const cluster = ecs.Cluster.fromClusterAttributes(stack, 'Cluster', { clusterName: 'gatehouse', vpc });
  const resources: Partial<GatewayMonitoringProps> = withResources
    ? {
        targetGroup: elbv2.NetworkTargetGroup.fromTargetGroupAttributes(stack, 'TargetGroup', {
          targetGroupArn: TG_ARN,
          loadBalancerArns: NLB_ARN,
        }),
        ecsService: ecs.FargateService.fromFargateServiceAttributes(stack, 'Service', {
          cluster,
          serviceName: 'gateway',
        }),
        approvalStateMachine: sfn.StateMachine.fromStateMachineArn(stack, 'Approvals', SM_ARN),
      }
    : {};
  const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  const monitoring = new GatewayMonitoring(stack, 'Monitoring', {
    ...resources,
    createAlarmTopic: { masterKey: key, emailAddresses: ['oncall@example.com'] },
    ...props,
  });
  return { stack, monitoring, template: Template.fromStack(stack) };
}

// The default case, synthesized once.
const main = monitoredStack();
const resources = main.template.toJSON().Resources as Record<
  string,
  { Type: string; Properties: Record<string, unknown> }
>;
const logicalId = (c: IConstruct) => main.stack.getLogicalId(c.node.defaultChild as CfnElement);
const alarmProps = (alarm: IConstruct | undefined) => {
  const resource = alarm && resources[logicalId(alarm)];
  if (resource?.Type !== 'AWS::CloudWatch::Alarm') throw new Error('not an alarm');
  return resource.Properties;
};
const topicRef = () => ({ Ref: logicalId(main.monitoring.alarmTopic as sns.Topic) });

/** One entry of an alarm's Metrics (the parts read here). */
interface AlarmMetric {
  readonly ReturnData?: boolean;
  readonly MetricStat?: { readonly Metric: { readonly MetricName: string } };
}

/** The dashboard body as JSON, CloudFormation tokens replaced by a marker. */
interface DashboardWidget {
  readonly type: string;
  readonly properties: { readonly metrics?: unknown[][]; readonly alarms?: unknown[] };
}
function dashboardBody(template: Template): { widgets: DashboardWidget[] } {
  const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
  expect(dashboards).toHaveLength(1);
  const body = dashboards[0]?.Properties.DashboardBody as string | { 'Fn::Join': [string, unknown[]] };
  const text =
    typeof body === 'string'
      ? body
      : body['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : 'TOKEN')).join('');
  return JSON.parse(text);
}
/** `[namespace, name, ...dimensions]` of every metric line in every graph. */
function graphedMetrics(template: Template): string[][] {
  return dashboardBody(template)
    .widgets.filter((w) => w.type === 'metric')
    .flatMap((w) =>
      (w.properties.metrics as unknown[][]).map(
        (line) => line.filter((x) => typeof x === 'string') as string[],
      ),
    );
}

const emfMetric = (name: string, stat: string, period: number) => ({
  MetricStat: {
    Metric: { Namespace: 'Gatehouse', MetricName: name, Dimensions: [{ Name: 'Service', Value: 'gateway' }] },
    Stat: stat,
    Period: period,
  },
});

describe('GatewayMonitoring', () => {
  describe('gateway metrics', () => {
    it('knows every metric the gateway emits (toEmbeddedMetric), under the same namespace and dimension', () => {
      const record = toEmbeddedMetric(emptySnapshot(), emptySnapshot(), 0) as {
        _aws: {
          CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[];
        };
        Service: string;
      };
      const [directive] = record._aws.CloudWatchMetrics;
      expect(directive?.Namespace).toBe(GATEWAY_NAMESPACE);
      expect(directive?.Dimensions).toEqual([['Service']]);
      expect(record.Service).toBe('gateway');
      expect(Object.keys(GATEWAY_METRICS).sort()).toEqual(directive?.Metrics.map((m) => m.Name).sort());
      // The four the lead engineer added for approvals and the audit pipeline are among them.
      expect(Object.keys(GATEWAY_METRICS)).toEqual(
        expect.arrayContaining(['ApprovalsRequested', 'ApprovalsPending', 'AuditBacklog', 'AuditFailures']),
      );
    });

    it('graphs every one of them on the dashboard', () => {
      const graphed = graphedMetrics(main.template)
        .filter(([namespace]) => namespace === 'Gatehouse')
        .map(([, name, dimension, value]) => {
          expect([dimension, value]).toEqual(['Service', 'gateway']);
          return name;
        });
      expect([...new Set(graphed)].sort()).toEqual(Object.keys(GATEWAY_METRICS).sort());
      const periods = dashboardBody(main.template)
        .widgets.filter((w) => w.type === 'metric')
        .flatMap((w) => w.properties.metrics as unknown[][])
        .filter((line) => line[0] === 'Gatehouse')
        .map((line) => (line.at(-1) as { period?: number }).period);
      expect(new Set(periods)).toEqual(new Set([60])); // one EMF interval
    });
  });

  describe('dashboard', () => {
    it('shows the alarms, the target group health, the service CPU and memory and the approval executions', () => {
      const body = dashboardBody(main.template);
      const alarmWidget = body.widgets.find((w) => w.type === 'alarm');
      expect(alarmWidget?.properties.alarms).toHaveLength(11);
      const graphed = graphedMetrics(main.template).map(([namespace, name]) => `${namespace}/${name}`);
      expect(graphed).toEqual(
        expect.arrayContaining([
          'AWS/NetworkELB/HealthyHostCount',
          'AWS/NetworkELB/UnHealthyHostCount',
          'AWS/ECS/CPUUtilization',
          'AWS/ECS/MemoryUtilization',
          'AWS/States/ExecutionsStarted',
          'AWS/States/ExecutionsSucceeded',
          'AWS/States/ExecutionsFailed',
          'AWS/States/ExecutionsTimedOut',
        ]),
      );
    });
  });

  describe('alarms', () => {
    const { alarms } = main.monitoring;

    it('fires on any audit failure within a minute', () => {
      expect(alarmProps(alarms.auditFailures)).toMatchObject({
        Metrics: [{ Id: 'm1', ...emfMetric('AuditFailures', 'Sum', 60), ReturnData: true }],
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Threshold: 1,
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
      });
    });

    it('fires on any signed audit file a task finds changed before shipping', () => {
      expect(alarmProps(alarms.auditTampered)).toMatchObject({
        Metrics: [{ Id: 'm1', ...emfMetric('AuditSelfCheckProblems', 'Sum', 300), ReturnData: true }],
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Threshold: 1,
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
      });
    });

    it('fires when a task’s audit backlog stays high for 15 minutes', () => {
      expect(alarmProps(alarms.auditBacklogHigh)).toMatchObject({
        Metrics: [{ Id: 'm1', ...emfMetric('AuditBacklog', 'Maximum', 300) }],
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Threshold: 100,
        EvaluationPeriods: 3,
      });
    });

    it('fires when the audit backlog grew in every 5-minute period for 30 minutes', () => {
      expect(alarmProps(alarms.auditBacklogGrowing)).toMatchObject({
        Metrics: [
          { Expression: 'DIFF(backlog)', ReturnData: true },
          { Id: 'backlog', ...emfMetric('AuditBacklog', 'Maximum', 300), ReturnData: false },
        ],
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
        EvaluationPeriods: 6,
        DatapointsToAlarm: 6,
        TreatMissingData: 'notBreaching',
      });
    });

    it('fires on a spike of rejected tokens', () => {
      expect(alarmProps(alarms.authFailureSpike)).toMatchObject({
        Metrics: [{ ...emfMetric('AuthFailures', 'Sum', 300) }],
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Threshold: 100,
      });
    });

    it('fires on an error rate of 10% over enough statements, in 2 of 3 periods', () => {
      expect(alarmProps(alarms.errorRate)).toMatchObject({
        Metrics: [
          { Expression: 'IF(statements >= 50, 100 * FILL(errors, 0) / statements, 0)', ReturnData: true },
          { Id: 'errors', ...emfMetric('Errors', 'Sum', 300), ReturnData: false },
          { Id: 'statements', ...emfMetric('Statements', 'Sum', 300), ReturnData: false },
        ],
        Threshold: 10,
        EvaluationPeriods: 3,
        DatapointsToAlarm: 2,
      });
    });

    it('fires when the gateway sends no metrics for 15 minutes (missing data breaches)', () => {
      expect(alarmProps(alarms.metricsMissing)).toMatchObject({
        Metrics: [{ ...emfMetric('Connections', 'SampleCount', 300) }],
        ComparisonOperator: 'LessThanThreshold',
        Threshold: 1,
        EvaluationPeriods: 3,
        TreatMissingData: 'breaching',
      });
    });

    it('fires when no target is healthy for 2 minutes (missing data breaches)', () => {
      expect(alarmProps(alarms.noHealthyHosts)).toMatchObject({
        Namespace: 'AWS/NetworkELB',
        MetricName: 'HealthyHostCount',
        Dimensions: [
          { Name: 'LoadBalancer', Value: 'net/gatehouse/fedcba9876543210' },
          { Name: 'TargetGroup', Value: 'targetgroup/gatehouse/0123456789abcdef' },
        ],
        Statistic: 'Minimum',
        Period: 60,
        ComparisonOperator: 'LessThanThreshold',
        Threshold: 1,
        EvaluationPeriods: 2,
        TreatMissingData: 'breaching',
      });
    });

    it('fires on any failed or timed-out approval execution', () => {
      const stat = (name: string) => ({
        MetricStat: {
          Metric: {
            Namespace: 'AWS/States',
            MetricName: name,
            Dimensions: [{ Name: 'StateMachineArn', Value: SM_ARN }],
          },
          Stat: 'Sum',
          Period: 300,
        },
      });
      expect(alarmProps(alarms.approvalExecutionsFailed)).toMatchObject({
        Metrics: [
          { Expression: 'FILL(failed, 0) + FILL(timedOut, 0)' },
          { Id: 'failed', ...stat('ExecutionsFailed') },
          { Id: 'timedOut', ...stat('ExecutionsTimedOut') },
        ],
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Threshold: 1,
      });
    });

    it.each([
      ['cpuHigh', 'CPUUtilization'],
      ['memoryHigh', 'MemoryUtilization'],
    ] as const)('%s watches the service’s %s over 15 minutes', (alarm, metric) => {
      expect(alarmProps(alarms[alarm])).toMatchObject({
        Namespace: 'AWS/ECS',
        MetricName: metric,
        Dimensions: [
          { Name: 'ClusterName', Value: 'gatehouse' },
          { Name: 'ServiceName', Value: 'gateway' },
        ],
        Statistic: 'Average',
        Threshold: 85,
        EvaluationPeriods: 3,
      });
    });

    it('notifies the topic on ALARM and on OK, for every alarm', () => {
      const all = Object.values(alarms);
      expect(all).toHaveLength(11);
      main.template.resourceCountIs('AWS::CloudWatch::Alarm', 11);
      for (const alarm of all) {
        expect(alarmProps(alarm)).toMatchObject({ AlarmActions: [topicRef()], OKActions: [topicRef()] });
        expect(alarmProps(alarm).AlarmDescription).toMatch(/^Gatehouse: /);
      }
    });
  });

  describe('alarm topic', () => {
    it('is encrypted with the key given and subscribes the addresses', () => {
      main.template.resourceCountIs('AWS::SNS::Topic', 1);
      main.template.hasResourceProperties('AWS::SNS::Topic', {
        KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Key'), 'Arn'] },
      });
      main.template.hasResourceProperties('AWS::SNS::Subscription', {
        Protocol: 'email',
        Endpoint: 'oncall@example.com',
        TopicArn: topicRef(),
      });
    });

    it('refuses publishing without TLS and admits CloudWatch alarms of this account only', () => {
      main.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        Topics: [topicRef()],
        PolicyDocument: {
          Statement: [
            {
              Effect: 'Deny',
              Principal: '*',
              Action: 'sns:Publish',
              Resource: topicRef(),
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            },
            {
              Sid: 'CloudWatchAlarmsPublish',
              Effect: 'Allow',
              Principal: { Service: 'cloudwatch.amazonaws.com' },
              Action: 'sns:Publish',
              Resource: topicRef(),
              Condition: {
                ArnLike: {
                  'aws:SourceArn': {
                    'Fn::Join': [
                      '',
                      ['arn:', { Ref: 'AWS::Partition' }, ':cloudwatch:eu-west-1:123456789012:alarm:*'],
                    ],
                  },
                },
                StringEquals: { 'aws:SourceAccount': '123456789012' },
              },
            },
          ],
        },
      });
    });

    it('lets CloudWatch use the key only for SNS topics of this account and region', () => {
      main.template.hasResourceProperties('AWS::KMS::Key', {
        KeyPolicy: {
          Statement: Match.arrayWith([
            {
              Sid: 'GatehouseAlarmTopic',
              Effect: 'Allow',
              Principal: { Service: 'cloudwatch.amazonaws.com' },
              Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
              Resource: '*',
              Condition: {
                ArnLike: {
                  'kms:EncryptionContext:aws:sns:topicArn': {
                    'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':sns:eu-west-1:123456789012:*']],
                  },
                },
              },
            },
          ]),
        },
      });
    });

    it('uses an existing topic instead when given one, and creates none', () => {
      const stack = new Stack(new App(), 'Existing', { env: ENV });
      const topic = sns.Topic.fromTopicArn(stack, 'Topic', 'arn:aws:sns:eu-west-1:123456789012:oncall');
      const monitoring = new GatewayMonitoring(stack, 'Monitoring', { alarmTopic: topic });
      const template = Template.fromStack(stack);
      template.resourceCountIs('AWS::SNS::Topic', 0);
      expect(monitoring.alarmTopic).toBe(topic);
      for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
        expect(alarm.Properties.AlarmActions).toEqual(['arn:aws:sns:eu-west-1:123456789012:oncall']);
      }
    });

    it('warns when the topic key is imported, since its policy must already admit CloudWatch', () => {
      const stack = new Stack(new App(), 'ImportedKey', { env: ENV });
      const key = kms.Key.fromKeyArn(
        stack,
        'Key',
        'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      );
      new GatewayMonitoring(stack, 'Monitoring', { createAlarmTopic: { masterKey: key } });
      Annotations.fromStack(stack).hasWarning(
        '/ImportedKey/Monitoring',
        Match.stringLikeRegexp('createAlarmTopic.masterKey is imported'),
      );
    });
  });

  describe('with less given', () => {
    it('has only the gateway alarms, without actions, when given no resources and no topic', () => {
      const stack = new Stack(new App(), 'Bare', { env: ENV });
      const monitoring = new GatewayMonitoring(stack, 'Monitoring');
      const template = Template.fromStack(stack);
      expect(Object.keys(monitoring.alarms).sort()).toEqual(
        [
          'auditBacklogGrowing',
          'auditBacklogHigh',
          'auditFailures',
          'auditTampered',
          'authFailureSpike',
          'errorRate',
          'metricsMissing',
        ].sort(),
      );
      expect(monitoring.alarmTopic).toBeUndefined();
      for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
        expect(alarm.Properties.AlarmActions).toBeUndefined();
      }
      expect(graphedMetrics(template).filter(([namespace]) => namespace !== 'Gatehouse')).toEqual([]);
    });

    it('drops the missing-metrics alarm on request', () => {
      const { monitoring } = monitoredStack({ alarmOnMissingMetrics: false });
      expect(monitoring.alarms.metricsMissing).toBeUndefined();
    });
  });

  it('applies the thresholds, period and names given', () => {
    const { template } = monitoredStack({
      thresholds: {
        auditFailuresPerMinute: 3,
        auditBacklogFiles: 20,
        auditBacklogGrowth: Duration.minutes(15),
        authFailuresPer5Minutes: 25,
        errorRatePercent: 2.5,
        errorRateMinStatements: 200,
        cpuUtilizationPercent: 70,
        memoryUtilizationPercent: 90,
      },
      period: Duration.minutes(5),
      dashboardName: 'Gatehouse-prod',
    });
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'Gatehouse-prod' });
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    const byMetric = (name: string) =>
      alarms.find(
        (a) =>
          a.MetricName === name ||
          (a.Metrics as AlarmMetric[] | undefined)?.some(
            (m) => m.MetricStat?.Metric.MetricName === name && m.ReturnData !== false,
          ),
      );
    expect(byMetric('AuditFailures')?.Threshold).toBe(3);
    expect(byMetric('AuthFailures')?.Threshold).toBe(25);
    expect(byMetric('CPUUtilization')?.Threshold).toBe(70);
    expect(byMetric('MemoryUtilization')?.Threshold).toBe(90);
    expect(alarms).toContainEqual(
      expect.objectContaining({ Threshold: 20, ComparisonOperator: 'GreaterThanOrEqualToThreshold' }),
    );
    expect(alarms).toContainEqual(
      expect.objectContaining({ Threshold: 0, EvaluationPeriods: 3, DatapointsToAlarm: 3 }),
    );
    expect(alarms).toContainEqual(
      expect.objectContaining({
        Threshold: 2.5,
        Metrics: expect.arrayContaining([
          expect.objectContaining({
            Expression: 'IF(statements >= 200, 100 * FILL(errors, 0) / statements, 0)',
          }),
        ]),
      }),
    );
    const periods = dashboardBody(template)
      .widgets.filter((w) => w.type === 'metric')
      .flatMap((w) => w.properties.metrics as unknown[][])
      .filter((line) => line[0] === 'Gatehouse')
      .map((line) => (line.at(-1) as { period?: number }).period ?? 300); // 300 s is the dashboard default, left out
    expect(new Set(periods)).toEqual(new Set([300]));
  });

  it('watches real resources of the same app by their CloudFormation names', () => {
    const stack = new Stack(new App(), 'Real', { env: ENV });
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0 });
    const nlb = new elbv2.NetworkLoadBalancer(stack, 'Nlb', { vpc });
    const listener = nlb.addListener('Pg', { port: 5432 });
    const cluster = new ecs.Cluster(stack, 'Cluster', { vpc });
    const task = new ecs.FargateTaskDefinition(stack, 'Task');
    task.addContainer('gateway', {
      image: ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/busybox:latest'),
      portMappings: [{ containerPort: 5432 }],
    });
    const service = new ecs.FargateService(stack, 'Service', { cluster, taskDefinition: task });
    const targetGroup = listener.addTargets('Gateway', { port: 5432, targets: [service] });
    const stateMachine = new sfn.StateMachine(stack, 'Approvals', {
      definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'Done')),
    });
    new GatewayMonitoring(stack, 'Monitoring', {
      targetGroup,
      ecsService: service,
      approvalStateMachine: stateMachine,
    });
    const template = Template.fromStack(stack);
    const id = (c: IConstruct) => stack.getLogicalId(c.node.defaultChild as CfnElement);
    const healthy = Object.values(
      template.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: 'HealthyHostCount' } }),
    );
    expect(healthy).toHaveLength(1);
    const [loadBalancer, group] = (healthy[0]?.Properties.Dimensions ?? []) as {
      Name: string;
      Value: unknown;
    }[];
    // CDK derives the load balancer's full name from the listener's ARN (app/…/net/name/id).
    expect(loadBalancer?.Name).toBe('LoadBalancer');
    expect(JSON.stringify(loadBalancer?.Value)).toContain(`{"Ref":"${id(listener)}"}`);
    expect(group).toEqual({
      Name: 'TargetGroup',
      Value: { 'Fn::GetAtt': [id(targetGroup), 'TargetGroupFullName'] },
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'CPUUtilization',
      Dimensions: [
        { Name: 'ClusterName', Value: { Ref: id(cluster) } },
        { Name: 'ServiceName', Value: { 'Fn::GetAtt': [id(service), 'Name'] } },
      ],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([
        Match.objectLike({
          Id: 'failed',
          MetricStat: Match.objectLike({
            Metric: Match.objectLike({
              Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: id(stateMachine) } }],
            }),
          }),
        }),
      ]),
    });
  });

  describe('refuses props that cannot deploy or would deploy wrong, naming the prop', () => {
    const key = () => kms.Key.fromKeyArn(new Stack(), 'K', 'arn:aws:kms:eu-west-1:123456789012:key/k');
    it.each<[string, () => GatewayMonitoringProps, GatewayMonitoringErrorCode, string]>([
      [
        'both an existing and a new topic',
        () => ({
          alarmTopic: sns.Topic.fromTopicArn(new Stack(), 'T', 'arn:aws:sns:eu-west-1:123456789012:t'),
          createAlarmTopic: { masterKey: key() },
        }),
        'TopicConflict',
        'alarmTopic, createAlarmTopic',
      ],
      [
        'an e-mail with a display name',
        () => ({ createAlarmTopic: { masterKey: key(), emailAddresses: ['On call <oncall@example.com>'] } }),
        'EmailInvalid',
        'createAlarmTopic.emailAddresses',
      ],
      [
        'an audit failure threshold of 0',
        () => ({ thresholds: { auditFailuresPerMinute: 0 } }),
        'ThresholdOutOfRange',
        'thresholds.auditFailuresPerMinute',
      ],
      [
        'a fractional backlog threshold',
        () => ({ thresholds: { auditBacklogFiles: 2.5 } }),
        'ThresholdOutOfRange',
        'thresholds.auditBacklogFiles',
      ],
      [
        'an error rate above 100%',
        () => ({ thresholds: { errorRatePercent: 150 } }),
        'ThresholdOutOfRange',
        'thresholds.errorRatePercent',
      ],
      [
        'a CPU threshold of 0%',
        () => ({ thresholds: { cpuUtilizationPercent: 0 } }),
        'ThresholdOutOfRange',
        'thresholds.cpuUtilizationPercent',
      ],
      [
        'a backlog growth window off the 5-minute grid',
        () => ({ thresholds: { auditBacklogGrowth: Duration.minutes(12) } }),
        'ThresholdOutOfRange',
        'thresholds.auditBacklogGrowth',
      ],
      [
        'a backlog growth window over a day',
        () => ({ thresholds: { auditBacklogGrowth: Duration.hours(25) } }),
        'ThresholdOutOfRange',
        'thresholds.auditBacklogGrowth',
      ],
      ['a 30-second period', () => ({ period: Duration.seconds(30) }), 'PeriodInvalid', 'period'],
      [
        'a dashboard name with spaces',
        () => ({ dashboardName: 'Gatehouse prod' }),
        'DashboardNameInvalid',
        'dashboardName',
      ],
      ['an AWS namespace', () => ({ namespace: 'AWS/Gatehouse' }), 'NamespaceInvalid', 'namespace'],
    ])('%s', (_case, props, code, prop) => {
      let error: unknown;
      try {
        new GatewayMonitoring(new Stack(new App(), 'Invalid'), 'Monitoring', props());
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(GatewayMonitoringError);
      expect(error).toMatchObject({ code, prop, name: 'GatewayMonitoringError' });
      expect((error as Error).message.startsWith(`GatewayMonitoring ${prop}: `)).toBe(true);
    });
  });
});
