import { type CfnElement, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, NIST80053R5Checks } from 'cdk-nag';
import { evidenceExportTestStack, testApp } from './evidence-export-stack';
import { acknowledgments } from './support/nag';

// The packs are registered on the app (cdk-nag v3: policy validation plugins), so synthesis itself
// fails on any unacknowledged finding, warnings included. One app, one synthesis, for the file.
const app = testApp();
const awsSolutions = new AwsSolutionsChecks(app);
const nist = new NIST80053R5Checks(app);
Validations.of(app).addPlugins(awsSolutions, nist);
const test = evidenceExportTestStack({}, app);

describe('EvidenceExport under cdk-nag', () => {
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
    const bucket = test.stack.getLogicalId(test.evidence.bucket.node.defaultChild as CfnElement);
    const acks = acknowledgments(test.exporter);
    expect(acks.map(({ path, id }) => `${path} ${id}`).sort()).toEqual(
      [
        'Function NIST.800.53.R5-LambdaInsideVPC',
        'Function AwsSolutions-L1',
        `Policy AwsSolutions-IAM5[Resource::<${bucket}.Arn>/audit/*]`,
        `Policy AwsSolutions-IAM5[Resource::<${bucket}.Arn>/exports/*]`,
      ].sort(),
    );
    for (const { reason } of acks) expect(reason.length).toBeGreaterThanOrEqual(60);
    // Nothing of the export is acknowledged outside it (the store's own acknowledgments are its own).
    const outside = acknowledgments(test.stack).filter(
      (a) => !a.path.startsWith('EvidenceExport/') && !a.path.startsWith('Evidence/'),
    );
    expect(outside).toEqual([]);
  });
});
