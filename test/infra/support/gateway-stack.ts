import { App, Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import {
  type GatewayApprovals,
  type GatewayConfigFragment,
  GatewayService,
  type GatewayServiceProps,
} from '../../../infra/gateway/gateway-service';
import { GatewayNetwork, type GatewayNetworkProps } from '../../../infra/network/gateway-network';

export const ENV = { account: '123456789012', region: 'eu-west-1' };
export const VPC_CIDR = '10.40.0.0/16';
export const CONSUMER = 'arn:aws:iam::444455556666:root';
export const CLIENT_CIDR = '10.50.0.0/16';
export const AUDIT_BUCKET_ARN = 'arn:aws:s3:::gatehouse-evidence-123456789012';
export const POLICY_BUCKET_ARN = 'arn:aws:s3:::gatehouse-policy-123456789012';
export const TABLE_ARN = 'arn:aws:dynamodb:eu-west-1:123456789012:table/gatehouse-gateway';
export const SIGNING_KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/0f0e0d0c-0b0a-4098-8765-43210fedcba9';
export const UPSTREAM_SECRET_ARN =
  'arn:aws:secretsmanager:eu-west-1:123456789012:secret:gatehouse/upstream-AbCdEf';
export const TLS_SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:gatehouse/tls-GhIjKl';
export const AUDIT_LOG_GROUP = '/gatehouse/audit';
export const APPROVALS_TABLE_ARN = 'arn:aws:dynamodb:eu-west-1:123456789012:table/gatehouse-approvals';
export const STATE_MACHINE_ARN = 'arn:aws:states:eu-west-1:123456789012:stateMachine:gatehouse-approvals';

/** The part of the gateway configuration a deployment owner writes (the rest the construct decides). */
export const CONFIG_FRAGMENT: GatewayConfigFragment = {
  upstream: { host: 'billing.cluster-example.eu-west-1.rds.amazonaws.com', port: 5432, tls: 'disable' },
  issuers: [
    {
      name: 'github',
      issuer: 'https://token.actions.githubusercontent.com',
      jwksUri: 'https://token.actions.githubusercontent.com/.well-known/jwks',
      audience: 'gatehouse',
    },
  ],
  proxyProtocol: { allowedVpcEndpoints: ['vpce-0123456789abcdef0'] },
};

export interface GatewayTestStack {
  readonly app: App;
  readonly stack: Stack;
  readonly vpc: ec2.IVpc;
  readonly dataKey: kms.Key;
  readonly network: GatewayNetwork;
  readonly gateway: GatewayService;
  /** The grantees the approvals double was asked to grant. */
  readonly approvalGrantees: iam.IGrantable[];
}

/** An app that skips bundling: no artefact check, the image context staged as it is. */
export function testApp(): App {
  return new App({ context: { 'aws:cdk:bundling-stacks': [] } });
}

/** A VPC by attributes: two private subnets in two zones, no look-up and no VPC resources in the stack. */
export function testVpc(stack: Stack, zones = 2): ec2.IVpc {
  const availabilityZones = ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'].slice(0, zones);
  return ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
    vpcId: 'vpc-0a1b2c3d4e5f60718',
    vpcCidrBlock: VPC_CIDR,
    availabilityZones,
    privateSubnetIds: availabilityZones.map((_, i) => `subnet-0${i}a1b2c3d4e5f6071`),
  });
}

/**
 * A stack holding the network and the gateway service and what they are given: a data key of the stack
 * (its policy is tested), and every other resource imported (owned by other constructs, so not these
 * constructs' findings).
 */
