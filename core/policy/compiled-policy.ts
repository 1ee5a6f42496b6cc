import type { ApproverContact, Coverage } from '../approval/approval';
import type { MaskingPolicy } from '../masking/masking-policy';
import type { StatementClass } from '../sql/analysis';
import type { Matcher, NameGlob } from './glob';
import type { PolicyDocument, PolicyTestDocument, Weekday } from './schema';

/** A policy ready to decide: globs compiled, groups expanded, references checked. */
export interface CompiledPolicy {
  readonly unknownStatements: 'deny' | 'allow';
  readonly unparseableStatements: 'deny' | 'forward';
  readonly identities: readonly IdentityRule[];
  readonly grants: readonly Grant[];
  /** People who may approve, where they are reached, and the token identities that are them. */
  readonly approvers: readonly CompiledApprover[];
  readonly databases: PolicyDocument['databases'];
  readonly tests: readonly PolicyTestDocument[];
  /** SHA-256 of the policy file's bytes: which policy decided, for the audit trail. */
  readonly digest: string;
}

export interface CompiledApprover extends ApproverContact {
  readonly name: string;
  /** Token identities that are this person (for self-approval checks). */
  readonly identities: readonly IdentityRule[];
}

export interface IdentityRule {
  readonly name: string;
  readonly issuer: string;
  readonly claims: readonly { readonly claim: string; readonly match: Matcher }[];
}

/** A rule's approval workflow: approver names (groups expanded), how many, how long, what it covers. */
export interface RuleApproval {
  readonly approvers: readonly string[];
  readonly needed: number;
  readonly timeoutMs: number;
  readonly coverage: Coverage;
  /** Hold the statement until the decision (true), or refuse it at once with the request (false). */
  readonly wait: boolean;
}

export interface Rule {
  readonly name: string;
  readonly decision: 'deny' | 'approve';
  readonly reason: string | undefined;
  readonly approval?: RuleApproval;
  readonly commands: ReadonlySet<string> | undefined;
  readonly classes: ReadonlySet<StatementClass> | undefined;
  readonly relations: readonly NameGlob[] | undefined;
  readonly writes: readonly NameGlob[] | undefined;
  readonly functions: readonly NameGlob[] | undefined;
  readonly unbounded: boolean | undefined;
}

export interface AllowedHours {
  readonly days: ReadonlySet<Weekday>;
  /** Minutes after midnight. */
  readonly from: number;
  readonly to: number;
  readonly timezone: string;
}

export interface GrantLimits {
  readonly maxSessionSeconds?: number;
  readonly allowedHours?: AllowedHours;
  readonly maxRows?: number;
  readonly statementTimeoutMs?: number;
  readonly maxConnections?: number;
  readonly statementsPerSecond?: number;
}

export interface Grant {
  readonly name: string;
  /** Identity names this grant applies to, groups expanded. */
  readonly members: ReadonlySet<string>;
  readonly databases: Matcher;
  readonly role: string | undefined;
  readonly readOnly: boolean;
  readonly searchPath: readonly string[] | 'any';
  readonly allow: ReadonlySet<StatementClass>;
  readonly reads: readonly NameGlob[];
  readonly writes: readonly NameGlob[];
  readonly denied: readonly NameGlob[];
  readonly functions: readonly NameGlob[];
  readonly rules: readonly Rule[];
  readonly limits: GrantLimits;
  /** Statement classes that get audit records, and whether sessions are recorded. */
  readonly audit: {
    readonly statements: readonly StatementClass[];
    readonly record: boolean;
    /** Classes whose statements wait for a durable record in the shared store before they run. */
    readonly strict: readonly StatementClass[];
  };
  /** Columns masked in results; undefined when the grant masks nothing. */
  readonly masking: MaskingPolicy | undefined;
}

/** A verified token, as the policy sees it. */
export interface Identity {
  /** The token's `iss`. */
  readonly issuer: string;
  /** The name the gateway configuration gives that issuer, if any. */
  readonly issuerName?: string;
  readonly subject: string;
  readonly claims: Readonly<Record<string, unknown>>;
}
