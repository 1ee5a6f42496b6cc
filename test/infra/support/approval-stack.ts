import { existsSync } from 'node:fs';
import path from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ses from 'aws-cdk-lib/aws-ses';
import {
  APPROVAL_DECIDE_ENTRY,
  APPROVAL_NOTIFY_ENTRY,
  type ApprovalFunctionEntries,
  ApprovalWorkflow,
  type ApprovalWorkflowProps,
} from '../../../infra/approvals/approval-workflow';

/** The real handlers once they exist; until then a stub, since bundling is skipped anyway. */
export function testEntries(): ApprovalFunctionEntries {
  if (existsSync(APPROVAL_NOTIFY_ENTRY) && existsSync(APPROVAL_DECIDE_ENTRY)) {
    return { notify: APPROVAL_NOTIFY_ENTRY, decide: APPROVAL_DECIDE_ENTRY };
  }
  const stub = path.join(__dirname, 'stub-handler.ts');
  return { notify: stub, decide: stub };
}

export const SLACK_SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:gatehouse/slack-AbCdEf';
export const SES_SENDER = 'approvals@example.com';
export const SES_IDENTITY = 'example.com';
export const MAX_TIMEOUT = Duration.hours(8);

export interface ApprovalTestStack {
  readonly app: App;
  readonly stack: Stack;
  readonly dataKey: kms.Key;
  readonly emailIdentity: ses.IEmailIdentity;
  readonly workflow: ApprovalWorkflow;
}

/**
 * A stack holding only the workflow and what it is given: a data key with rotation, an imported
 * Slack secret and SES identity (resources owned elsewhere, so not this construct's findings).
 * Bundling is skipped by default (see testApp): the tests look at the template, not the code.
 */
export function approvalTestStack(
  overrides: Partial<ApprovalWorkflowProps> = {},
  app: App = testApp(),
): ApprovalTestStack {
  const stack = new Stack(app, 'ApprovalTest');
  const dataKey = new kms.Key(stack, 'DataKey', { enableKeyRotation: true });
  const emailIdentity = ses.EmailIdentity.fromEmailIdentityName(stack, 'Identity', SES_IDENTITY);
  const workflow = new ApprovalWorkflow(stack, 'Approvals', {
    dataKey,
    slack: {
      secret: secretsmanager.Secret.fromSecretCompleteArn(stack, 'SlackSecret', SLACK_SECRET_ARN),
      channel: 'C0123456789',
    },
    email: {
      sender: SES_SENDER,
      identity: emailIdentity,
    },
    maxTimeout: MAX_TIMEOUT,
    entries: testEntries(),
    ...overrides,
  });
  return { app, stack, dataKey, emailIdentity, workflow };
}

/** An app that skips bundling: no esbuild run, no Docker, assets staged as they are. */
export function testApp(): App {
  return new App({ context: { 'aws:cdk:bundling-stacks': [] } });
}

/** The gateway's task role as the deployment will create it, with the workflow's grant. */
export function addGatewayRole(test: ApprovalTestStack): iam.Role {
  const role = new iam.Role(test.stack, 'GatewayTaskRole', {
    assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
  });
  test.workflow.grantStart(role);
  return role;
}
