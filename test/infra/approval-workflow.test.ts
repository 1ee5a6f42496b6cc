import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { App, type CfnElement, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ses from 'aws-cdk-lib/aws-ses';
import type { IConstruct } from 'constructs';
import type { ApprovalWorkflowProps } from '../../infra/approvals/approval-workflow';
import {
  ApprovalWorkflowError,
  type ApprovalWorkflowErrorCode,
} from '../../infra/approvals/approval-workflow-error';
import {
  addGatewayRole,
  approvalTestStack,
  SES_SENDER,
  SLACK_SECRET_ARN,
  testEntries,
} from './support/approval-stack';

// Synthesized once for the whole file.
const test = approvalTestStack();
const gatewayRole = addGatewayRole(test);
const template = Template.fromStack(test.stack);
const resources = template.toJSON().Resources as Record<
  string,
  { Type: string; Properties: Record<string, unknown> }
>;

function child(path: string): IConstruct {
  return path.split('/').reduce<IConstruct>((scope, id) => scope.node.findChild(id), test.workflow);
}
/** Logical id of a construct of the workflow by its construct path (construct ids are a contract). */
function logicalId(path: string): string {
  const node = child(path);
  return test.stack.getLogicalId((node.node.defaultChild ?? node) as CfnElement);
}
const arnOf = (path: string) => ({ 'Fn::GetAtt': [logicalId(path), 'Arn'] });
const refOf = (path: string) => ({ Ref: logicalId(path) });
const dataKeyArn = test.stack.resolve(test.dataKey.keyArn);
const resolved = (value: unknown) => test.stack.resolve(value);

interface Statement {
  readonly Action: string[];
  readonly Resource: unknown;
  readonly Condition?: unknown;
}

/** Every Allow statement of every policy attached to the role, actions sorted, order-independent. */
function statementsOf(roleLogicalId: string): Statement[] {
  const statements: Statement[] = [];
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::IAM::Policy') continue;
    // A policy attached by role ARN names the role through Fn::Split of its ARN: match the id anywhere.
    if (!JSON.stringify(resource.Properties.Roles).includes(`"${roleLogicalId}"`)) continue;
    const document = resource.Properties.PolicyDocument as { Statement: Record<string, unknown>[] };
    for (const s of document.Statement) {
      expect(s.Effect).toBe('Allow');
      const actions = (Array.isArray(s.Action) ? s.Action : [s.Action]) as string[];
      statements.push({
        Action: [...actions].sort(),
        Resource: s.Resource,
        ...(s.Condition ? { Condition: s.Condition } : {}),
      });
    }
  }
  return sortStatements(statements);
}
function sortStatements(statements: Statement[]): Statement[] {
  return [...statements].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}
function allow(actions: string[], resource: unknown, condition?: unknown): Statement {
  return { Action: [...actions].sort(), Resource: resource, ...(condition ? { Condition: condition } : {}) };
}

const viaDynamoDb = {
  StringEquals: { 'kms:ViaService': resolved(`dynamodb.${test.stack.region}.amazonaws.com`) },
};
const tableKey = allow(
  ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
  dataKeyArn,
  viaDynamoDb,
);
const items = (...partitions: string[]) =>
  allow(['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem'], arnOf('Table'), {
    'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': partitions },
  });
