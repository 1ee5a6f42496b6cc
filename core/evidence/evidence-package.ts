/**
 * The NIST evidence package (issue 8): what `gatehouse export` and the export Lambda write, built from
 * one source, the audit trail, with the policy that was in force. This module is the contract between
 * the builder (which computes these from records), the OSCAL rendering, the HTML report and the
 * manifest. Pure types; times are microseconds since the epoch unless named otherwise.
 *
 * Files of a package (paths relative to its directory, all listed with their SHA-256 in the manifest):
 *
 *   manifest.json                    every other file's path, size and SHA-256, signed (see Manifest)
 *   summary.json                     EvidenceSummary: counts, timeline, controls (what the report shows)
 *   inventory.json                   AC-2: identity rules of the policy and identities seen
 *   scopes.json                      AC-6: each grant's effective scope
 *   audit/records.jsonl              AU-2/3/12: every audit record of the period, as stored
 *   approvals.jsonl                  CM-3/CM-5: approval events and the statements that ran under them
 *   masking.jsonl                    SC-28: statements whose results were masked or withheld
 *   authentication-failures.jsonl    IA-2/IA-5: sessions refused at authentication
 *   policy-changes.jsonl             CM-3: policy versions applied or rejected
 *   verification.json                AU-9/AU-10: the integrity verification of the store
 *   controls.json                    the control map: per control, status, reason and evidence files
 *   policy.yaml                      the policy file the inventory and scopes were rendered from (as read)
 *   oscal/assessment-results.json    the same as OSCAL 1.0.6 Assessment Results
 *   oscal/ssp.json                   the gateway's part of an OSCAL System Security Plan
 *   report.html                      one self-contained human-readable report
 */

export const EVIDENCE_PACKAGE_VERSION = 1;

/** The period exported, as given (ISO 8601) and in microseconds. */
export interface EvidencePeriod {
  readonly from: string;
  readonly to: string;
  readonly fromMicros: number;
  readonly toMicros: number;
}

/** One identity seen in the period (by issuer and subject), with what it did. */
export interface IdentityActivity {
  readonly issuer: string;
  readonly subject: string;
  /** The policy's identity rules its token matched (names), and the grants it was admitted under. */
  readonly identityRules: readonly string[];
  readonly grants: readonly string[];
  readonly firstSeen: number;
  readonly lastSeen: number;
  readonly sessions: number;
  readonly statements: number;
  readonly refusals: number;
  readonly approvalsRequested: number;
  readonly maskedStatements: number;
  readonly authenticationFailures: number;
  /** Whether the policy in force at the end of the period still admits it (AC-2: seen but no longer admitted). */
  readonly admittedNow: boolean;
}

/** One identity rule of the policy and whom it admitted in the period (AC-2: rules that admitted nobody). */
export interface IdentityRuleUsage {
  readonly name: string;
  readonly issuer: string;
  readonly claims: Readonly<Record<string, readonly string[]>>;
  readonly grants: readonly string[];
  /** Identities (issuer + subject) seen under it. */
  readonly identitiesSeen: number;
  readonly unused: boolean;
}

/** A grant's effective scope as the policy states it (AC-6). */
export interface EffectiveScope {
  readonly grant: string;
  readonly identityRules: readonly string[];
  readonly databases: readonly string[];
  readonly role?: string;
  readonly readOnly: boolean;
  readonly allow: readonly string[];
  readonly reads: readonly string[];
  readonly writes: readonly string[];
  readonly denied: readonly string[];
  readonly functions: readonly string[];
  readonly rules: readonly {
    readonly name: string;
    readonly decision: 'deny' | 'approve';
    readonly reason?: string;
    /** Added by the builder: the rule's conditions as the policy states them (`when`). */
    readonly when?: Readonly<Record<string, unknown>>;
    readonly approval?: {
      readonly approvers: readonly string[];
      readonly needed: number;
      readonly timeoutSeconds: number;
      readonly covers: string;
    };
  }[];
  readonly maskedColumns: readonly string[];
  readonly limits: Readonly<Record<string, unknown>>;
  /** Added by the builder: the pinned search path (`any`: left to the client). */
  readonly searchPath?: readonly string[] | 'any';
  /** Added by the builder: what the audit trail keeps of the grant's sessions (AU-2, AU-12). */
  readonly audit?: {
    readonly statements: readonly string[];
    readonly record: boolean;
    readonly strict: readonly string[];
  };
}

