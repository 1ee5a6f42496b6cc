/**
 * The audit record types, version 2 (documented in docs/audit-records.md, JSON schema in
 * docs/audit-records.schema.json; version 2 adds `query` to statement records, and version 1 records
 * stay valid). Every record carries `prev`, the SHA-256 of the canonical JSON of
 * the previous record of the same session (the first one chains to the session id), and `hash`, the
 * SHA-256 of its own canonical JSON without `hash`.
 */
export const AUDIT_SCHEMA_VERSION = 2;

export interface IdentityFacts {
  issuer: string;
  subject: string;
  claims: Record<string, unknown>;
}

export interface SourceFacts {
  address: string;
  vpcEndpointId?: string;
}

interface RecordBase {
  /** The schema version the record was written under (stores keep records of every version). */
  v: 1 | typeof AUDIT_SCHEMA_VERSION;
  session: string;
  /** Position in the session's chain, from 0. */
  seq: number;
  /** Microseconds since the epoch. */
  time: number;
  /** The writer (gateway instance and worker) that wrote it. */
  writer: string;
  prev: string;
  hash: string;
}

export interface SessionStartRecord extends RecordBase {
  type: 'session-start';
  identity?: IdentityFacts;
  source: SourceFacts;
  database: string;
  /** accepted, or the check that failed (expired, no-grant, …). */
  authentication: 'accepted' | string;
  grant?: string;
  role?: string;
  policyDigest?: string;
  error?: { sqlstate: string; message: string };
}

export interface StatementRecord extends RecordBase {
  type: 'statement';
  start: number;
  end: number;
  protocol: 'simple' | 'extended';
  /** Statement text, with password-bearing statements redacted. */
  text: string;
  /** SHA-256 of the exact bytes the client sent, before any redaction. */
  textSha256: string;
  redacted?: boolean;
  parameters?: { format: 'text' | 'binary'; sha256: string | null }[];
  command?: string;
  class?: string;
  reads?: string[];
  writes?: string[];
  decision: 'allowed' | 'refused' | 'approved' | 'denied' | 'timed-out';
  /**
   * The rule behind the decision; `same-query` for a statement refused only because another
   * statement of its multi-statement Query was (version 2).
   */
  rule?: string;
  /**
   * A statement of a multi-statement Query (version 2): its place (from 0), how many the Query had,
   * and, when the Query was refused whole, the place of the statement the refusal is about.
   */
  query?: { index: number; statements: number; refusedFor?: number };
  /** The approval request the statement ran under (with who approved it), or was refused pending. */
  approval?: { id: string; by?: string[] };
  outcome: { tag?: string; rows?: number; sqlstate?: string; suspended?: boolean };
  bytesIn: number;
  bytesOut: number;
  /** Present when the session recording lacks part of this statement's result (a cap was reached). */
  recording?: { cut: 'statement' | 'session'; omittedBytes: number };
  /**
   * Masking of the result: each masked output column, the rule that masked it and how many values
   * were masked; `withheld` when the result could not be masked safely and none of it was sent.
   */
  masking?: { columns: { name: string; rule: string; values: number }[]; withheld?: string };
}

export interface SessionEndRecord extends RecordBase {
  type: 'session-end';
  reason: string;
  statements: number;
  bytesIn: number;
  bytesOut: number;
}

export interface PolicyReloadRecord extends RecordBase {
  type: 'policy-reload';
  digest: string;
  previous: string;
  outcome: 'applied' | 'rejected';
  error?: string;
  /** The stored version the policy came from (S3 VersionId), when its store keeps versions. */
  version?: string;
  /** Who uploaded that version, as the object metadata `changed-by` declares it (set by the deploy tooling). */
  changedBy?: string;
}

/**
 * What happened to an approval request, in the chain of the session whose statement asked for it:
 * opened (with whom it asks and until when), then how it ended, with the notifications sent and each
 * decision (approver, verdict, channel). The statement records name the same id.
 */
export interface ApprovalEventRecord extends RecordBase {
  type: 'approval';
  id: string;
  event: 'requested' | 'approved' | 'denied' | 'timed-out' | 'cancelled';
  rule?: string;
  grant?: string;
  reason?: string;
  /** SHA-256 binding of the exact statement (issuer, subject, database, text, parameters). */
  binding?: string;
  approvers?: string[];
  needed?: number;
  /** Microseconds since the epoch. */
  expires?: number;
  notifications?: { channel: string; to: string; time: number }[];
  decisions?: { approver: string; verdict: 'approved' | 'denied'; channel: string; time: number }[];
}

export type AuditRecord =
  | SessionStartRecord
  | StatementRecord
  | SessionEndRecord
  | PolicyReloadRecord
  | ApprovalEventRecord;

/** A record before it is chained: what callers fill in. */
export type RecordBody<R extends AuditRecord = AuditRecord> = R extends AuditRecord
  ? Omit<R, 'v' | 'seq' | 'prev' | 'hash' | 'writer' | 'session'>
  : never;
