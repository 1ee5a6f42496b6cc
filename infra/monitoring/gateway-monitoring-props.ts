import { Duration, Token } from 'aws-cdk-lib';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { GATEWAY_NAMESPACE, GATEWAY_SERVICE_DIMENSION } from './gateway-metrics';
import { GatewayMonitoringError } from './gateway-monitoring-error';

/** Where alarms go, when the construct makes the topic. */
export interface GatewayAlarmTopicProps {
  /**
   * The customer-managed key the topic is encrypted with. When it is a `kms.Key` of this app,
   * CloudWatch alarms are allowed to use it for SNS topics of this account and region; an imported
   * key's policy must allow that already (`kms:Decrypt`, `kms:GenerateDataKey*` for
   * `cloudwatch.amazonaws.com`), or no alarm is ever delivered.
   */
  readonly masterKey: kms.IKey;
  /**
   * Addresses subscribed by e-mail (each confirms once).
   *
   * @default - none: subscribe what you need to `GatewayMonitoring.alarmTopic`
   */
  readonly emailAddresses?: readonly string[];
}

/** When the alarms fire. Every count is per the alarm's own period, named with it. */
export interface GatewayAlarmThresholds {
  /**
   * `AuditFailures` (strict audit records not stored plus failed spool writes) in one minute at or
   * above which the alarm fires. Each is a statement refused or a record kept only in memory.
   *
   * @default 1
   */
  readonly auditFailuresPerMinute?: number;
  /**
   * `AuditBacklog` (sealed audit files a task has not shipped to S3) at or above which, for 15
   * minutes, the alarm fires. A writer seals at least a chunk and a digest every
   * `audit.digestIntervalMs` (60 s), so 100 is about an hour of one writer's output.
   *
   * @default 100
   */
  readonly auditBacklogFiles?: number;
  /**
   * How long the backlog must have grown in every 5-minute period before the alarm fires: shipping
   * is stalled even if the backlog is still small. A multiple of 5 minutes, 10 minutes to a day.
   *
   * @default Duration.minutes(30)
   */
  readonly auditBacklogGrowth?: Duration;
  /**
   * `AuthFailures` (tokens rejected) in 5 minutes at or above which the alarm fires.
   *
   * @default 100
   */
  readonly authFailuresPer5Minutes?: number;
  /**
   * `Errors` as a percentage of `Statements` over 5 minutes at or above which (2 periods of 3) the
   * alarm fires. `Errors` counts every ErrorResponse sent, the database's own included.
   *
   * @default 10
   */
  readonly errorRatePercent?: number;
  /**
   * Statements in 5 minutes below which the error rate is not judged (a few failing statements of a
   * quiet gateway are not an incident).
   *
   * @default 50
   */
  readonly errorRateMinStatements?: number;
  /**
   * Average CPU utilization (percent) of the ECS service over 15 minutes at or above which the alarm
   * fires. Only with `ecsService`.
   *
   * @default 85
   */
  readonly cpuUtilizationPercent?: number;
  /**
   * Average memory utilization (percent) of the ECS service over 15 minutes at or above which the
   * alarm fires. Only with `ecsService`.
   *
   * @default 85
   */
  readonly memoryUtilizationPercent?: number;
}

