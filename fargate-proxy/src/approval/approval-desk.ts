import { randomBytes } from 'node:crypto';
import {
  type ApprovalRequest,
  type ApprovalState,
  type ApproverContact,
  approvalBinding,
  approvalState,
  type BoundStatement,
  boundTo,
} from '../../../core/approval/approval';
import type { ApprovalRecord } from '../../../core/approval/approval-items';
import type { RuleApproval } from '../../../core/policy/compiled-policy';
import type { Refusal } from '../session/statement-gate';
import type { ApprovalNotifier, ApprovalStore } from './approval-store';

/** A statement a rule sends for approval, with what the request needs to say. */
export interface ApprovalCase extends BoundStatement {
  readonly grant: string;
  readonly rule: string;
  readonly reason: string;
  /** The statement as the audit shows it. */
  readonly shown: string;
  readonly approval: RuleApproval;
  /** Approvers who are the person behind the token: they may not approve. */
  readonly excluded: readonly string[];
  /** The asking session, when the statement waits on the wire (see ApprovalRequest.holder). */
  readonly holder?: string;
  /** How the rule's approvers are reached. */
  readonly contacts: Readonly<Record<string, ApproverContact>>;
}

export type ApprovalOutcome =
  | {
      readonly allowed: true;
      readonly request: ApprovalRequest;
      readonly by: readonly string[];
      /** The end of what the approval covers (microseconds), when it covers a while. */
      readonly until?: number;
      /** What was recorded about the request, for the audit trail. */
      readonly record: ApprovalRecord;
    }
  | {
      readonly allowed: false;
      readonly refusal: Refusal;
      readonly request: ApprovalRequest;
      readonly record: ApprovalRecord;
      /** The request still waits for its approvers. */
      readonly pending: boolean;
      /** The request was opened by this call. */
      readonly opened?: boolean;
      readonly state: ApprovalState['state'];
    };

function microseconds(ms: number): number {
  return Math.round(ms * 1000);
}

/**
 * Where statements that need approval are decided, over an approval store. A statement runs when an
 * approval of that exact statement is there to use; otherwise a request is opened (or the pending one
 * named), its approvers are notified, and the statement either waits (hold mode: `decided`, then
 * `decideHeld`) or is refused with the request id, so the client can run it again once approved.
 */
export class ApprovalDesk {
  constructor(
    private readonly store: ApprovalStore,
    private readonly notifier: ApprovalNotifier | undefined,
    /** How often a held statement's request is looked at. */
    private readonly pollMs = 250,
    private readonly now: () => number = Date.now,
  ) {}

  private stateOf(record: ApprovalRecord): ApprovalState {
    return approvalState(record.request, record.decisions, microseconds(this.now()), record.cancelled);
  }

  /** The workflow gave up on a pending request (nobody could be notified): it will never be decided. */
  private abandoned(record: ApprovalRecord, state: ApprovalState): boolean {
    return state.state === 'pending' && record.outcome?.state === 'failed';
  }

  /**
   * A held statement asked about again: what became of its own request (it is never replaced by a
   * new one: a timeout or denial is the answer).
   */
  async decideHeld(id: string): Promise<ApprovalOutcome | undefined> {
    const record = await this.store.record(id);
    if (!record) return undefined;
    const { request } = record;
    const state = this.stateOf(record);
    if (this.abandoned(record, state)) {
      return {
        allowed: false,
        request,
        record,
        pending: false,
        state: 'cancelled',
        refusal: {
          sqlstate: '58000',
          message: `approval could not be requested: the approval workflow failed to notify the approvers (request ${request.id}); the statement did not run`,
          detail: `grant "${request.grant}", rule "${request.rule}"`,
        },
      };
    }
    switch (state.state) {
      case 'approved':
        if (request.coverage.kind === 'once' && !(await this.store.use(request))) return undefined;
        return { allowed: true, request, by: state.by, until: state.until, record };
      case 'pending':
        return {
          allowed: false,
          request,
          record,
          pending: true,
          state: 'pending',
          refusal: this.waiting(request),
        };
      case 'denied':
        return {
          allowed: false,
          request,
          record,
          pending: false,
          state: 'denied',
          refusal: this.denied(request, state.by),
        };
      default:
        return {
          allowed: false,
          request,
          record,
          pending: false,
          state: state.state,
          refusal: {
            sqlstate: '42501',
            message: `approval ${state.state === 'cancelled' ? 'was cancelled' : 'timed out'}: ${request.reason} (request ${request.id})`,
            detail: `grant "${request.grant}", rule "${request.rule}"`,
          },
        };
    }
  }

  /** Resolves once the request is no longer pending (or `gone` says the client stopped waiting). */
  async decided(id: string, gone: () => boolean): Promise<void> {
    for (;;) {
      if (gone()) return;
      // null: the store could not be read; asked again at the next poll (the timeout still ends it).
      const record = await this.store.record(id).catch(() => null);
      if (record === undefined) return;
      if (record) {
        const state = this.stateOf(record);
        if (state.state !== 'pending' || this.abandoned(record, state)) return;
      }
      await new Promise((resolve) => setTimeout(resolve, this.pollMs));
    }
  }