export function gatewayTestStack(
  overrides: {
    network?: Partial<GatewayNetworkProps>;
    /** Props of the service, or a function of the stack for props that are constructs. */
    service?: Partial<GatewayServiceProps> | ((stack: Stack) => Partial<GatewayServiceProps>);
  } = {},
  app: App = testApp(),
): GatewayTestStack {
  const stack = new Stack(app, 'GatewayTest', { env: ENV });
  const serviceOverrides =
    typeof overrides.service === 'function' ? overrides.service(stack) : overrides.service;
  const vpc = overrides.network?.vpc ?? testVpc(stack);
  const dataKey = new kms.Key(stack, 'DataKey', { enableKeyRotation: true });
  const network = new GatewayNetwork(stack, 'Network', {
    vpc,
    allowedPrincipals: [new iam.ArnPrincipal(CONSUMER)],
    clientCidrs: [CLIENT_CIDR],
    ...overrides.network,
  });
  const approvalGrantees: iam.IGrantable[] = [];
  const stateMachine = sfn.StateMachine.fromStateMachineArn(stack, 'Approvals', STATE_MACHINE_ARN);
  const approvals: GatewayApprovals = {
    table: dynamodb.Table.fromTableArn(stack, 'ApprovalsTable', APPROVALS_TABLE_ARN),
    stateMachine,
    grantStart: (grantee) => {
      approvalGrantees.push(grantee);
      return stateMachine.grantStartExecution(grantee);
    },
  };
  const gateway = new GatewayService(stack, 'Gateway', {
    vpc,
    loadBalancing: network,
    gatewayConfig: CONFIG_FRAGMENT,
    dataKey,
    audit: {
      bucket: s3.Bucket.fromBucketAttributes(stack, 'AuditBucket', {
        bucketArn: AUDIT_BUCKET_ARN,
        encryptionKey: dataKey,
      }),
      prefix: 'audit/',
    },
    table: dynamodb.Table.fromTableAttributes(stack, 'Table', {
      tableArn: TABLE_ARN,
      encryptionKey: dataKey,
    }),
    signingKey: kms.Key.fromKeyArn(stack, 'SigningKey', SIGNING_KEY_ARN),
    auditLogGroup: logs.LogGroup.fromLogGroupName(stack, 'AuditLogs', AUDIT_LOG_GROUP),
    upstreamCredentials: secretsmanager.Secret.fromSecretCompleteArn(stack, 'Upstream', UPSTREAM_SECRET_ARN),
    tlsCertificate: secretsmanager.Secret.fromSecretCompleteArn(stack, 'Tls', TLS_SECRET_ARN),
    policy: {
      bucket: s3.Bucket.fromBucketAttributes(stack, 'PolicyBucket', {
        bucketArn: POLICY_BUCKET_ARN,
        encryptionKey: dataKey,
      }),
      key: 'policy.yaml',
    },
    approvals,
    ...serviceOverrides,
  });
  return { app, stack, vpc, dataKey, network, gateway, approvalGrantees };
}

/**
 * A security group's rules, inline or separate resources, as "source-or-destination port" strings,
 * sorted: a CIDR, a prefix list id or a security group's logical id.
 */
export function rulesOf(t: Template, groupLogicalId: string, direction: 'ingress' | 'egress'): string[] {
  const resources = t.toJSON().Resources as Record<
    string,
    { Type: string; Properties: Record<string, unknown> }
  >;
  const inlineKey = direction === 'ingress' ? 'SecurityGroupIngress' : 'SecurityGroupEgress';
  const inline = (resources[groupLogicalId]?.Properties[inlineKey] ?? []) as Record<string, unknown>[];
  const separate = Object.values(resources)
    .filter((r) => r.Type === `AWS::EC2::${inlineKey}`)
    .filter(
      (r) =>
        JSON.stringify(r.Properties.GroupId) ===
        JSON.stringify({ 'Fn::GetAtt': [groupLogicalId, 'GroupId'] }),
    )
    .map((r) => r.Properties);
  return [...inline, ...separate]
    .map((rule) => {
      // Another group: a logical id, or the id of an imported group.
      const group = (rule.SourceSecurityGroupId ?? rule.DestinationSecurityGroupId) as
        | { 'Fn::GetAtt': [string, string] }
        | string
        | undefined;
      const groupName = typeof group === 'string' ? group : group?.['Fn::GetAtt'][0];
      const peer = rule.CidrIp ?? rule.SourcePrefixListId ?? rule.DestinationPrefixListId ?? groupName;
      const ports = rule.FromPort === rule.ToPort ? `${rule.FromPort}` : `${rule.FromPort}-${rule.ToPort}`;
      if (rule.IpProtocol !== 'tcp') throw new Error(`not a TCP rule: ${JSON.stringify(rule)}`);
      return `${peer} ${ports}`;
    })
    .sort();
}

export interface Statement {
  readonly Action: string[];
  readonly Resource: unknown;
  readonly Condition?: unknown;
}

/** Every Allow statement of every policy attached to the role, actions sorted, in a stable order. */
export function statementsOf(t: Template, roleLogicalId: string): Statement[] {
  const statements: Statement[] = [];
  const resources = t.toJSON().Resources as Record<
    string,
    { Type: string; Properties: Record<string, unknown> }
  >;
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::IAM::Policy') continue;
    if (!JSON.stringify(resource.Properties.Roles).includes(`"${roleLogicalId}"`)) continue;
    const document = resource.Properties.PolicyDocument as { Statement: Record<string, unknown>[] };
    for (const s of document.Statement) {
      if (s.Effect !== 'Allow') throw new Error(`not an Allow statement: ${JSON.stringify(s)}`);
      const actions = (Array.isArray(s.Action) ? s.Action : [s.Action]) as string[];
      statements.push(allow(actions, s.Resource, s.Condition));
    }
  }
  return sortStatements(statements);
}

export function allow(actions: string[], resource: unknown, condition?: unknown): Statement {
  return { Action: [...actions].sort(), Resource: resource, ...(condition ? { Condition: condition } : {}) };
}

export function sortStatements(statements: Statement[]): Statement[] {
  return [...statements].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}
