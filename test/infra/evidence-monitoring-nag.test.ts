import { App, type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { AwsSolutionsChecks, NIST80053R5Checks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { EvidenceStore } from '../../infra/evidence/evidence-store';
import { GatewayMonitoring } from '../../infra/monitoring/gateway-monitoring';
import { acknowledgments } from './support/nag';

// The packs are registered on the app (cdk-nag v3: policy validation plugins), so synthesis itself
// fails on any unacknowledged finding, warnings included. One app, one synthesis, for the file.
const app = new App(); // nothing to bundle: neither construct has a function
const awsSolutions = new AwsSolutionsChecks(app);
const nist = new NIST80053R5Checks(app);
Validations.of(app).addPlugins(awsSolutions, nist);

// Both constructs as the deployment wires them: monitoring alarms to a topic under the evidence data
// key; the target group, service and state machine are imported (their own stacks' findings are theirs).
const stack = new Stack(app, 'EvidenceMonitoringNag', {
  env: { account: '123456789012', region: 'eu-west-1' },
});
const evidence = new EvidenceStore(stack, 'Evidence');
const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { vpcId: 'vpc-0123', availabilityZones: ['eu-west-1a'] });
const monitoring = new GatewayMonitoring(stack, 'Monitoring', {
  targetGroup: elbv2.NetworkTargetGroup.fromTargetGroupAttributes(stack, 'TargetGroup', {
    targetGroupArn:
      'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/gatehouse/0123456789abcdef',
    loadBalancerArns:
      'arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/gatehouse/fedcba9876543210',
  }),
  ecsService: ecs.FargateService.fromFargateServiceAttributes(stack, 'Service', {
    cluster: ecs.Cluster.fromClusterAttributes(stack, 'Cluster', { clusterName: 'gatehouse', vpc }),
    serviceName: 'gateway',
  }),
  approvalStateMachine: sfn.StateMachine.fromStateMachineArn(
    stack,
    'Approvals',
    'arn:aws:states:eu-west-1:123456789012:stateMachine:GatehouseApprovals',
  ),
  createAlarmTopic: { masterKey: evidence.dataKey, emailAddresses: ['oncall@example.com'] },
});

// The grantees stand for roles of other stacks (the gateway task role, an auditors' role). The grant
// helpers acknowledge the one wildcard each grant writes on purpose; that CDK writes grants as the
// role's inline default policy is the owning stack's acknowledgment, made here for the stand-ins.
const gatewayRole = new iam.Role(stack, 'GatewayTaskRole', {
  assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
});
evidence.grantGatewayWrite(gatewayRole);
const auditorRole = new iam.Role(stack, 'AuditorRole', { assumedBy: new iam.AccountRootPrincipal() });
evidence.grantAuditorRead(auditorRole);
for (const role of [gatewayRole, auditorRole]) {
  Validations.of(role).acknowledge({
    id: 'NIST.800.53.R5-IAMNoInlinePolicy',
    reason: 'Test stand-in for a role of another stack, which owns how its grants are attached.',
  });
}

const logicalId = (c: IConstruct) => stack.getLogicalId(c.node.defaultChild as CfnElement);

describe('EvidenceStore and GatewayMonitoring under cdk-nag', () => {
  it.each([
    ['AwsSolutions', awsSolutions],
    ['NIST 800-53 rev 5', nist],
  ])('leave no unacknowledged %s finding', (_pack, pack) => {
    const report = pack.validateScope(stack);
    const findings = report.violations.map(
      (v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
    );
    expect(findings).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('synthesize with both packs registered as validation plugins', () => {
    expect(() => app.synth()).not.toThrow();
  });

  it('acknowledge only what stands by design, each on its own resource with a reason', () => {
    const acks = acknowledgments(evidence);
    expect(acks.map(({ path, id }) => `${path} ${id}`).sort()).toEqual(
      [
        'Bucket NIST.800.53.R5-S3BucketReplicationEnabled',
        'AccessLogBucket NIST.800.53.R5-S3DefaultEncryptionKMS',
        'AccessLogBucket NIST.800.53.R5-S3BucketLoggingEnabled',
        'AccessLogBucket AwsSolutions-S1',
        'AccessLogBucket NIST.800.53.R5-S3BucketReplicationEnabled',
        'Table NIST.800.53.R5-DynamoDBInBackupPlan',
      ].sort(),
    );
    for (const { reason } of acks) expect(reason.length).toBeGreaterThanOrEqual(60);
    // The monitoring needs none, and nothing is acknowledged wholesale on the stack.
    expect(acknowledgments(monitoring)).toEqual([]);
    expect(stack.node.metadata.filter((e) => e.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)).toEqual(
      [],
    );
  });

  it('acknowledge on a grantee exactly the object wildcard its grant wrote, nothing broader', () => {
    const bucket = logicalId(evidence.bucket);
    const logs = logicalId(evidence.accessLogBucket);
    const onRole = (role: iam.Role) =>
      acknowledgments(stack)
        .filter((a) => a.path === role.node.id && a.id.startsWith('AwsSolutions-IAM5'))
        .map((a) => a.id)
        .sort();
    expect(onRole(gatewayRole)).toEqual([`AwsSolutions-IAM5[Resource::<${bucket}.Arn>/audit/*]`]);
    expect(onRole(auditorRole)).toEqual(
      [
        `AwsSolutions-IAM5[Resource::<${bucket}.Arn>/*]`,
        `AwsSolutions-IAM5[Resource::<${logs}.Arn>/*]`,
      ].sort(),
    );
  });
});