const stateMachineKey = allow(['kms:Decrypt', 'kms:GenerateDataKey'], dataKeyArn, {
  StringEquals: { 'kms:EncryptionContext:aws:states:stateMachineArn': refOf('StateMachine') },
});
const xray = allow(['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], '*');
const slackSecret = allow(
  ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
  SLACK_SECRET_ARN,
);

describe('ApprovalWorkflow', () => {
  it('runs a STANDARD state machine, traced, under the data key, logging without execution data', () => {
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      EncryptionConfiguration: { Type: 'CUSTOMER_MANAGED_KMS_KEY', KmsKeyId: dataKeyArn },
      LoggingConfiguration: {
        Level: 'ALL',
        IncludeExecutionData: false,
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: arnOf('StateMachineLogs') } }],
      },
    });
  });

  it('keeps approvals in a retained pk/sk table with PITR, TTL on expiresAt and the data key', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true, RecoveryPeriodInDays: 35 },
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: dataKeyArn },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        DeletionProtectionEnabled: true,
      },
    });
  });

  it('encrypts each of its three log groups with the data key and keeps them a year', () => {
    const groups = template.findResources('AWS::Logs::LogGroup');
    expect(Object.keys(groups).sort()).toEqual(
      [logicalId('NotifyLogs'), logicalId('DecideLogs'), logicalId('StateMachineLogs')].sort(),
    );
    for (const group of Object.values(groups)) {
      expect(group.Properties).toEqual({ KmsKeyId: dataKeyArn, RetentionInDays: 365 });
    }
  });

  it('lets CloudWatch Logs use the data key only for log groups of this account and region', () => {
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: resolved(`logs.${test.stack.region}.amazonaws.com`) },
            Condition: {
              ArnLike: {
                'kms:EncryptionContext:aws:logs:arn': resolved(
                  `arn:${test.stack.partition}:logs:${test.stack.region}:${test.stack.account}:log-group:*`,
                ),
              },
            },
          }),
        ]),
      },
    });
  });

  it('makes e-mail link MACs with an HMAC_256 key that cannot rotate and is retained', () => {
    template.hasResource('AWS::KMS::Key', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        KeySpec: 'HMAC_256',
        KeyUsage: 'GENERATE_VERIFY_MAC',
        EnableKeyRotation: false,
      }),
    });
  });

  it('opens a public URL on the decide function and nothing else', () => {
    template.resourceCountIs('AWS::Lambda::Url', 1);
    template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'NONE',
      TargetFunctionArn: arnOf('DecideFunction'),
    });
    const publicPermissions = Object.values(template.findResources('AWS::Lambda::Permission')).filter(
      (p) => p.Properties.Principal === '*',
    );
    expect(publicPermissions.map((p) => p.Properties.FunctionName)).toEqual([
      arnOf('DecideFunction'),
      arnOf('DecideFunction'),
    ]);
  });

  it.each([
    ['NotifyFunction', 'NotifyLogs', 'NotifyRole', 5, 30],
    ['DecideFunction', 'DecideLogs', 'DecideRole', 10, 10],
  ])(
    'runs %s on Node 22 arm64, traced, JSON logs to its own group, reserved concurrency',
    (fn, logs, role, concurrency, timeout) => {
      expect(resources[logicalId(fn)]?.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogFormat: 'JSON', LogGroup: refOf(logs) },
        ReservedConcurrentExecutions: concurrency,
        Timeout: timeout,
        Role: arnOf(role),
      });
    },
  );

  it('gives notify the decide URL and the channels, and decide only what it verifies with', () => {
    const common = {
      TABLE_NAME: refOf('Table'),
      LINK_KEY_ID: refOf('LinkKey'),
      NODE_OPTIONS: '--enable-source-maps',
      SLACK_SECRET_ARN,
    };
    expect(resources[logicalId('NotifyFunction')]?.Properties.Environment).toEqual({
      Variables: {
        ...common,
        DECIDE_URL: { 'Fn::GetAtt': [logicalId('DecideFunction/FunctionUrl'), 'FunctionUrl'] },
        SLACK_CHANNEL: 'C0123456789',
        SES_SENDER,
      },
    });
    expect(resources[logicalId('DecideFunction')]?.Properties.Environment).toEqual({ Variables: common });
  });
});

describe('ApprovalWorkflow bundling', () => {
  it('bundles both handlers with the local esbuild (no Docker), minified with external source maps', () => {
    // GIVEN an app that bundles (the default), WHEN the workflow is built and synthesized
    const bundled = approvalTestStack({}, new App());
    const assembly = bundled.app.synth();
    const functions = Template.fromStack(bundled.stack).findResources('AWS::Lambda::Function');
    // THEN each function's code is an esbuild bundle with its map, the sources left out of the map
    expect(Object.keys(functions)).toHaveLength(2);
    for (const fn of Object.values(functions)) {
      const key = (fn.Properties.Code as { S3Key: string }).S3Key;
      const bundle = path.join(assembly.directory, `asset.${key.replace(/\.zip$/, '')}`);
      expect(readdirSync(bundle).sort()).toEqual(['index.js', 'index.js.map']);
      const map = JSON.parse(readFileSync(path.join(bundle, 'index.js.map'), 'utf8')) as Record<
        string,
        unknown
      >;
      expect(map).not.toHaveProperty('sourcesContent');
    }
  });
});

