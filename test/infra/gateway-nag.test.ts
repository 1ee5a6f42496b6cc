import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, NIST80053R5Checks } from 'cdk-nag';
import { AUDIT_LOG_GROUP, gatewayTestStack, testApp } from './support/gateway-stack';
import { acknowledgments } from './support/nag';

// The packs are registered on the app (cdk-nag v3: policy validation plugins), so synthesis itself
// fails on any unacknowledged finding, warnings included. One app with the network and the gateway
// service, their inputs imported (other constructs own them), synthesized once.
const app = testApp();
const awsSolutions = new AwsSolutionsChecks(app);
const nist = new NIST80053R5Checks(app);
Validations.of(app).addPlugins(awsSolutions, nist);
const test = gatewayTestStack({}, app);

describe('GatewayNetwork and GatewayService under cdk-nag', () => {
  it.each([
    ['AwsSolutions', awsSolutions],
    ['NIST 800-53 rev 5', nist],
  ])('leave no unacknowledged %s finding', (_pack, pack) => {
    const report = pack.validateScope(test.stack);
    const findings = report.violations.map(
      (v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
    );
    expect(findings).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('synthesize with both packs registered as validation plugins', () => {
    expect(() => app.synth()).not.toThrow();
  });

  it('acknowledge only the findings that stand by design, each on its own construct with a reason', () => {
    const acks = acknowledgments(test.stack);
    expect(acks.map(({ path, id }) => `${path} ${id}`).sort()).toEqual(
      [
        'Network/LoadBalancer/Postgres NIST.800.53.R5-ELBv2ACMCertificateRequired',
        'Network/LoadBalancer NIST.800.53.R5-ELBLoggingEnabled',
        'Network/LoadBalancer AwsSolutions-ELB2',
        'Gateway/TaskRole NIST.800.53.R5-IAMNoInlinePolicy',
        'Gateway/ExecutionRole NIST.800.53.R5-IAMNoInlinePolicy',
        'Gateway/ExecutionRole AwsSolutions-IAM5[Resource::*]',
        'Gateway/TaskRole AwsSolutions-IAM5[Resource::arn:aws:s3:::gatehouse-evidence-123456789012/audit/*]',
        `Gateway/TaskRole AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:eu-west-1:123456789012:log-group:${AUDIT_LOG_GROUP}:*]`,
      ].sort(),
    );
    for (const { reason } of acks) expect(reason.length).toBeGreaterThanOrEqual(60);
  });
});
