import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { GatewayConfig } from '../config';
import type { Logger } from '../observability/logger';
import { ApprovalDesk } from './approval-desk';
import type { ApprovalNotifier, ApprovalStore } from './approval-store';
import { DynamoDbApprovalStore } from './dynamodb-approval-store';
import { LocalApprovalStore } from './local-approval-store';
import { WebhookNotifier } from './webhook-notifier';
import { WorkflowNotifier } from './workflow-notifier';

/** The approval desk the configuration describes: a local directory, or DynamoDB and Step Functions. */
export function approvalDeskFor(config: NonNullable<GatewayConfig['approvals']>, log: Logger): ApprovalDesk {
  let store: ApprovalStore;
  let notifier: ApprovalNotifier | undefined;
  if (config.dynamodb) {
    const { table, region, endpoint } = config.dynamodb;
    store = new DynamoDbApprovalStore(new DynamoDBClient({ region, endpoint }), table);
  } else {
    const local = new LocalApprovalStore(config.directory!);
    store = local;
    if (config.slackWebhookFile) {
      notifier = new WebhookNotifier(
        config.slackWebhookFile,
        config.pageUrl,
        (request, notification) => local.notified(request, notification),
        log,
      );
    }
  }
  if (config.workflow) {
    const { stateMachineArn, region, endpoint } = config.workflow;
    notifier = new WorkflowNotifier(new SFNClient({ region, endpoint }), stateMachineArn);
  }
  return new ApprovalDesk(store, notifier, config.pollMs);
}
