import path from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, NIST80053R5Checks } from 'cdk-nag';
import { loadDeploymentConfig } from '../../infra/config/deployment-config';
import { GatehouseStack } from '../../infra/stacks/gatehouse-stack';

const EXAMPLE = path.join(__dirname, '..', '..', 'deploy', 'gatehouse.example.json');

// The example deployment, as `cdk synth` builds it (bundling skipped: no artefact or esbuild run),
// with both cdk-nag packs registered on the app as bin/app.ts does.
const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
const awsSolutions = new AwsSolutionsChecks(app);
const nist = new NIST80053R5Checks(app);
Validations.of(app).addPlugins(awsSolutions, nist);
const config = loadDeploymentConfig(EXAMPLE);
const stack = new GatehouseStack(app, config.stackName, { config });
const template = Template.fromStack(stack);

describe('the example deployment', () => {
  it.each([
    ['AwsSolutions', awsSolutions],
    ['NIST 800-53 rev 5', nist],
  ])('has no unacknowledged %s finding', (_pack, pack) => {
    const report = pack.validateScope(stack);
    const findings = report.violations.map(
      (v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
    );
    expect(findings).toEqual([]);
  });

  it('wires the subsystems: locked evidence, private endpoint, approvals, and the gateway between them', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockConfiguration: {
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 2555 } },
      },
    });
    template.hasResourceProperties('AWS::EC2::VPCEndpointService', {
      AcceptanceRequired: true,
    });
    template.hasResourceProperties('AWS::EC2::VPCEndpointServicePermissions', {
      AllowedPrincipals: ['arn:aws:iam::444455556666:root'],
    });
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    template.hasResourceProperties('AWS::ECS::Service', { DesiredCount: 2 });
    template.hasResourceProperties('AWS::EC2::FlowLog', { ResourceType: 'VPC' });
    // The gateway's configuration names the policy object, the CA bundle and the audit retention.
    const parameters = template.findResources('AWS::SSM::Parameter');
    const config = JSON.stringify(Object.values(parameters).map((p) => p.Properties.Value));
    expect(config).toContain('upstream-ca.pem');
    expect(config).toContain('\\"retentionDays\\":2555');
  });

  it('lets the gateway read the CA bundle beside the policy, and nothing else of that bucket', () => {
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p).includes('upstream-ca.pem'))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: unknown; Resource: unknown }[])
      .filter((statement) => JSON.stringify(statement.Resource).includes('upstream-ca.pem'));
    expect(statements).toEqual([
      {
        Action: 's3:GetObject',
        Effect: 'Allow',
        Resource: {
          'Fn::Join': [
            '',
            [{ 'Fn::GetAtt': [expect.stringMatching(/^PolicyBucket/), 'Arn'] }, '/upstream-ca.pem'],
          ],
        },
      },
    ]);
  });

  it('exports the evidence package daily from the audit store into exports/, rendering the policy object', () => {
    const functions = template.findResources('AWS::Lambda::Function', {
      Properties: { Description: Match.stringLikeRegexp('^Gatehouse evidence export') },
    });
    expect(Object.keys(functions)).toHaveLength(1);
    const [id, fn] = Object.entries(functions)[0]!;
    expect(fn.Properties).toMatchObject({
      ReservedConcurrentExecutions: 1,
      Timeout: 900,
      Environment: {
        Variables: {
          EVIDENCE_BUCKET: { Ref: expect.stringMatching(/^EvidenceBucket/) },
          AUDIT_PREFIX: 'audit/',
          EXPORTS_PREFIX: 'exports/',
          GATEWAY_TABLE: { Ref: expect.stringMatching(/^EvidenceTable/) },
          POLICY_BUCKET: { Ref: expect.stringMatching(/^PolicyBucket/) },
          POLICY_KEY: 'policy.yaml',
          SIGNING_KEY_ID: { 'Fn::GetAtt': [expect.stringMatching(/^EvidenceSigningKey/), 'Arn'] },
          SCHEDULED_PERIOD: 'day',
          ISSUERS: JSON.stringify({ github: 'https://token.actions.githubusercontent.com' }),
        },
      },
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'cron(30 1 * * ? *)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [id, 'Arn'] } })],
    });
    // Its only writes are packages below exports/ of the evidence bucket.
    const writes = Object.values(template.findResources('AWS::IAM::ManagedPolicy'))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: unknown; Resource: unknown }[])
      .filter((statement) => JSON.stringify(statement.Action).includes('s3:Put'));
    expect(writes).toEqual([
      {
        Action: 's3:PutObject',
        Effect: 'Allow',
        Resource: {
          'Fn::Join': [
            '',
            [{ 'Fn::GetAtt': [expect.stringMatching(/^EvidenceBucket/), 'Arn'] }, '/exports/*'],
          ],
        },
      },
    ]);
  });

  it("admits clients to the load balancer from the VPC's own CIDR only (the acknowledged EC23 finding)", () => {
    const groups = template.findResources('AWS::EC2::SecurityGroup', {
      Properties: { GroupDescription: Match.stringLikeRegexp('load balancer') },
    });
    const ingress = Object.values(groups).flatMap((g) => g.Properties.SecurityGroupIngress);
    expect(ingress).toEqual([
      expect.objectContaining({
        CidrIp: { 'Fn::GetAtt': [expect.stringMatching(/^Vpc/), 'CidrBlock'] },
        FromPort: 5432,
        ToPort: 5432,
      }),
    ]);
  });
});
