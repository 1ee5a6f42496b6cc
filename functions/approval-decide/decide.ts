import {
  type ApprovalDecision,
  type ApprovalState,
  approvalState,
  decisionProblem,
} from '../../core/approval/approval';
import { type ApprovalRecord, decisionItem } from '../../core/approval/approval-items';
import type { ApprovalStore } from '../shared/approval-table';
import type { Logger } from '../shared/logger';
import type { ApprovalTaskOutput, TaskCallback } from './task-callback';

/**
 * Recording one approver's decision, whatever channel it came through. The checks come from the
 * shared rules (`decisionProblem`: an outsider, a self-approval, a second vote, a late one) plus the
 * request's own end (withdrawn, already decided, closed). The decision item is written once per
 * approver, so of two racing clicks exactly one is recorded. The partition is then read again
 * (strongly consistent) so that decisions made at the same moment by others count, and once the
 * request is approved or denied the waiting workflow is told.
 */

export interface DecideDependencies {
  readonly store: ApprovalStore;
  readonly tasks: TaskCallback;
  /** Microseconds since the epoch. */
  readonly now: () => number;
  readonly logger: Logger;
}

export type DecideResult =
  | {
      readonly kind: 'recorded';
      readonly decision: ApprovalDecision;
      /** The request as read after the decision. */
      readonly record: ApprovalRecord;
      readonly state: ApprovalState;
    }
  | { readonly kind: 'refused'; readonly reason: string };

/** Why `approver` may not decide on this request now; undefined when they may. GET shows it, POST enforces it. */
export function refusal(record: ApprovalRecord, approver: string, now: number): string | undefined {
  const { request } = record;
  const probe: ApprovalDecision = {
    request: request.id,
    approver,
    verdict: 'approved',
    channel: 'probe',
    time: now,
  };
  const problem = decisionProblem(request, record.decisions, probe);
  if (problem) return problem;
  if (record.outcome) return `the request is closed (${record.outcome.state})`;
  const state = approvalState(request, record.decisions, now, record.cancelled);
  if (state.state === 'cancelled') return 'the request was withdrawn: the client stopped waiting';
  if (state.state === 'timed-out') return 'the request has timed out';
  if (state.state !== 'pending') return `the request is already ${state.state}`;
  return undefined;
}

export async function decide(
  deps: DecideDependencies,
  record: ApprovalRecord,
  approver: string,
  verdict: ApprovalDecision['verdict'],
  channel: string,
): Promise<DecideResult> {
  const { request } = record;
  const now = deps.now();
  const log = deps.logger.child({ requestId: request.id, approver, channel });
  const problem = refusal(record, approver, now);
  if (problem) {
    log.info('decision refused', { reason: problem });
    // An approver pressing again after an error: if SendTaskSuccess failed that time, it is retried now
    // (when it did not, Step Functions answers that the task is closed, which is harmless).
    if (record.decisions.some((d) => d.approver === approver)) await retell(deps, record, now, log);
    return { kind: 'refused', reason: problem };
  }
  const decision: ApprovalDecision = { request: request.id, approver, verdict, channel, time: now };
  if (!(await deps.store.putOnce(decisionItem(request, decision)))) {
    log.info('decision refused', { reason: 'lost a race with the same approver' });
    return { kind: 'refused', reason: `${approver} has already decided` };
  }
  const after = (await deps.store.record(request.id)) ?? record;
  const state = approvalState(after.request, after.decisions, now, after.cancelled);
  log.info('decision recorded', { verdict, state: state.state });
  await tell(deps, after, state, log);
  return { kind: 'recorded', decision, record: after, state };
}

/** Sends the workflow the outcome when the request is approved or denied; otherwise nothing. */
async function tell(deps: DecideDependencies, record: ApprovalRecord, state: ApprovalState, log: Logger) {
  const output = taskOutput(state);
  if (!output) return;
  if (!record.taskToken) {
    // The notify step stores the token before anyone is asked, so this is a request the workflow never saw.
    log.warn('request is final but has no workflow task to tell', { verdict: output.verdict });
    return;
  }
  const answer = await deps.tasks.succeed(record.taskToken, output);
  log.info(answer === 'sent' ? 'workflow told' : 'workflow task already closed', { verdict: output.verdict });
}

async function retell(deps: DecideDependencies, record: ApprovalRecord, now: number, log: Logger) {
  if (record.outcome) return;
  const state = approvalState(record.request, record.decisions, now, record.cancelled);
  await tell(deps, record, state, log).catch((error: unknown) =>
    log.error('workflow could not be told', { error }),
  );
}

export function taskOutput(state: ApprovalState): ApprovalTaskOutput | undefined {
  if (state.state === 'approved') return { verdict: 'approved', by: [...state.by] };
  if (state.state === 'denied') return { verdict: 'denied', by: [state.by] };
  return undefined;
}