  /**
   * The client stopped waiting: a pending request is withdrawn for good. Returns the request as
   * withdrawn (for the audit trail), or undefined when it was no longer pending.
   */
  async cancel(id: string): Promise<ApprovalRecord | undefined> {
    const record = await this.store.record(id);
    if (!record || this.stateOf(record).state !== 'pending') return undefined;
    const time = microseconds(this.now());
    await this.store.cancel(record.request, time);
    return (await this.store.record(id)) ?? { ...record, cancelled: time };
  }

  /** The notice a held client gets: what it waits for, who was asked, until when. */
  notice(request: ApprovalRequest): string {
    const until = new Date(request.expires / 1000).toISOString();
    return `approval required: ${request.reason}; request ${request.id} was sent to ${eligible(request).join(', ')}; the statement waits until ${until}`;
  }

  /**
   * Decides a statement: an approval of it to use, the pending or denied request for it, or a new
   * request. `timeoutMs` overrides the rule's timeout (shorter, to stay within the server's limits).
   */
  async decide(
    approvalCase: ApprovalCase,
    timeoutMs = approvalCase.approval.timeoutMs,
  ): Promise<ApprovalOutcome> {
    const now = microseconds(this.now());
    const binding = approvalBinding(boundTo(approvalCase, approvalCase.approval.coverage));
    for (const record of await this.store.recordsFor(binding)) {
      const { request } = record;
      // Another session's held request is its own: never joined, and its approval never used here.
      if (
        request.holder !== undefined &&
        request.holder !== approvalCase.holder &&
        request.coverage.kind === 'once'
      )
        continue;
      const state = this.stateOf(record);
      if (state.state === 'approved') {
        const usable =
          request.coverage.kind === 'once' ? await this.store.use(request) : (state.until ?? 0) > now;
        if (usable) return { allowed: true, request, by: state.by, until: state.until, record };
        continue;
      }
      if (this.abandoned(record, state)) continue;
      if (state.state === 'pending') {
        return {
          allowed: false,
          request,
          record,
          pending: true,
          state: 'pending',
          refusal: this.waiting(request),
        };
      }
      if (state.state === 'denied' && now < request.expires) {
        return {
          allowed: false,
          request,
          record,
          pending: false,
          state: 'denied',
          refusal: this.denied(request, state.by),
        };
      }
    }
    const { approval } = approvalCase;
    const request: ApprovalRequest = {
      // Opaque and unguessable: it names the request in links and buttons, never the workflow's token.
      id: `apr-${randomBytes(12).toString('hex')}`,
      binding,
      requested: now,
      expires: now + microseconds(timeoutMs),
      issuer: approvalCase.issuer,
      subject: approvalCase.subject,
      database: approvalCase.database,
      grant: approvalCase.grant,
      rule: approvalCase.rule,
      reason: approvalCase.reason,
      text: approvalCase.shown,
      approvers: approval.approvers,
      contacts: approvalCase.contacts,
      needed: approval.needed,
      coverage: approval.coverage,
      excluded: approvalCase.excluded,
      ...(approvalCase.holder !== undefined ? { holder: approvalCase.holder } : {}),
    };
    await this.store.open(request);
    try {
      await this.notifier?.requested(request);
    } catch (error) {
      // Nobody was told: the request is withdrawn rather than left for a timeout nobody can beat.
      await this.store.cancel(request, microseconds(this.now())).catch(() => undefined);
      throw error;
    }
    const record: ApprovalRecord = {
      request,
      decisions: [],
      notifications: [],
      used: false,
      cancelled: false,
    };
    return {
      allowed: false,
      request,
      record,
      pending: true,
      opened: true,
      state: 'pending',
      refusal: this.waiting(request),
    };
  }

  private denied(request: ApprovalRequest, by: string): Refusal {
    return {
      sqlstate: '42501',
      message: `approval denied by ${by}: ${request.reason} (request ${request.id})`,
      detail: `grant "${request.grant}", rule "${request.rule}"`,
    };
  }

  private waiting(request: ApprovalRequest): Refusal {
    const until = new Date(request.expires / 1000).toISOString();
    return {
      sqlstate: '42501',
      message: `approval required by policy: ${request.reason}; request ${request.id} waits for ${eligible(request).join(', ')} until ${until}`,
      detail: `grant "${request.grant}", rule "${request.rule}"`,
      hint: `Run the statement again once the request is approved (gatehouse approvals approve ${request.id} --as NAME).`,
    };
  }
}

/** The approvers who may answer a request: the person behind the job is not one of them. */
function eligible(request: ApprovalRequest): string[] {
  return request.approvers.filter((approver) => !request.excluded.includes(approver));
}