export type ControlId =
  | 'AC-2'
  | 'AC-6'
  | 'AU-2'
  | 'AU-3'
  | 'AU-9'
  | 'AU-10'
  | 'AU-12'
  | 'CM-3'
  | 'CM-5'
  | 'IA-2'
  | 'IA-5'
  | 'SC-28';

/**
 * A control's status, computed from the data: `satisfied`, `not-satisfied` (e.g. AU-9 when
 * verification finds tampering or a gap), or `satisfied-with-findings` (e.g. IA-2 with authentication
 * failures to review, AC-2 with identities seen but no longer admitted).
 */
export interface ControlStatus {
  readonly control: ControlId;
  readonly title: string;
  readonly status: 'satisfied' | 'satisfied-with-findings' | 'not-satisfied';
  readonly reason: string;
  /** Package files (paths as in the manifest) that are this control's evidence. */
  readonly evidence: readonly string[];
  /**
   * Added by the builder: which records of those files are the evidence (a selection in words, e.g.
   * `type = session-start, authentication ≠ accepted`) and how many there are.
   */
  readonly records?: readonly { readonly file: string; readonly select: string; readonly count: number }[];
}

export interface VerificationSummary {
  readonly ok: boolean;
  readonly writers: number;
  readonly digests: number;
  readonly chunks: number;
  readonly sessions: number;
  readonly records: number;
  readonly problems: readonly {
    readonly writer: string;
    readonly kind: string;
    readonly session?: string;
    readonly detail: string;
  }[];
  /** Restarts and crash recoveries: shown, not failures (see NOTE_KINDS). */
  readonly notes?: VerificationSummary['problems'];
}

/** Per day (UTC), for the report's charts. */
export interface ActivityDay {
  readonly day: string;
  readonly statements: number;
  readonly refusals: number;
  readonly approvals: number;
  readonly authenticationFailures: number;
}

/** What happened in the period, counted. */
export interface EvidenceCounts {
  readonly sessions: number;
  readonly statements: number;
  readonly refusals: number;
  readonly approvals: {
    readonly requested: number;
    readonly approved: number;
    readonly denied: number;
    readonly timedOut: number;
    readonly cancelled: number;
  };
  readonly maskedStatements: number;
  readonly authenticationFailures: number;
  readonly policyChanges: number;
}

export interface EvidenceSummary {
  readonly version: typeof EVIDENCE_PACKAGE_VERSION;
  readonly period: EvidencePeriod;
  /** ISO 8601. */
  readonly generatedAt: string;
  /** SHA-256 digests of the policies in force during the period (policy-reload records and sessions). */
  readonly policyDigests: readonly string[];
  readonly counts: EvidenceCounts;
  readonly identities: readonly IdentityActivity[];
  readonly identityRules: readonly IdentityRuleUsage[];
  readonly timeline: readonly ActivityDay[];
  readonly verification: VerificationSummary;
  readonly controls: readonly ControlStatus[];
  /**
   * Added by the builder: the policy the inventory and scopes were rendered from (SHA-256 of the file,
   * as policy.yaml carries it) and the one the records show in force at the end of the period.
   */
  readonly policy?: { readonly digest: string; readonly inForceAtEnd?: string };
  /**
   * Added by the builder: sessions across the period's boundaries. Records are the period's by `time`
   * ([from, to)); a session started before `from` is counted with its records in the period and
   * attributed by its session-start record outside it (not in audit/records.jsonl); one still open at
   * `to` is counted with what it did before. `unattributedRecords`: records of the period whose
   * session-start record is not in the store.
   */
  readonly boundaries?: {
    readonly sessionsStartedBefore: number;
    readonly sessionsOpenAtEnd: number;
    readonly unattributedRecords: number;
  };
}

export interface ManifestEntry {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
}

/**
 * The package's manifest. `signature` is over the canonical JSON of the manifest without it, made
 * with the same key as the audit digests (ECDSA P-256 / SHA-256: a local PEM key or KMS), so an
 * assessor checks the package with the same public key as the audit trail.
 */
export interface Manifest {
  readonly version: typeof EVIDENCE_PACKAGE_VERSION;
  readonly generatedAt: string;
  readonly period: EvidencePeriod;
  readonly files: readonly ManifestEntry[];
  readonly signature?: { readonly algorithm: 'ECDSA_SHA_256'; readonly value: string };
}
