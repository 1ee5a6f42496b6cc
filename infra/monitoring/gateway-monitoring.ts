import { Annotations, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { GATEWAY_METRICS, type GatewayMetricName } from './gateway-metrics';
import {
  type GatewayAlarmTopicProps,
  type GatewayMonitoringProps,
  type GatewayMonitoringSettings,
  monitoringSettings,
} from './gateway-monitoring-props';

export { GatewayMonitoringError, type GatewayMonitoringErrorCode } from './gateway-monitoring-error';
export type {
  GatewayAlarmThresholds,
  GatewayAlarmTopicProps,
  GatewayMonitoringProps,
} from './gateway-monitoring-props';

/** The alarms, by what they watch; the optional ones exist only when their resource was given. */
export interface GatewayAlarms {
  /** Strict audit records not stored, or spool writes failed (AuditFailures ≥ threshold in a minute). */
  readonly auditFailures: cloudwatch.Alarm;
  /** A task's self-check found a signed audit file changed or gone before it was shipped. */
  readonly auditTampered: cloudwatch.Alarm;
  /** A task's unshipped audit files at or above the threshold for 15 minutes. */
  readonly auditBacklogHigh: cloudwatch.Alarm;
  /** The backlog grew in every 5-minute period of the growth window: shipping is stalled. */
  readonly auditBacklogGrowing: cloudwatch.Alarm;
  /** Rejected tokens in 5 minutes at or above the threshold. */
  readonly authFailureSpike: cloudwatch.Alarm;
  /** ErrorResponses as a share of statements, in 2 of 3 five-minute periods. */
  readonly errorRate: cloudwatch.Alarm;
  /** No gateway metrics for 15 minutes (`alarmOnMissingMetrics`). */
  readonly metricsMissing?: cloudwatch.Alarm;
  /** No healthy target for 2 minutes (`targetGroup`). */
  readonly noHealthyHosts?: cloudwatch.Alarm;
  /** Approval executions failed or timed out (`approvalStateMachine`). */
  readonly approvalExecutionsFailed?: cloudwatch.Alarm;
  /** CPU utilization of the service (`ecsService`). */
  readonly cpuHigh?: cloudwatch.Alarm;
  /** Memory utilization of the service (`ecsService`). */
  readonly memoryHigh?: cloudwatch.Alarm;
}

/** Alarm periods: audit failures are judged per minute, everything else over 5 minutes. */
const MINUTE = Duration.minutes(1);
const FIVE_MINUTES = Duration.minutes(5);

/**
 * The gateway's CloudWatch dashboard and alarms, from the EMF metrics it writes (namespace
 * `Gatehouse`, `Service=gateway`; see gateway-metrics.ts) and, when given, the NLB target group, the
 * ECS service and the approval state machine. Alarm and OK notifications go to `alarmTopic` when one is
 * given or created (KMS-encrypted, TLS-only).
 */
export class GatewayMonitoring extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: GatewayAlarms;
  /** Where alarm and OK notifications go, if anywhere. */
  readonly alarmTopic?: sns.ITopic;

  private readonly settings: GatewayMonitoringSettings;

  constructor(scope: Construct, id: string, props: GatewayMonitoringProps = {}) {
    super(scope, id);
    const settings = monitoringSettings(props);
    this.settings = settings;
    const { thresholds, targetGroup, ecsService, approvalStateMachine } = settings;

    this.alarmTopic =
      settings.alarmTopic ??
      (settings.createAlarmTopic ? this.createTopic(settings.createAlarmTopic) : undefined);

    // --- Alarms ------------------------------------------------------------------------------------
    const auditFailures = this.gatewayMetric('AuditFailures', { period: MINUTE }).createAlarm(
      this,
      'AuditFailures',
      {
        alarmDescription:
          'Gatehouse: audit records were not stored. Strict statements were refused (58030) or the spool could not ' +
          'be written (records wait in memory). Check the gateway table and the tasks’ disks and logs.',
        threshold: thresholds.auditFailuresPerMinute,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
    );

    const auditTampered = this.gatewayMetric('AuditSelfCheckProblems', { period: FIVE_MINUTES }).createAlarm(
      this,
      'AuditTampered',
      {
        alarmDescription:
          'Gatehouse: a task found an audit file it had signed changed or missing on its disk before shipping. ' +
          'Treat as tampering: keep the task for investigation and run gatehouse verify on the store.',
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
    );

    const backlog = this.gatewayMetric('AuditBacklog', { period: FIVE_MINUTES });
    const auditBacklogHigh = backlog.createAlarm(this, 'AuditBacklogHigh', {
      alarmDescription:
        'Gatehouse: a task holds many sealed audit files it has not shipped to S3 (retried without end). ' +
        'Check S3 and KMS access from the task; the files are on the task’s ephemeral storage until shipped.',
      threshold: thresholds.auditBacklogFiles,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const growthPeriods = thresholds.auditBacklogGrowth.toMinutes() / 5;
    const auditBacklogGrowing = new cloudwatch.MathExpression({
      expression: 'DIFF(backlog)',
      usingMetrics: { backlog },
      period: FIVE_MINUTES,
      label: 'Audit backlog change per 5 minutes',
    }).createAlarm(this, 'AuditBacklogGrowing', {
      alarmDescription:
        `Gatehouse: the audit backlog grew in every 5-minute period for ${thresholds.auditBacklogGrowth.toHumanString()}: ` +
        'shipping to S3 is stalled or slower than the records arrive.',
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: growthPeriods,
      datapointsToAlarm: growthPeriods,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    const authFailureSpike = this.gatewayMetric('AuthFailures', { period: FIVE_MINUTES }).createAlarm(
      this,
      'AuthFailureSpike',
      {
        alarmDescription:
          'Gatehouse: many tokens were rejected. A misconfigured client, an issuer key rotation, or someone ' +
          'trying tokens; the audit records of the refused connections name the source and the failed check.',
        threshold: thresholds.authFailuresPer5Minutes,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
    );

    const errorRate = new cloudwatch.MathExpression({
      expression: `IF(statements >= ${thresholds.errorRateMinStatements}, 100 * FILL(errors, 0) / statements, 0)`,
      usingMetrics: {
        errors: this.gatewayMetric('Errors', { period: FIVE_MINUTES }),
        statements: this.gatewayMetric('Statements', { period: FIVE_MINUTES }),
      },
      period: FIVE_MINUTES,
      label: 'Errors per 100 statements',
    }).createAlarm(this, 'ErrorRate', {
      alarmDescription:
        `Gatehouse: ${thresholds.errorRatePercent}% or more of statements ended in an ErrorResponse (the ` +
        'database’s own errors included) in 2 of 3 five-minute periods.',
      threshold: thresholds.errorRatePercent,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    const metricsMissing = settings.alarmOnMissingMetrics
      ? this.gatewayMetric('Connections', { period: FIVE_MINUTES, statistic: 'SampleCount' }).createAlarm(
          this,
          'MetricsMissing',
          {
            alarmDescription:
              'Gatehouse: no gateway metrics for 15 minutes. No task is running, or its EMF log lines do not ' +
              'reach CloudWatch; until they do, no other gateway alarm can fire.',
            threshold: 1,
            comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluationPeriods: 3,
            treatMissingData: cloudwatch.TreatMissingData.BREACHING,
          },
        )
      : undefined;

    const noHealthyHosts = targetGroup
      ? targetGroup.metrics
          .healthyHostCount({ statistic: 'Minimum', period: MINUTE })
          .createAlarm(this, 'NoHealthyHosts', {
            alarmDescription:
              'Gatehouse: the load balancer has no healthy gateway task; new connections fail.',
            threshold: 1,
            comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluationPeriods: 2,
            treatMissingData: cloudwatch.TreatMissingData.BREACHING,
          })
      : undefined;

    const approvalExecutionsFailed = approvalStateMachine
      ? new cloudwatch.MathExpression({
          expression: 'FILL(failed, 0) + FILL(timedOut, 0)',
          usingMetrics: {
            failed: approvalStateMachine.metricFailed({ period: FIVE_MINUTES, statistic: 'Sum' }),
            timedOut: approvalStateMachine.metricTimedOut({ period: FIVE_MINUTES, statistic: 'Sum' }),
          },
          period: FIVE_MINUTES,
          label: 'Approval executions failed or timed out',
        }).createAlarm(this, 'ApprovalExecutionsFailed', {
          alarmDescription:
            'Gatehouse: approval executions failed or timed out. Approved, denied and timed-out requests ' +
            'succeed, so this is a fault (notify or DynamoDB); the held statements were refused.',
          threshold: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        })
      : undefined;

    const cpuHigh = ecsService
      ? ecsMetric(ecsService, 'CPUUtilization').createAlarm(this, 'CpuHigh', {
          alarmDescription: 'Gatehouse: the gateway service’s average CPU is high; add tasks or CPU.',
          threshold: thresholds.cpuUtilizationPercent,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 3,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        })
      : undefined;
    const memoryHigh = ecsService
      ? ecsMetric(ecsService, 'MemoryUtilization').createAlarm(this, 'MemoryHigh', {
          alarmDescription: 'Gatehouse: the gateway service’s average memory is high; add tasks or memory.',
          threshold: thresholds.memoryUtilizationPercent,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 3,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        })
      : undefined;

    this.alarms = {
      auditFailures,
      auditTampered,
      auditBacklogHigh,
      auditBacklogGrowing,
      authFailureSpike,
      errorRate,
      ...(metricsMissing ? { metricsMissing } : {}),
      ...(noHealthyHosts ? { noHealthyHosts } : {}),
      ...(approvalExecutionsFailed ? { approvalExecutionsFailed } : {}),
      ...(cpuHigh ? { cpuHigh } : {}),
      ...(memoryHigh ? { memoryHigh } : {}),
    };
    const alarmList = Object.values(this.alarms) as cloudwatch.Alarm[];
    if (this.alarmTopic) {
      const action = new actions.SnsAction(this.alarmTopic);
      for (const alarm of alarmList) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }

    // --- Dashboard ---------------------------------------------------------------------------------
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      ...(settings.dashboardName ? { dashboardName: settings.dashboardName } : {}),
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown:
          '# Gatehouse gateway\n' +
          `Metrics \`${settings.namespace}\` / \`Service=${settings.serviceDimension}\`, one record per task per EMF ` +
          'interval: counters are summed over tasks; gauges are the total over tasks (Sum) or the worst task (Maximum).',
        width: 24,
        height: 2,
      }),
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: alarmList, width: 24, height: 3 }),
    );
    this.dashboard.addWidgets(
      this.graph('Connections', ['Connections', 'ConnectionsAccepted']),
      this.graph('Statements', ['Statements', 'Refusals', 'Errors', 'ProtocolErrors']),
      this.graph('Authentication failures', ['AuthFailures']),
    );
    this.dashboard.addWidgets(
      this.graph(
        'Statement latency (ms)',
        ['AverageLatency'],
        [],
        [this.gatewayMetric('AverageLatency', { statistic: 'Maximum', label: 'Slowest task (mean)' })],
      ),
      this.graph('Approvals', ['ApprovalsRequested', 'ApprovalsPending']),
      this.graph('Approvals by outcome', [
        'ApprovalsApproved',
        'ApprovalsDenied',
        'ApprovalsTimedOut',
        'ApprovalsCancelled',
      ]),
      this.graph('Audit', ['AuditBacklog', 'AuditFailures', 'AuditSelfCheckProblems'], [auditBacklogHigh]),
    );
    const row: cloudwatch.IWidget[] = [this.graph('Client bytes', ['BytesIn', 'BytesOut'])];
    if (targetGroup) {
      row.push(
        new cloudwatch.GraphWidget({
          title: 'Load balancer targets',
          left: [
            targetGroup.metrics.healthyHostCount({ statistic: 'Minimum', period: settings.period }),
            targetGroup.metrics.unHealthyHostCount({ statistic: 'Maximum', period: settings.period }),
          ],
          leftAnnotations: [{ value: 1, label: 'No healthy host below', color: cloudwatch.Color.RED }],
          width: 8,
          height: 6,
        }),
      );
    }
    if (ecsService) {
      row.push(
        new cloudwatch.GraphWidget({
          title: 'Service CPU and memory (%)',
          left: [ecsMetric(ecsService, 'CPUUtilization'), ecsMetric(ecsService, 'MemoryUtilization')],
          leftYAxis: { min: 0, max: 100 },
          width: 8,
          height: 6,
        }),
      );
    }
    this.dashboard.addWidgets(...row);
    if (approvalStateMachine) {
      const period = FIVE_MINUTES;
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({
          title: 'Approval workflow executions',
          left: [
            approvalStateMachine.metricStarted({ period, statistic: 'Sum' }),
            approvalStateMachine.metricSucceeded({ period, statistic: 'Sum' }),
            approvalStateMachine.metricFailed({ period, statistic: 'Sum' }),
            approvalStateMachine.metricTimedOut({ period, statistic: 'Sum' }),
          ],
          width: 12,
          height: 6,
        }),
      );
    }
  }

  /** A gateway EMF metric with its usual statistic, at the dashboard period unless told. */
  private gatewayMetric(
    name: GatewayMetricName,
    options: { period?: Duration; statistic?: string; label?: string } = {},
  ): cloudwatch.Metric {
    const spec = GATEWAY_METRICS[name];
    return new cloudwatch.Metric({
      namespace: this.settings.namespace,
      metricName: name,
      dimensionsMap: { Service: this.settings.serviceDimension },
      statistic: options.statistic ?? spec.statistic,
      period: options.period ?? this.settings.period,
      label: options.label ?? spec.label,
    });
  }

  /** Gateway metrics at the dashboard period; alarms drawn only when judged on the same statistic. */
  private graph(
    title: string,
    names: GatewayMetricName[],
    alarms: cloudwatch.Alarm[] = [],
    extra: cloudwatch.IMetric[] = [],
  ): cloudwatch.GraphWidget {
    return new cloudwatch.GraphWidget({
      title,
      left: [...names.map((name) => this.gatewayMetric(name)), ...extra],
      leftAnnotations: alarms.map((alarm) => alarm.toAnnotation()),
      width: 8,
      height: 6,
    });
  }

  /**
   * A TLS-only topic under the given key. Its policy lets CloudWatch alarms of this account publish;
   * the key's policy lets CloudWatch use the key for this account's topics (SNS encrypts each message
   * in the topic ARN's encryption context).
   */
  private createTopic(props: GatewayAlarmTopicProps): sns.Topic {
    const stack = Stack.of(this);
    const topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'Gatehouse gateway alarms',
      masterKey: props.masterKey,
      enforceSSL: true,
    });
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: {
          ArnLike: {
            'aws:SourceArn': `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:*`,
          },
          StringEquals: { 'aws:SourceAccount': stack.account },
        },
      }),
    );
    const added = props.masterKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'GatehouseAlarmTopic',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: {
          // The topic's own ARN would be a cycle (the topic names the key); its account and region are not.
          ArnLike: {
            'kms:EncryptionContext:aws:sns:topicArn': `arn:${stack.partition}:sns:${stack.region}:${stack.account}:*`,
          },
        },
      }),
      /* allowNoOp */ true,
    );
    if (!added.statementAdded) {
      Annotations.of(this).addWarningV2(
        'gatehouse:monitoring:importedTopicKey',
        'createAlarmTopic.masterKey is imported, so its policy cannot be changed here: it must allow ' +
          'cloudwatch.amazonaws.com kms:Decrypt and kms:GenerateDataKey*, or no alarm notification is delivered.',
      );
    }
    for (const address of props.emailAddresses ?? []) {
      topic.addSubscription(new subscriptions.EmailSubscription(address));
    }
    return topic;
  }
}

/** A metric of the ECS service (AWS/ECS, by cluster and service), averaged over 5 minutes. */
function ecsMetric(
  service: ecs.IBaseService,
  name: 'CPUUtilization' | 'MemoryUtilization',
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: 'AWS/ECS',
    metricName: name,
    dimensionsMap: { ClusterName: service.cluster.clusterName, ServiceName: service.serviceName },
    statistic: 'Average',
    period: FIVE_MINUTES,
  });
}
