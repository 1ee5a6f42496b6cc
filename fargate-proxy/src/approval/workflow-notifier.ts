import { ExecutionAlreadyExists, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { ApprovalRequest } from '../../../core/approval/approval';
import type { ApprovalNotifier } from './approval-store';

/**
 * On AWS, a request starts the approval state machine (infra/approvals): it notifies the approvers and
 * waits for the decide function, with the request's own timeout. Named after the request, so a
 * retried start cannot notify twice.
 */
export class WorkflowNotifier implements ApprovalNotifier {
  constructor(
    private readonly client: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  async requested(request: ApprovalRequest): Promise<void> {
    const timeoutSeconds = Math.max(1, Math.ceil((request.expires - request.requested) / 1_000_000));
    try {
      await this.client.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name: request.id,
          input: JSON.stringify({ requestId: request.id, timeoutSeconds }),
        }),
      );
    } catch (error) {
      if (!(error instanceof ExecutionAlreadyExists)) throw error;
    }
  }
}
