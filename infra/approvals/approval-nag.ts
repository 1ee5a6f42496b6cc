import { type CfnElement, type Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';

/** The parts of the workflow that carry an acknowledgment. */
export interface ApprovalNagParts {
  readonly stack: Stack;
  readonly notify: { readonly fn: lambda.Function; readonly role: iam.Role };
  readonly decide: { readonly fn: lambda.Function; readonly role: iam.Role };
  readonly decideCallbacks: iam.IRole;
  readonly stateMachine: sfn.StateMachine;
  readonly table: dynamodb.Table;
}

/**
 * The cdk-nag (v3) findings that stand by design, each acknowledged on the narrowest construct it
 * concerns with the reason it stands; everything else is fixed in the construct. Findings are
 * looked up on the resource and its ancestors, so nothing here reaches beyond its construct.
 */
export function acknowledgeApprovalFindings(parts: ApprovalNagParts): void {
  const { stack, notify, decide, decideCallbacks, stateMachine, table } = parts;
  const logicalId = (c: Construct): string => stack.getLogicalId(c.node.defaultChild as CfnElement);

  Validations.of(decide.fn).acknowledge({
    id: 'NIST.800.53.R5-LambdaFunctionPublicAccessProhibited',
    reason:
      'The decide function URL must be public (auth NONE): Slack interactivity and approvers following e-mail ' +
      'links carry no AWS credentials. Each request is authenticated in the function (Slack v0 signature or ' +
      'KMS HMAC link, POST only), and reserved concurrency bounds a flood.',
  });
  for (const fn of [notify.fn, decide.fn]) {
    Validations.of(fn).acknowledge({
      id: 'NIST.800.53.R5-LambdaInsideVPC',
      reason:
        'The function reaches only public endpoints (Slack, SES, KMS, DynamoDB, Step Functions) and no private ' +
        'resource; a VPC would add a NAT gateway for Slack and five interface endpoints without narrowing access, ' +
        'which IAM scopes per action and resource.',
    });
    Validations.of(fn).acknowledge({
      id: 'NIST.800.53.R5-LambdaDLQ',
      reason:
        'Invoked synchronously only (Step Functions Invoke, function URL), where a dead-letter queue never ' +
        'receives anything: failures surface to the state machine (Catch → outcome failed) or the caller.',
    });
    Validations.of(fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Pinned to nodejs22.x, the newest runtime the repository is built and tested for; the runtime moves with ' +
        'the repository, not per function.',
    });
  }

  const wildcardReasons: [iam.IRole, string][] = [
    [notify.role, 'X-Ray PutTraceSegments/PutTelemetryRecords (tracing) have no resource-level permissions.'],
    [decide.role, 'X-Ray PutTraceSegments/PutTelemetryRecords (tracing) have no resource-level permissions.'],
    [
      stateMachine.role,
      'X-Ray tracing and CloudWatch Logs vended-log delivery (CreateLogDelivery, PutResourcePolicy, ' +
        'DescribeLogGroups…) have no resource-level permissions; CDK adds exactly those for tracing and logging.',
    ],
  ];
  for (const [role, reason] of wildcardReasons) {
    Validations.of(role).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason });
    Validations.of(role).acknowledge({
      id: 'NIST.800.53.R5-IAMNoInlinePolicy',
      reason:
        'CDK writes grants as this role’s own policy, created, changed and deleted with the role and attachable to ' +
        'nothing else; every statement in it is scoped to this construct’s resources.',
    });
  }
  Validations.of(stateMachine.role).acknowledge({
    id: `AwsSolutions-IAM5[Resource::<${logicalId(notify.fn)}.Arn>:*]`,
    reason:
      'The Step Functions Lambda integration grants the notify function and its versions/aliases (ARN:*); it ' +
      'invokes nothing else.',
  });
  Validations.of(decideCallbacks.node.findChild('Policy')).acknowledge({
    id: 'NIST.800.53.R5-IAMNoInlinePolicy',
    reason:
      'The decide role’s state machine permissions, kept out of its default policy to break a deployment cycle; ' +
      'attached to that role only.',
  });
  Validations.of(table).acknowledge({
    id: 'NIST.800.53.R5-DynamoDBInBackupPlan',
    reason:
      'Point-in-time recovery (35 days) is on and the items are short-lived (TTL a week past expiry); the audit ' +
      'trail, not this table, is the record kept for good. An account backup plan can select ApprovalWorkflow.table.',
  });
}