export interface GatewayMonitoringProps {
  /**
   * The NLB target group of the gateway tasks: dashboard of healthy and unhealthy hosts, and an alarm
   * when no host is healthy. It must be attached to its load balancer (the metrics need its name).
   *
   * @default - no target group widgets or alarm
   */
  readonly targetGroup?: elbv2.INetworkTargetGroup;
  /**
   * The gateway's ECS service: CPU and memory utilization, with alarms.
   *
   * @default - no ECS widgets or alarms
   */
  readonly ecsService?: ecs.IBaseService;
  /**
   * The approval state machine (`ApprovalWorkflow.stateMachine`): executions, and an alarm on failed or
   * timed-out ones. Approved, denied and timed-out approvals succeed, so these mean a fault.
   *
   * @default - no approval workflow widgets or alarm
   */
  readonly approvalStateMachine?: sfn.IStateMachine;
  /**
   * An existing topic for alarm and OK notifications. Exclusive with `createAlarmTopic`.
   *
   * @default - none
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Make a topic for alarm and OK notifications, KMS-encrypted and TLS-only. Exclusive with `alarmTopic`.
   * Without either, the alarms have no actions (and NIST.800.53.R5-CloudWatchAlarmAction flags them).
   *
   * @default - none
   */
  readonly createAlarmTopic?: GatewayAlarmTopicProps;
  /** @default - the defaults of each threshold */
  readonly thresholds?: GatewayAlarmThresholds;
  /**
   * Alarm when the gateway has sent no metrics for 15 minutes: no task running, or its EMF log lines
   * not reaching CloudWatch (`health.emfIntervalMs` must be 5 minutes or less). Without metrics every
   * other gateway alarm stays OK.
   *
   * @default true
   */
  readonly alarmOnMissingMetrics?: boolean;
  /**
   * The period of the dashboard's gateway graphs: a multiple of 60 s, no shorter than the gateway's
   * `health.emfIntervalMs` (so that a Sum of a gauge is the total over tasks).
   *
   * @default Duration.minutes(1)
   */
  readonly period?: Duration;
  /**
   * The dashboard's name.
   *
   * @default - generated by CloudFormation
   */
  readonly dashboardName?: string;
  /**
   * The metrics' namespace, as the gateway writes it.
   *
   * @default 'Gatehouse'
   */
  readonly namespace?: string;
  /**
   * The `Service` dimension's value, as the gateway writes it.
   *
   * @default 'gateway'
   */
  readonly serviceDimension?: string;
}

/** The props after defaults and checks. */
export interface GatewayMonitoringSettings {
  readonly targetGroup?: elbv2.INetworkTargetGroup;
  readonly ecsService?: ecs.IBaseService;
  readonly approvalStateMachine?: sfn.IStateMachine;
  readonly alarmTopic?: sns.ITopic;
  readonly createAlarmTopic?: GatewayAlarmTopicProps;
  readonly thresholds: Required<GatewayAlarmThresholds>;
  readonly alarmOnMissingMetrics: boolean;
  readonly period: Duration;
  readonly dashboardName?: string;
  readonly namespace: string;
  readonly serviceDimension: string;
}

