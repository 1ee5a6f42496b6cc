import { SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';

/**
 * Telling the waiting workflow the outcome. The state machine's task output (what it stores at the
 * task's ResultPath) is this JSON: {"verdict": "approved" | "denied", "by": [approver names]}.
 */
export interface ApprovalTaskOutput {
  readonly verdict: 'approved' | 'denied';
  readonly by: readonly string[];
}

export interface TaskCallback {
  /** 'closed' when the task had already ended (timed out, answered, or its execution stopped). */
  succeed(taskToken: string, output: ApprovalTaskOutput): Promise<'sent' | 'closed'>;
}

/** Errors that mean the task is over, not that something broke: a second answer, a late one. */
const CLOSED = new Set(['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken']);

export class StepFunctionsCallback implements TaskCallback {
  constructor(private readonly client: SFNClient = new SFNClient({})) {}

  async succeed(taskToken: string, output: ApprovalTaskOutput): Promise<'sent' | 'closed'> {
    try {
      await this.client.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) }));
      return 'sent';
    } catch (error) {
      if (error instanceof Error && CLOSED.has(error.name)) return 'closed';
      throw error;
    }
  }
}