describe('ApprovalWorkflow permissions', () => {
  const roles = ['NotifyRole', 'DecideRole', 'StateMachine/Role'];

  it.each(roles)(
    '%s has no wildcard action, and "*" only where IAM has no resource-level permission',
    (role) => {
      for (const statement of statementsOf(logicalId(role))) {
        for (const action of statement.Action) expect(action).not.toContain('*');
        if (statement.Resource === '*') {
          for (const action of statement.Action) expect(action).toMatch(/^(xray|logs):/);
        }
        expect(JSON.stringify(statement.Resource)).not.toMatch(/^"arn:aws:[^"]*\*/);
      }
    },
  );

  it('notify: its log group, the request partitions, the link key to make MACs, the secret, one SES identity', () => {
    expect(statementsOf(logicalId('NotifyRole'))).toEqual(
      sortStatements([
        allow(['logs:CreateLogStream', 'logs:PutLogEvents'], arnOf('NotifyLogs')),
        xray,
        items('request#*'),
        tableKey,
        allow(['kms:GenerateMac'], arnOf('LinkKey')),
        slackSecret,
        allow(['ses:SendEmail'], resolved(test.emailIdentity.emailIdentityArn), {
          StringEquals: { 'ses:FromAddress': SES_SENDER },
        }),
      ]),
    );
  });

  it('decide: its log group, the request partitions, the link key to verify MACs, the secret, task responses', () => {
    expect(statementsOf(logicalId('DecideRole'))).toEqual(
      sortStatements([
        allow(['logs:CreateLogStream', 'logs:PutLogEvents'], arnOf('DecideLogs')),
        xray,
        items('request#*'),
        tableKey,
        allow(['kms:VerifyMac'], arnOf('LinkKey')),
        slackSecret,
        allow(
          ['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:SendTaskHeartbeat'],
          refOf('StateMachine'),
        ),
        stateMachineKey,
      ]),
    );
  });

  it('state machine: invokes notify only, reads and writes the table only', () => {
    const statements = statementsOf(logicalId('StateMachine/Role'));
    const invoke = statements.filter((s) => s.Action.some((a) => a.startsWith('lambda:')));
    expect(invoke).toEqual([
      allow(
        ['lambda:InvokeFunction'],
        [arnOf('NotifyFunction'), { 'Fn::Join': ['', [arnOf('NotifyFunction'), ':*']] }],
      ),
    ]);
    const dynamo = statements.filter((s) => s.Action.some((a) => a.startsWith('dynamodb:')));
    expect(dynamo.map((s) => s.Action)).toEqual([['dynamodb:GetItem'], ['dynamodb:PutItem']]);
    expect(statements).toContainEqual(tableKey);
  });

  it('gateway (grantStart): starts this state machine, reads and writes request and binding partitions', () => {
    expect(statementsOf(test.stack.getLogicalId(gatewayRole.node.defaultChild as CfnElement))).toEqual(
      sortStatements([
        allow(['states:StartExecution'], refOf('StateMachine')),
        stateMachineKey,
        items('request#*', 'binding#*'),
        tableKey,
      ]),
    );
  });
});

describe('ApprovalWorkflow props', () => {
  const entries = testEntries();
  const elsewhere = new Stack();
  const secret = secretsmanager.Secret.fromSecretCompleteArn(elsewhere, 'Secret', SLACK_SECRET_ARN);
  const identity = ses.EmailIdentity.fromEmailIdentityName(elsewhere, 'Identity', 'example.com');

  function refusal(props: Partial<ApprovalWorkflowProps>): ApprovalWorkflowError {
    try {
      approvalTestStack(props);
    } catch (error) {
      if (error instanceof ApprovalWorkflowError) return error;
      throw error;
    }
    throw new Error('the props were accepted');
  }

  it.each<[string, Partial<ApprovalWorkflowProps>, ApprovalWorkflowErrorCode, RegExp]>([
    [
      'a maxTimeout under a minute',
      { maxTimeout: Duration.seconds(30) },
      'MaxTimeoutOutOfRange',
      /^ApprovalWorkflow maxTimeout: 30 seconds is outside 1 minute to 364 days/,
    ],
    [
      'a maxTimeout over 364 days',
      { maxTimeout: Duration.days(400) },
      'MaxTimeoutOutOfRange',
      /maxTimeout: 400 days/,
    ],
    [
      'a fractional maxTimeout',
      { maxTimeout: Duration.millis(90_500) },
      'MaxTimeoutOutOfRange',
      /whole seconds/,
    ],
    [
      'decideConcurrency 0',
      { decideConcurrency: 0 },
      'ConcurrencyOutOfRange',
      /decideConcurrency: 0 is not an integer from 1 to 1000/,
    ],
    [
      'a fractional notifyConcurrency',
      { notifyConcurrency: 2.5 },
      'ConcurrencyOutOfRange',
      /notifyConcurrency: 2.5/,
    ],
    [
      'no channel at all',
      { slack: undefined, email: undefined },
      'NoNotificationChannel',
      /slack, email: neither is set/,
    ],
    [
      'a sender with a display name',
      { email: { sender: 'Gatehouse <approvals@example.com>', identity } },
      'SenderNotAnAddress',
      /email.sender: .* bare e-mail address/,
    ],
    [
      'a Slack channel with a space',
      { slack: { secret, channel: 'approvals channel' } },
      'SlackChannelInvalid',
      /slack.channel/,
    ],
    [
      'a missing handler',
      { entries: { ...entries, notify: '/nonexistent/handler.ts' } },
      'EntryNotFound',
      /entries.notify: \/nonexistent\/handler.ts does not exist/,
    ],
  ])('refuses %s, naming the prop and the fix', (_case, props, code, message) => {
    const error = refusal(props);
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });

  it('accepts Slack alone and e-mail alone', () => {
    expect(() => approvalTestStack({ email: undefined })).not.toThrow();
    expect(() => approvalTestStack({ slack: undefined })).not.toThrow();
  });
});
