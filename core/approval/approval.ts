import { createHash } from 'node:crypto';
import { canonicalJson } from '../audit/canonical-json';

/**
 * Just-in-time approval (issue 6): what a request is bound to, and how its state follows from the
 * decisions recorded against it. Pure; the stores (local directory, DynamoDB) keep requests and
 * decisions, the gateway holds or refuses the statement.
 */

/**
 * What an approval covers: this exact statement once, the same exact statement for a while, or a
 * time-boxed elevation: for a while, the identity's statements on the database are decided by
 * another grant.
 */
export type Coverage =
  | { readonly kind: 'once' }
  | { readonly kind: 'window'; readonly minutes: number }
  | { readonly kind: 'elevation'; readonly grant: string; readonly minutes: number };

/**
 * What a request is bound to: the exact statement, or for an elevation the identity, database and
 * grant it elevates to (any statement may ask for it; the approval is of the elevation).
 */
export function boundTo(statement: BoundStatement, coverage: Coverage): BoundStatement {
  if (coverage.kind !== 'elevation') return statement;
  return { ...statement, text: `elevation to grant ${coverage.grant}`, parameters: [] };
}

/** The exact statement an approval is bound to: never a fingerprint that would approve look-alikes. */
export interface BoundStatement {
  readonly issuer: string;
  readonly subject: string;
  readonly database: string;
  /** The statement's exact text, as the client sent it. */
  readonly text: string;
  /** SHA-256 of each bind parameter's bytes (null for NULL), in order. */
  readonly parameters: readonly (string | null)[];
}

/** SHA-256 over the canonical JSON of the bound statement: equal only for the very same statement. */
export function approvalBinding(statement: BoundStatement): string {
  // Only these fields: a caller's object may carry more (the rule, the shown text), which must not count.
  const { issuer, subject, database, text, parameters } = statement;
  return createHash('sha256')
    .update(canonicalJson({ issuer, subject, database, text, parameters: [...parameters] }))
    .digest('hex');
}

/** Where an approver is reached: an e-mail address, a Slack member id (U…). */
export interface ApproverContact {
  readonly email?: string;
  readonly slack?: string;
}

export interface ApprovalRequest {
  readonly id: string;
  readonly binding: string;
  /** Microseconds since the epoch. */
  readonly requested: number;
  readonly expires: number;
  readonly issuer: string;
  readonly subject: string;
  readonly database: string;
  readonly grant: string;
  readonly rule: string;
  readonly reason: string;
  /** The statement as the audit shows it (literals may be withheld). */
  readonly text: string;
  /** Approver names (groups expanded) who may decide. */
  readonly approvers: readonly string[];
  /** How each approver is reached, as the policy said when the request was made. */
  readonly contacts: Readonly<Record<string, ApproverContact>>;
  readonly needed: number;
  readonly coverage: Coverage;
  /** Approver names who may not decide this one (the human behind the job). */
  readonly excluded: readonly string[];
  /**
   * The session whose statement waits on the wire for this request (hold mode). Its approval, when
   * it covers one run, is that held statement's alone: nothing else may use it, not even the same
   * statement from another session after the holder is gone (a crash, a kill).
   */
  readonly holder?: string;
}

export interface ApprovalDecision {
  readonly request: string;
  readonly approver: string;
  readonly verdict: 'approved' | 'denied';
  /** Where the decision came from: cli, local-page, page (a signed link's page), slack. */
  readonly channel: string;
  readonly time: number;
}

export type ApprovalState =
  | { readonly state: 'pending' }
  | { readonly state: 'cancelled' }
  | { readonly state: 'approved'; readonly by: readonly string[]; readonly until?: number }
  | { readonly state: 'denied'; readonly by: string }
  | { readonly state: 'timed-out' };

/** Why a decision is not counted (an approver outside the group, a self-approval, a second vote). */
export function decisionProblem(
  request: ApprovalRequest,
  decisions: readonly ApprovalDecision[],
  decision: ApprovalDecision,
): string | undefined {
  if (!request.approvers.includes(decision.approver))
    return `${decision.approver} is not an approver of this request`;
  if (request.excluded.includes(decision.approver))
    return `${decision.approver} may not approve their own work`;
  if (decisions.some((d) => d.approver === decision.approver))
    return `${decision.approver} has already decided`;
  if (decision.time >= request.expires) return 'the request has timed out';
  return undefined;
}

/**
 * When the client withdrew the request: a time (microseconds) when the store kept one, `true` when it
 * did not (stores written before the time was kept), `false` when it was never withdrawn.
 */
export type Cancellation = boolean | number;

/**
 * The request's state at `now`: denied by the first valid denial, approved once `needed` distinct
 * approvers approved (for a window: until its end), cancelled when the client gave up waiting, timed
 * out when none of these happened in time. The first of these to happen is final: a decision made
 * after the client withdrew the request does not count (and when the withdrawal's time is unknown, no
 * decision that had not already settled the request does).
 */
export function approvalState(
  request: ApprovalRequest,
  decisions: readonly ApprovalDecision[],
  now: number,
  cancelled: Cancellation = false,
): ApprovalState {
  const counted: ApprovalDecision[] = [];
  for (const decision of [...decisions].sort((a, b) => a.time - b.time)) {
    if (decision.request !== request.id || decisionProblem(request, counted, decision) !== undefined)
      continue;
    if (cancelled === true || (typeof cancelled === 'number' && decision.time >= cancelled)) break;
    counted.push(decision);
    if (decision.verdict === 'denied') return { state: 'denied', by: decision.approver };
    const approvers = counted.filter((d) => d.verdict === 'approved');
    if (approvers.length >= request.needed) {
      const by = approvers.map((d) => d.approver);
      if (request.coverage.kind === 'once') return { state: 'approved', by };
      return { state: 'approved', by, until: decision.time + request.coverage.minutes * 60_000_000 };
    }
  }
  if (cancelled !== false) return { state: 'cancelled' };
  return now >= request.expires ? { state: 'timed-out' } : { state: 'pending' };
}
