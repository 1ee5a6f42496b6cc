import { type CfnElement, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, NIST80053R5Checks } from 'cdk-nag';
import { approvalTestStack, testApp } from './support/approval-stack';
import { acknowledgments } from './support/nag';

// The packs are registered on the app (cdk-nag v3: policy validation plugins), so synthesis itself
// fails on any unacknowledged finding, warnings included. One app, one synthesis, for the file.
const app = testApp();
const awsSolutions = new AwsSolutionsChecks(app);
const nist = new NIST80053R5Checks(app);
Validations.of(app).addPlugins(awsSolutions, nist);
const test = approvalTestStack({}, app);

describe('ApprovalWorkflow under cdk-nag', () => {
  it.each([
    ['AwsSolutions', awsSolutions],
    ['NIST 800-53 rev 5', nist],
  ])('leaves no unacknowledged %s finding', (_pack, pack) => {
    const report = pack.validateScope(test.stack);
    const findings = report.violations.map(
      (v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
    );
    expect(findings).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('synthesizes with both packs registered as validation plugins', () => {
    expect(() => app.synth()).not.toThrow();
  });

  it('acknowledges only the findings that stand by design, each on its own construct with a reason', () => {
    const acks = acknowledgments(test.workflow);
    const notifyFn = test.stack.getLogicalId(
      test.workflow.node.findChild('NotifyFunction').node.defaultChild as CfnElement,
    );
    expect(acks.map(({ path, id }) => `${path} ${id}`).sort()).toEqual(
      [
        'DecideFunction NIST.800.53.R5-LambdaFunctionPublicAccessProhibited',
        'DecideFunction NIST.800.53.R5-LambdaInsideVPC',
        'DecideFunction NIST.800.53.R5-LambdaDLQ',
        'DecideFunction AwsSolutions-L1',
        'NotifyFunction NIST.800.53.R5-LambdaInsideVPC',
        'NotifyFunction NIST.800.53.R5-LambdaDLQ',
        'NotifyFunction AwsSolutions-L1',
        'NotifyRole AwsSolutions-IAM5[Resource::*]',
        'NotifyRole NIST.800.53.R5-IAMNoInlinePolicy',
        'DecideRole AwsSolutions-IAM5[Resource::*]',
        'DecideRole NIST.800.53.R5-IAMNoInlinePolicy',
        'StateMachine/Role AwsSolutions-IAM5[Resource::*]',
        'StateMachine/Role NIST.800.53.R5-IAMNoInlinePolicy',
        `StateMachine/Role AwsSolutions-IAM5[Resource::<${notifyFn}.Arn>:*]`,
        'DecideCallbacks/Policy NIST.800.53.R5-IAMNoInlinePolicy',
        'Table NIST.800.53.R5-DynamoDBInBackupPlan',
      ].sort(),
    );
    for (const { reason } of acks) expect(reason.length).toBeGreaterThanOrEqual(60);
    // Nothing is acknowledged wholesale on the workflow or the stack.
    expect(acknowledgments(test.stack).filter((a) => !a.path.startsWith('Approvals/'))).toEqual([]);
  });
});
