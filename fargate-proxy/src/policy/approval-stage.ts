import type { Coverage } from '../../../core/approval/approval';
import type { ApprovalCase, ApprovalDesk, ApprovalOutcome } from '../approval/approval-desk';
import { type ApprovalEvent, approvalEvent } from '../approval/approval-events';
import type { AuditedDecision } from '../audit/statement-tracker';
import type { Statement } from '../session/statement';
import type { Refusal } from '../session/statement-gate';

/** A stage's answer: go on (undefined), refuse, or wait for the promise and run the same stage again. */
export type StageResult = Refusal | Promise<unknown> | undefined;

type Answer = ApprovalOutcome | { failed: string };

/** What the session lets an approval change: an approved elevation takes effect for it. */
export interface ApprovalSession {
  elevate(coverage: Coverage, until: number | undefined, id: string, by: readonly string[]): void;
  /** The server's idle_in_transaction_session_timeout, in ms (0: none). */
  idleInTransactionMs(): number;
  inTransaction(): boolean;
}

/**
 * Asking for a statement's approval, one step per call, with the progress kept on the statement
 * itself (never on the session): the first call asks the desk (which may open a request), and every
 * later call reads what the desk answered. A statement held on the wire waits for its own request
 * and is never given a new one; an approval a statement used is consumed by that statement alone.
 * Whatever ends a request the session waited on (approval, denial, timeout, the client's cancel or
 * disconnect) is in the session's audit trail before the statement's own record.
 */
export class ApprovalStage {
  /** The statement waiting for an approver: a CancelRequest or the end of the session withdraws it. */
  private waiting: Statement | undefined;
  private closed = false;
  /** Where the session's approval events go (its audit trail). */
  onApproval: ((event: ApprovalEvent) => void) | undefined;

  constructor(
    private readonly desk: ApprovalDesk,
    private readonly session: ApprovalSession,
  ) {}

  /**
   * One step for `statement`, which the policy sends for approval (`decided` is its decision so far):
   * undefined once it may run (its `decided` then names the approval), a refusal, or a wait.
   */
  step(
    statement: Statement,
    approvalCase: ApprovalCase,
    parameters: readonly (string | null)[],
    decided: AuditedDecision,
  ): StageResult {
    statement.approval ??= {};
    const progress = statement.approval;
    const answer = progress.answer as Answer | undefined;
    progress.answer = undefined;
    if (answer === undefined) {
      const held = progress.held;
      if (held && (progress.cancelled || this.closed)) return this.withdrawn(statement, held, decided);
      const timeoutMs = this.holdLimitMs(approvalCase.approval.timeoutMs, approvalCase.approval.wait);
      // The desk's store may be remote: asking it is a wait too, and the answer is kept on the statement.
      return (async () => {
        try {
          progress.answer =
            (held && (await this.desk.decideHeld(held))) ||
            (await this.desk.decide({ ...approvalCase, parameters }, timeoutMs));
        } catch (error) {
          progress.answer = { failed: (error as Error).message };
        }
      })();
    }
    if ('failed' in answer) {
      statement.decided = { ...decided, decision: 'refused' };
      return {
        sqlstate: '58000',
        message:
          'approval could not be checked: the approval store or workflow is unavailable; the statement did not run',
        detail: answer.failed,
      };
    }
    const approval = { id: answer.request.id, ...(answer.allowed ? { by: answer.by } : {}) };
    statement.decided = { ...decided, decision: answer.allowed ? 'approved' : 'refused', approval };
    if (answer.allowed) {
      this.onApproval?.(approvalEvent(answer.record, 'approved'));
      this.session.elevate(answer.request.coverage, answer.until, approval.id, answer.by);
      return undefined;
    }
    if (answer.opened) this.onApproval?.(approvalEvent(answer.record, 'requested'));
    else if (answer.state !== 'pending') this.onApproval?.(approvalEvent(answer.record, answer.state));
    if (answer.pending && approvalCase.approval.wait) {
      if (this.closed) return this.withdrawn(statement, answer.request.id, decided);
      progress.held = answer.request.id;
      statement.notice = this.desk.notice(answer.request);
      this.waiting = statement;
      return this.desk.decided(answer.request.id, () => this.closed || progress.cancelled === true);
    }
    return answer.refusal;
  }

  /**
   * The held statement's request is withdrawn: the withdrawal is recorded (a wait, the first time),
   * then the statement is refused as cancelled.
   */
  private withdrawn(statement: Statement, id: string, decided: AuditedDecision): StageResult {
    const progress = statement.approval!;
    if (this.waiting === statement) this.waiting = undefined;
    if (!progress.withdrawn) {
      progress.withdrawn = true;
      return this.withdraw(id);
    }
    statement.decided = { ...decided, decision: 'refused', approval: { id } };
    statement.notice = undefined;
    return {
      sqlstate: '57014',
      message: 'canceling statement due to user request',
      detail: `The statement was waiting for approval; request ${id} is withdrawn.`,
    };
  }

  /** Withdraws a request in the store and records how it ended; never rejects. */
  private withdraw(id: string): Promise<void> {
    return this.desk.cancel(id).then(
      (record) => {
        if (record) this.onApproval?.(approvalEvent(record, 'cancelled'));
      },
      () => undefined,
    );
  }

  /**
   * The longest a statement may be held: a session inside a transaction is idle on the server while
   * it waits, so the hold ends before the server's idle_in_transaction_session_timeout would end the
   * session under it (with a margin for the decision to travel).
   */
  private holdLimitMs(timeoutMs: number, wait: boolean): number {
    const idle = this.session.idleInTransactionMs();
    if (!wait || idle <= 0 || !this.session.inTransaction()) return timeoutMs;
    const margin = Math.min(2_000, idle / 5);
    return Math.min(timeoutMs, idle - margin);
  }

  /** A CancelRequest: the statement waiting for approval stops waiting (57014); false when none waits. */
  cancelHeld(): boolean {
    const statement = this.waiting;
    if (!statement?.approval?.held) return false;
    statement.approval.cancelled = true;
    return true;
  }

  /**
   * The session is over: a statement still waiting withdraws its request. Returns a promise that
   * resolves once the withdrawal is stored and recorded (so the session's last record comes after
   * it), or undefined when nothing was waiting.
   */
  close(): Promise<void> | undefined {
    this.closed = true;
    const statement = this.waiting;
    this.waiting = undefined;
    const held = statement?.approval?.held;
    if (!held || statement.approval!.cancelled) return undefined;
    statement.approval!.cancelled = true;
    statement.approval!.withdrawn = true;
    return this.withdraw(held);
  }
}
