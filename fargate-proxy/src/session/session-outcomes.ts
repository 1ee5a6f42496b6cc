import type { ApprovalEvent } from '../approval/approval-events';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import { fatal } from '../protocol/backend-messages';
import { ProtocolError } from '../protocol/errors';
import { UpstreamError } from '../upstream/upstream-connection';
import { SessionError } from './session-errors';

/**
 * The one FATAL a client gets when its session cannot start: the gateway's own errors as they are,
 * the server's errors that are the client's business, and nothing that reveals the gateway's role
 * or its internals.
 */
export function startupFailure(error: unknown, metrics: Metrics, log: Logger): Buffer {
  if (error instanceof SessionError) return fatal(error.sqlstate, error.message, error.extra);
  if (error instanceof ProtocolError) {
    metrics.data.protocolErrors++;
    return fatal('08P01', error.message);
  }
  if (error instanceof UpstreamError) {
    log.error('upstream session failed', {
      failure: error.failure,
      error: error.message,
      code: error.fields?.code,
    });
    // The server's own errors (unknown database, too many connections…) are the client's business;
    // authentication failures upstream are the gateway's and would reveal its role.
    return error.fields && error.failure === 'server'
      ? fatal(error.fields.code, error.fields.message, {
          detail: error.fields.detail,
          hint: error.fields.hint,
        })
      : fatal(
          error.failure === 'authentication' ? '28000' : '08006',
          `the gateway could not open a session on the upstream server (${error.failure})`,
        );
  }
  log.error('session failed', { error });
  return fatal('58000', 'internal gateway error');
}

/** Counts approval requests by how they ended, each once per session (a retry is told the end again). */
export class ApprovalOutcomes {
  private readonly ended = new Set<string>();

  constructor(private readonly metrics: Metrics) {}

  count(id: string, event: ApprovalEvent['event']): void {
    const data = this.metrics.data;
    if (event === 'requested') {
      data.approvalsRequested++;
      return;
    }
    if (this.ended.has(id)) return;
    this.ended.add(id);
    if (event === 'approved') data.approvalsApproved++;
    else if (event === 'denied') data.approvalsDenied++;
    else if (event === 'timed-out') data.approvalsTimedOut++;
    else data.approvalsCancelled++;
  }
}

/** How long the end of a session waits for a held statement's request to be withdrawn. */
const WITHDRAW_WAIT_MS = 5_000;

/**
 * Ends a session once the request of its held statement is withdrawn (`withdrawn`; undefined when
 * nothing was held), so its trail says how the request ended before the session's end. Bounded: a
 * store that hangs is logged and the session ends anyway.
 */
export function endAfterWithdrawal(
  withdrawn: Promise<unknown> | undefined,
  end: () => void,
  log: Logger,
): void {
  if (!withdrawn) {
    end();
    return;
  }
  const bound = new Promise<'timeout'>((resolve) =>
    setTimeout(() => resolve('timeout'), WITHDRAW_WAIT_MS).unref(),
  );
  void Promise.race([withdrawn, bound]).then((result) => {
    if (result === 'timeout') log.error('approval request not withdrawn in time', {});
    end();
  });
}
