import { type ApprovalRequest, type ApproverContact, approvalBinding, type BoundStatement } from '../../../core/approval/approval';
import type { RuleApproval } from '../../../core/policy/compiled-policy';
import type { Refusal } from '../session/statement-gate';
import type { LocalApprovalStore } from './local-approval-store';

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
  /** How the rule's approvers are reached. */
  readonly contacts: Readonly<Record<string, ApproverContact>>;
}

export type ApprovalOutcome =
  | { readonly allowed: true; readonly request: ApprovalRequest; readonly by: readonly string[] }
  | {
      readonly allowed: false;
      readonly refusal: Refusal;
      readonly request: ApprovalRequest;
      /** The request still waits for its approvers. */
      readonly pending: boolean;
    };

function microseconds(ms: number): number {
  return Math.round(ms * 1000);
}

/**
 * Where statements that need approval are decided (non-interactive mode): a statement runs when an
 * approval of that exact statement is there to use; otherwise a request is opened (or the pending
 * one named) and the statement is refused with its id, so the client can run it again once approved.
 */
export class ApprovalDesk {
  constructor(
    private readonly store: LocalApprovalStore,
    /** How often a held statement's request is looked at. */
    private readonly pollMs = 250,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * A held statement asked about again: what became of its own request (it is never replaced by a
   * new one: a timeout or denial is the answer).
   */
  decideHeld(id: string): ApprovalOutcome | undefined {
    const request = this.store.request(id);
    if (!request) return undefined;
    const state = this.store.state(request, microseconds(this.now()));
    switch (state.state) {
      case 'approved':
        if (request.coverage.kind === 'once' && !this.store.use(request.id)) return undefined;
        return { allowed: true, request, by: state.by };
      case 'pending':
        return { allowed: false, request, pending: true, refusal: this.waiting(request) };
      case 'denied':
        return { allowed: false, request, pending: false, refusal: this.denied(request, state.by) };
      default:
        return {
          allowed: false,
          request,
          pending: false,
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
      const request = this.store.request(id);
      if (!request || gone()) return;
      if (this.store.state(request, microseconds(this.now())).state !== 'pending') return;
      await new Promise((resolve) => setTimeout(resolve, this.pollMs));
    }
  }

  /** The client stopped waiting: the request is withdrawn. */
  cancel(id: string): void {
    const request = this.store.request(id);
    if (request && this.store.state(request, microseconds(this.now())).state === 'pending')
      this.store.cancel(id);
  }

  /** The notice a held client gets: what it waits for, who was asked, until when. */
  notice(request: ApprovalRequest): string {
    const until = new Date(request.expires / 1000).toISOString();
    return `approval required: ${request.reason}; request ${request.id} was sent to ${request.approvers.join(', ')}; the statement waits until ${until}`;
  }

  decide(approvalCase: ApprovalCase): ApprovalOutcome {
    const now = microseconds(this.now());
    const binding = approvalBinding(approvalCase);
    const requests = this.store
      .requests()
      .filter((r) => r.binding === binding)
      .reverse();
    for (const request of requests) {
      const state = this.store.state(request, now);
      if (state.state === 'approved') {
        const usable =
          request.coverage.kind === 'once' ? this.store.use(request.id) : (state.until ?? 0) > now;
        if (usable) return { allowed: true, request, by: state.by };
        continue;
      }
      if (state.state === 'pending') {
        return { allowed: false, request, pending: true, refusal: this.waiting(request) };
      }
      if (state.state === 'denied' && now < request.expires) {
        return { allowed: false, request, pending: false, refusal: this.denied(request, state.by) };
      }
    }
    const { approval } = approvalCase;
    const request = this.store.open({
      binding,
      requested: now,
      expires: now + microseconds(approval.timeoutMs),
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
    });
    return { allowed: false, request, pending: true, refusal: this.waiting(request) };
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
      message: `approval required by policy: ${request.reason}; request ${request.id} waits for ${request.approvers.join(', ')} until ${until}`,
      detail: `grant "${request.grant}", rule "${request.rule}"`,
      hint: `Run the statement again once the request is approved (gatehouse approvals approve ${request.id} --as NAME).`,
    };
  }
}
