import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  type ApprovalDecision,
  type ApprovalRequest,
  type ApprovalState,
  approvalState,
  type Cancellation,
  decisionProblem,
} from '../../../core/approval/approval';
import type { ApprovalNotification, ApprovalRecord } from '../../../core/approval/approval-items';
import type { ApprovalStore } from './approval-store';

/**
 * Approval requests and decisions in a directory, shared by every process of a local gateway and the
 * `gatehouse approvals` command: `request-ID.json`, `decision-ID-APPROVER.json` (created exclusively:
 * one decision per approver) and `used-ID` (created exclusively: an approval that covers one run is
 * used once, by one session). Synchronous: local files answer at once.
 */
export class LocalApprovalStore implements ApprovalStore {
  constructor(private readonly directory: string) {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
  }

  private file(name: string): string {
    return path.join(this.directory, name);
  }

  private readJson<T>(name: string): T | undefined {
    try {
      return JSON.parse(readFileSync(this.file(name), 'utf8')) as T;
    } catch {
      return undefined;
    }
  }

  requests(): ApprovalRequest[] {
    return readdirSync(this.directory)
      .filter((f) => /^request-[\w-]+\.json$/.test(f))
      .map((f) => this.readJson<ApprovalRequest>(f))
      .filter((r): r is ApprovalRequest => r !== undefined)
      .sort((a, b) => a.requested - b.requested);
  }

  request(id: string): ApprovalRequest | undefined {
    if (!/^[\w-]+$/.test(id)) return undefined;
    return this.readJson<ApprovalRequest>(`request-${id}.json`);
  }

  decisions(id: string): ApprovalDecision[] {
    return readdirSync(this.directory)
      .filter((f) => f.startsWith(`decision-${id}-`) && f.endsWith('.json'))
      .map((f) => this.readJson<ApprovalDecision>(f))
      .filter((d): d is ApprovalDecision => d !== undefined);
  }

  /** When the request was withdrawn (see Cancellation): the marker file holds the time. */
  cancellation(id: string): Cancellation {
    let content: string;
    try {
      content = readFileSync(this.file(`cancelled-${id}`), 'utf8').trim();
    } catch {
      return false;
    }
    return /^\d+$/.test(content) ? Number(content) : true;
  }

  state(request: ApprovalRequest, now: number): ApprovalState {
    return approvalState(request, this.decisions(request.id), now, this.cancellation(request.id));
  }

  /** Everything recorded about one request. */
  recordOf(request: ApprovalRequest): ApprovalRecord {
    const files = readdirSync(this.directory);
    return {
      request,
      decisions: this.decisions(request.id),
      notifications: files
        .filter((f) => f.startsWith(`notified-${request.id}-`))
        .map((f) => this.readJson<ApprovalNotification>(f))
        .filter((n): n is ApprovalNotification => n !== undefined),
      used: files.includes(`used-${request.id}`),
      cancelled: files.includes(`cancelled-${request.id}`) ? this.cancellation(request.id) : false,
    };
  }

  async record(id: string): Promise<ApprovalRecord | undefined> {
    const request = this.request(id);
    return request && this.recordOf(request);
  }

  async recordsFor(binding: string): Promise<readonly ApprovalRecord[]> {
    return this.requests()
      .filter((r) => r.binding === binding)
      .reverse()
      .map((r) => this.recordOf(r));
  }

  /** A notification sent about a request (local mode: the Slack webhook). */
  notified(request: ApprovalRequest, notification: ApprovalNotification): void {
    const name = `notified-${request.id}-${notification.channel}-${notification.to.replace(/[^\w.@-]/g, '_')}.json`;
    writeFileSync(this.file(name), `${JSON.stringify(notification)}\n`, { mode: 0o600 });
  }

  async cancel(request: ApprovalRequest, time: number): Promise<void> {
    try {
      writeFileSync(this.file(`cancelled-${request.id}`), `${time}\n`, { flag: 'wx', mode: 0o600 });
    } catch {
      // cancelled already
    }
  }

  /** Opens a request; written whole (a temporary file renamed) so a reader never sees half of one. */
  async open(request: ApprovalRequest): Promise<void> {
    const temporary = this.file(`.request-${request.id}.tmp`);
    writeFileSync(temporary, `${JSON.stringify(request)}\n`, { mode: 0o600 });
    renameSync(temporary, this.file(`request-${request.id}.json`));
  }

  /** Records a decision; refused when it would not count (see decisionProblem) or was made already. */
  decide(decision: ApprovalDecision): { ok: true } | { ok: false; problem: string } {
    const request = this.request(decision.request);
    if (!request) return { ok: false, problem: `no approval request ${decision.request}` };
    const problem = decisionProblem(request, this.decisions(request.id), decision);
    if (problem) return { ok: false, problem };
    // A request is decided while it is pending: a withdrawn one will never run its statement, and a
    // vote on one already approved, denied or timed out would change nothing but the record.
    const state = this.state(request, decision.time).state;
    if (state === 'cancelled')
      return { ok: false, problem: 'the request was withdrawn: the client stopped waiting' };
    if (state !== 'pending') return { ok: false, problem: `the request is already ${state}` };
    const name = `decision-${request.id}-${decision.approver.replace(/[^\w.@-]/g, '_')}.json`;
    try {
      writeFileSync(this.file(name), `${JSON.stringify(decision)}\n`, { flag: 'wx', mode: 0o600 });
    } catch {
      return { ok: false, problem: `${decision.approver} has already decided` };
    }
    return { ok: true };
  }

  async use(request: ApprovalRequest): Promise<boolean> {
    try {
      writeFileSync(this.file(`used-${request.id}`), '', { flag: 'wx', mode: 0o600 });
      return true;
    } catch {
      return false;
    }
  }
}
