/** Stable codes of the props the `ApprovalWorkflow` construct refuses, one per rule. */
export type ApprovalWorkflowErrorCode =
  | 'MaxTimeoutOutOfRange'
  | 'ConcurrencyOutOfRange'
  | 'NoNotificationChannel'
  | 'SenderNotAnAddress'
  | 'SlackChannelInvalid'
  | 'EntryNotFound';

/**
 * A prop of `ApprovalWorkflow` that cannot deploy or would deploy wrong. Thrown at synth time, so
 * the message names the prop, the value, what is allowed and how to fix it.
 */
export class ApprovalWorkflowError extends Error {
  constructor(
    readonly code: ApprovalWorkflowErrorCode,
    /** The prop at fault, as written in `ApprovalWorkflowProps` (dotted for nested props). */
    readonly prop: string,
    message: string,
  ) {
    super(`ApprovalWorkflow ${prop}: ${message}`);
    this.name = 'ApprovalWorkflowError';
  }
}
