import type {
  ApprovalEventRecord,
  SessionEndRecord,
  SessionStartRecord,
  SourceFacts,
  StatementRecord,
} from '../../../core/audit/records';
import { STATEMENT_CLASSES, type StatementClass } from '../../../core/sql/analysis';
import type { ApprovalEvent } from '../approval/approval-events';
import type { VerifiedIdentity } from '../auth/token-verifier';
import { nowMicros } from '../observability/clock';
import { SessionRecorder } from '../recording/session-recorder';
import type { AuditWriter } from './audit-writer';
import { RelayAudit } from './relay-audit';
import { StatementTracker } from './statement-tracker';

/** What a grant keeps of its sessions: statement classes with records, and whether they are recorded. */
export interface AuditSelection {
  statements: readonly StatementClass[];
  record: boolean;
  /** Classes whose statements wait for a durable record in the shared store. */
  strict: readonly StatementClass[];
}

/**
 * The audit records of one client connection: how it started (or why it was refused), each statement
 * (through the relay's tracker) and how it ended. At most one start and one end record per session.
 */
export class SessionAudit {
  private started = false;
  private ended = false;
  private relayAudit: RelayAudit | undefined;

  constructor(
    private readonly writer: AuditWriter,
    private readonly session: string,
    private readonly source: SourceFacts,
  ) {}

  /**
   * The session was admitted: its identity, grant and role, and what the grant asks to keep of it
   * (`selection`). Returns the relay's audit.
   */
  accepted(
    identity: VerifiedIdentity,
    database: string,
    facts: { grant: string; role?: string; policyDigest: string },
    selection: AuditSelection = { statements: STATEMENT_CLASSES, record: true, strict: [] },
  ): RelayAudit {
    this.start({
      identity: { issuer: identity.issuer, subject: identity.subject, claims: identity.identityClaims },
      database,
      authentication: 'accepted',
      ...facts,
    });
    const tracker = new StatementTracker(
      (body) => this.writer.append<StatementRecord>(this.session, body),
      new Set(selection.statements),
    );
    const recording = selection.record ? this.writer.recording : undefined;
    const recorder =
      recording && new SessionRecorder(recording.writer, this.session, recording.caps, this.writer.writer);
    const store = this.writer.strictStore;
    const strict =
      store && selection.strict.length > 0
        ? {
            store,
            classes: new Set(selection.strict),
            facts: {
              session: this.session,
              writer: this.writer.writer,
              issuer: identity.issuer,
              subject: identity.subject,
              database,
            },
            next: 0,
          }
        : undefined;
    this.relayAudit = new RelayAudit(tracker, this.writer, recorder, strict);
    return this.relayAudit;
  }

  /** The connection was refused after its startup packet: a bad token, no grant, a limit. */
  refused(
    database: string,
    failure: string,
    error: { sqlstate: string; message: string },
    identity?: VerifiedIdentity,
  ): void {
    if (this.started) return;
    this.start({
      identity: identity && {
        issuer: identity.issuer,
        subject: identity.subject,
        claims: identity.identityClaims,
      },
      database,
      authentication: failure,
      error,
    });
    this.end('refused');
  }

  private start(
    fields: Omit<
      SessionStartRecord,
      'type' | 'time' | 'source' | 'v' | 'seq' | 'prev' | 'hash' | 'writer' | 'session'
    >,
  ): void {
    this.started = true;
    this.writer.append<SessionStartRecord>(this.session, {
      type: 'session-start',
      time: nowMicros(),
      source: this.source,
      ...fields,
    });
  }

  /** An approval request this session's statement made, opened or ended (see ApprovalEventRecord). */
  approval(event: ApprovalEvent): void {
    if (!this.started || this.ended) return;
    this.writer.append<ApprovalEventRecord>(this.session, { type: 'approval', time: nowMicros(), ...event });
  }

  end(reason: string): void {
    if (!this.started || this.ended) return;
    this.ended = true;
    this.relayAudit?.close(reason);
    const tracker = this.relayAudit?.tracker;
    this.writer.append<SessionEndRecord>(this.session, {
      type: 'session-end',
      time: nowMicros(),
      reason,
      statements: tracker?.executed ?? 0,
      bytesIn: tracker?.bytesIn ?? 0,
      bytesOut: tracker?.bytesOut ?? 0,
    });
    this.writer.endSession(this.session);
  }
}