/** Applies the defaults and refuses what cannot deploy or would deploy wrong, naming the prop and the fix. */
export function monitoringSettings(props: GatewayMonitoringProps): GatewayMonitoringSettings {
  if (props.alarmTopic && props.createAlarmTopic) {
    throw new GatewayMonitoringError(
      'TopicConflict',
      'alarmTopic, createAlarmTopic',
      'both are set; pass an existing topic or have one created, not both.',
    );
  }
  for (const address of props.createAlarmTopic?.emailAddresses ?? []) {
    if (!Token.isUnresolved(address) && !/^[^\s@<>"]+@[^\s@<>"]+\.[^\s@<>"]+$/.test(address)) {
      throw new GatewayMonitoringError(
        'EmailInvalid',
        'createAlarmTopic.emailAddresses',
        `"${address}" is not a bare e-mail address; write it as name@example.com.`,
      );
    }
  }
  const t = props.thresholds ?? {};
  const thresholds: Required<GatewayAlarmThresholds> = {
    auditFailuresPerMinute: count('thresholds.auditFailuresPerMinute', t.auditFailuresPerMinute ?? 1),
    auditBacklogFiles: count('thresholds.auditBacklogFiles', t.auditBacklogFiles ?? 100),
    auditBacklogGrowth: backlogGrowth(t.auditBacklogGrowth ?? Duration.minutes(30)),
    authFailuresPer5Minutes: count('thresholds.authFailuresPer5Minutes', t.authFailuresPer5Minutes ?? 100),
    errorRatePercent: percent('thresholds.errorRatePercent', t.errorRatePercent ?? 10),
    errorRateMinStatements: count('thresholds.errorRateMinStatements', t.errorRateMinStatements ?? 50),
    cpuUtilizationPercent: percent('thresholds.cpuUtilizationPercent', t.cpuUtilizationPercent ?? 85),
    memoryUtilizationPercent: percent(
      'thresholds.memoryUtilizationPercent',
      t.memoryUtilizationPercent ?? 85,
    ),
  };
  const dashboardName = props.dashboardName;
  if (
    dashboardName !== undefined &&
    !Token.isUnresolved(dashboardName) &&
    !/^[A-Za-z0-9_-]{1,255}$/.test(dashboardName)
  ) {
    throw new GatewayMonitoringError(
      'DashboardNameInvalid',
      'dashboardName',
      `"${dashboardName}" is not a dashboard name (1 to 255 of A-Z a-z 0-9 _ -), e.g. Gatehouse-prod.`,
    );
  }
  const namespace = props.namespace ?? GATEWAY_NAMESPACE;
  if (
    !Token.isUnresolved(namespace) &&
    (!/^[^:\s][^:]{0,254}$/.test(namespace) || namespace.startsWith('AWS/'))
  ) {
    throw new GatewayMonitoringError(
      'NamespaceInvalid',
      'namespace',
      `"${namespace}" is not a custom metric namespace (1 to 255 characters, no ":", not AWS/…); the gateway ` +
        `writes "${GATEWAY_NAMESPACE}".`,
    );
  }
  return Object.freeze({
    ...(props.targetGroup ? { targetGroup: props.targetGroup } : {}),
    ...(props.ecsService ? { ecsService: props.ecsService } : {}),
    ...(props.approvalStateMachine ? { approvalStateMachine: props.approvalStateMachine } : {}),
    ...(props.alarmTopic ? { alarmTopic: props.alarmTopic } : {}),
    ...(props.createAlarmTopic ? { createAlarmTopic: props.createAlarmTopic } : {}),
    thresholds: Object.freeze(thresholds),
    alarmOnMissingMetrics: props.alarmOnMissingMetrics ?? true,
    period: validatePeriod(props.period ?? Duration.minutes(1)),
    ...(dashboardName !== undefined ? { dashboardName } : {}),
    namespace,
    serviceDimension: props.serviceDimension ?? GATEWAY_SERVICE_DIMENSION,
  });
}

function count(prop: string, value: number): number {
  if (Token.isUnresolved(value) || (Number.isInteger(value) && value >= 1)) return value;
  throw new GatewayMonitoringError(
    'ThresholdOutOfRange',
    prop,
    `${value} is not a whole number of 1 or more; an alarm at 0 would always be in ALARM.`,
  );
}

function percent(prop: string, value: number): number {
  if (Token.isUnresolved(value) || (Number.isFinite(value) && value > 0 && value <= 100)) return value;
  throw new GatewayMonitoringError(
    'ThresholdOutOfRange',
    prop,
    `${value} is not a percentage above 0 and at most 100.`,
  );
}

function backlogGrowth(window: Duration): Duration {
  const minutes = window.isUnresolved() ? Number.NaN : window.toSeconds({ integral: false }) / 60;
  if (!Number.isInteger(minutes) || minutes % 5 !== 0 || minutes < 10 || minutes > 24 * 60) {
    throw new GatewayMonitoringError(
      'ThresholdOutOfRange',
      'thresholds.auditBacklogGrowth',
      `${window.toHumanString()} is not a multiple of 5 minutes from 10 minutes to 1 day (the alarm looks at ` +
        '5-minute periods, and CloudWatch evaluates at most a day); e.g. Duration.minutes(30).',
    );
  }
  return window;
}

function validatePeriod(period: Duration): Duration {
  const seconds = period.isUnresolved() ? Number.NaN : period.toSeconds({ integral: false });
  if (!Number.isInteger(seconds) || seconds % 60 !== 0 || seconds < 60 || seconds > 3600) {
    throw new GatewayMonitoringError(
      'PeriodInvalid',
      'period',
      `${period.toHumanString()} is not a whole number of minutes from 1 to 60; set it to the gateway's ` +
        'health.emfIntervalMs rounded up to a minute, e.g. Duration.minutes(1).',
    );
  }
  return period;
}
