import type { ApprovalRequest } from '../../../core/approval/approval';
import type { ApprovalRecord } from '../../../core/approval/approval-items';

/**
 * Where approval requests and what became of them are kept: a directory in local mode, a DynamoDB
 * table on AWS. The desk decides from these records (core/approval); a store only keeps them, and
 * makes each once-only fact (a use, a cancellation) happen once across every gateway process.
 */
export interface ApprovalStore {
  /** Every request for one exact statement (its binding), newest first. */
  recordsFor(binding: string): Promise<readonly ApprovalRecord[]>;
  record(id: string): Promise<ApprovalRecord | undefined>;
  open(request: ApprovalRequest): Promise<void>;
  /**
   * The client stopped waiting (it disconnected or cancelled): the request is withdrawn, for good, at
   * `time` (microseconds); decisions made after it do not count.
   */
  cancel(request: ApprovalRequest, time: number): Promise<void>;
  /** Marks a once-only approval used; false when another session used it first. */
  use(request: ApprovalRequest): Promise<boolean>;
}

/** Who is told about a new request: the Step Functions workflow on AWS, a Slack webhook locally. */
export interface ApprovalNotifier {
  requested(request: ApprovalRequest): Promise<void>;
}
