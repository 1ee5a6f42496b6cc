import type {
  ApprovalEventRecord,
  AuditRecord,
  IdentityFacts,
  PolicyReloadRecord,
  SessionEndRecord,
  SessionStartRecord,
  StatementRecord,
} from '../audit/records';
import { grantFor, matchingIdentities } from '../policy/admission';
import type { CompiledPolicy, Identity } from '../policy/compiled-policy';
import type {
  ActivityDay,
  EvidenceCounts,
  EvidencePeriod,
  IdentityActivity,
  IdentityRuleUsage,
} from './evidence-package';
import { inPeriod, utcDayOf } from './evidence-period';
import type { EvidencePolicy } from './evidence-policy';
import type { StoredRecord } from './stored-records';

/**
 * What the period's records say, computed once for the package's files and the control map. Pure.
 *
 * Period: a record is the period's when its `time` is in [from, to). Sessions across the boundaries:
 * a session with records in the period counts as a session of the period; when it started before
 * `from`, its identity, grant and database come from its session-start record outside the period
 * (that record is not in audit/records.jsonl, which holds the period's records only); when it is
 * still open at `to`, what it did before `to` counts. An approval request is shown as it stood at
 * `to` (an outcome recorded later is not the period's: it is `pending`).
 *
 * Identities: an identity is issuer + subject as the session-start records name them. Which identity
 * rules it matches is decided with the policy in force at the end of the period (the one given),
 * against the claims the records keep (the issuer's `identityClaims`, with `sub` as the subject when
 * not kept), exactly as the gateway matches them (`matchingIdentities`, `grantFor`). The records name
 * the issuer by its `iss`; a rule may name it by the gateway configuration's name: `issuers` maps
 * names to `iss`, and names are also learned from admitted sessions (a session admitted under a grant
 * whose member rules name one issuer other than the record's, and whose claims match that rule with
 * that name). A claim the records do not keep cannot match.
 */

export interface RecordRef {
  readonly session: string;
  readonly seq: number;
  readonly hash: string;
}

export interface IdentityRef {
  readonly issuer: string;
  readonly subject: string;
}

export interface ApprovalExtract {
  readonly id: string;
  readonly session: string;
  readonly writer: string;
  readonly identity?: IdentityRef;
  readonly database?: string;
  readonly grant?: string;
  readonly rule?: string;
  readonly reason?: string;
  readonly binding?: string;
  readonly approvers?: readonly string[];
  readonly needed?: number;
  /** When the request was opened (possibly before the period), and when it would expire. */
  readonly requested?: number;
  readonly expires?: number;
  /** As it stood at the end of the period. */
  readonly outcome: 'approved' | 'denied' | 'timed-out' | 'cancelled' | 'pending';
  readonly ended?: number;
  readonly decisions: NonNullable<ApprovalEventRecord['decisions']>;
  readonly notifications: NonNullable<ApprovalEventRecord['notifications']>;
  /** The period's statements that ran under the request, or were refused pending it. */
  readonly statements: readonly {
    readonly session: string;
    readonly seq: number;
    readonly time: number;
    readonly text: string;
    readonly textSha256: string;
    readonly decision: StatementRecord['decision'];
    readonly by?: readonly string[];
    readonly outcome: StatementRecord['outcome'];
  }[];
  /** The period's records of the request in audit/records.jsonl (events and statements). */
  readonly records: readonly RecordRef[];
}

export interface MaskingExtract extends RecordRef {
  readonly time: number;
  readonly writer: string;
  readonly identity?: IdentityRef;
  readonly database?: string;
  readonly grant?: string;
  readonly text: string;
  readonly textSha256: string;
  readonly decision: StatementRecord['decision'];
  readonly columns: NonNullable<StatementRecord['masking']>['columns'];
  readonly values: number;
  readonly withheld?: string;
}

/** The checks of a token itself (IA-5), as the session-start record names the failed one. */
export const TOKEN_CHECKS: ReadonlySet<string> = new Set([
  'expired',
  'not-yet-valid',
  'wrong-audience',
  'unknown-issuer',
  'algorithm-not-allowed',
  'bad-signature',
  'unknown-key',
  'required-claim',
  'missing-subject',
  'malformed',
]);

export interface AuthenticationFailureExtract extends RecordRef {
  readonly time: number;
  readonly writer: string;
  /** The failed check as recorded (`expired`, `refused`…). */
  readonly check: string;
  /**
   * token: the token failed a check (IA-5); throttled: the address had too many failures; admission:
   * a verified identity the policy or a limit refused; other: anything else (no token, upstream…).
   */
  readonly category: 'token' | 'throttled' | 'admission' | 'other';
  readonly identity?: IdentityFacts;
  readonly database: string;
  readonly source: SessionStartRecord['source'];
  readonly error?: SessionStartRecord['error'];
}

/**
 * One policy version applied or rejected. Every gateway process (writer) records the reloads it
 * makes, so one change made once shows in several writers' records: they are one change here, with
 * the writers that recorded it and when the first did.
 */
export interface PolicyChangeExtract {
  readonly time: number;
  readonly writers: readonly string[];
  readonly records: readonly RecordRef[];
  readonly outcome: PolicyReloadRecord['outcome'];
  readonly digest: string;
  readonly previous: string;
  readonly version?: string;
  readonly changedBy?: string;
  readonly error?: string;
}

/** A record of the period lacking content AU-3 asks for. */
export interface IncompleteRecord extends RecordRef {
  readonly type: string;
  readonly missing: readonly string[];
}

export interface EvidenceAnalysis {
  readonly periodRecords: readonly StoredRecord[];
  readonly identities: readonly IdentityActivity[];
  readonly identityRules: readonly IdentityRuleUsage[];
  /** Identities with sessions in the period that the policy no longer admits (AC-2). */
  readonly noLongerAdmitted: readonly IdentityActivity[];
  readonly approvals: readonly ApprovalExtract[];
  readonly masking: readonly MaskingExtract[];
  readonly authenticationFailures: readonly AuthenticationFailureExtract[];
  readonly policyChanges: readonly PolicyChangeExtract[];
  readonly incomplete: readonly IncompleteRecord[];
  readonly timeline: readonly ActivityDay[];
  readonly counts: EvidenceCounts;
  readonly boundaries: {
    readonly sessionsStartedBefore: number;
    readonly sessionsOpenAtEnd: number;
    readonly unattributedRecords: number;
  };
  /** Sessions admitted without an identity (none should be): IA-2. */
  readonly admittedWithoutIdentity: number;
  readonly policyDigests: readonly string[];
  /** The policy the records show in force at the end of the period, when they show one. */
  readonly policyInForceAtEnd?: string;
  /** Sessions of the period (ids) and writers that wrote the period's records. */
  readonly sessions: ReadonlySet<string>;
  readonly writers: ReadonlySet<string>;
  /** Issuer names used to match identity rules (name → `iss`), given or learned. */
  readonly issuerNames: Readonly<Record<string, string>>;
}

interface SessionFacts {
  start?: SessionStartRecord;
  end?: SessionEndRecord;
  inPeriod: StoredRecord[];
}

/** Statement decisions that mean the statement did not run. */
const REFUSED = new Set(['refused', 'denied', 'timed-out']);

function identityKey(issuer: string, subject: string): string {
  return `${issuer}\u0000${subject}`;
}

function ref(stored: StoredRecord): RecordRef {
  return { session: stored.record.session, seq: stored.record.seq, hash: stored.record.hash };
}

/** The policy's view of a recorded identity: its kept claims, with `sub` as the subject if not kept. */
function policyIdentity(facts: IdentityFacts, issuerName?: string): Identity {
  const claims: Record<string, unknown> = { ...(facts.claims ?? {}) };
  if (!('sub' in claims)) claims.sub = facts.subject;
  return { issuer: facts.issuer, ...(issuerName ? { issuerName } : {}), subject: facts.subject, claims };
}

/** Issuer names mapped to `iss`: the given ones, plus those admitted sessions show unambiguously. */
function learnIssuerNames(
  policy: CompiledPolicy,
  starts: readonly SessionStartRecord[],
  given: Readonly<Record<string, string>>,
): Record<string, string> {
  const learned = new Map<string, string | null>();
  for (const start of starts) {
    if (start.authentication !== 'accepted' || !start.identity || !start.grant) continue;
    const grant = policy.grants.find((g) => g.name === start.grant);
    if (!grant) continue;
    const identity = start.identity;
    const names = new Set<string>();
    for (const rule of policy.identities) {
      if (!grant.members.has(rule.name) || rule.issuer === identity.issuer || rule.issuer in given) continue;
      if (matchingIdentities(policy, policyIdentity(identity, rule.issuer)).includes(rule.name))
        names.add(rule.issuer);
    }
    if (names.size !== 1) continue;
    const [name] = names as unknown as [string];
    const known = learned.get(name);
    learned.set(name, known === undefined || known === identity.issuer ? identity.issuer : null);
  }
  const out: Record<string, string> = { ...given };
  for (const [name, iss] of learned) if (iss !== null) out[name] = iss;
  return out;
}

/** What AU-3 asks each record type to say: who, what, when, where, the outcome. */
function missingContent(record: AuditRecord): string[] {
  const missing: string[] = [];
  const need = (ok: unknown, field: string) => {
    if (ok === undefined || ok === null || ok === '') missing.push(field);
  };
  need(record.time, 'time');
  need(record.session, 'session');
  need(record.writer, 'writer');
  need(record.hash, 'hash');
  switch (record.type) {
    case 'session-start':
      need(record.source?.address, 'source.address');
      need(record.database, 'database');
      need(record.authentication, 'authentication');
      if (record.authentication === 'accepted') {
        need(record.identity?.issuer, 'identity.issuer');
        need(record.identity?.subject, 'identity.subject');
        need(record.grant, 'grant');
        need(record.policyDigest, 'policyDigest');
      } else need(record.error, 'error');
      break;
    case 'statement':
      need(record.start, 'start');
      need(record.end, 'end');
      need(record.textSha256, 'textSha256');
      need(typeof record.text === 'string' ? true : undefined, 'text');
      need(record.decision, 'decision');
      need(record.outcome, 'outcome');
      break;
    case 'session-end':
      need(record.reason, 'reason');
      break;
    case 'policy-reload':
      need(record.digest, 'digest');
      need(record.outcome, 'outcome');
      break;
    case 'approval':
      need(record.id, 'id');
      need(record.event, 'event');
      break;
    default:
      missing.push('type');
  }
  return missing;
}

interface Accumulator {
  issuer: string;
  subject: string;
  claimSets: Map<string, IdentityFacts>;
  databases: Set<string>;
  grants: Set<string>;
  firstSeen: number;
  lastSeen: number;
  sessions: number;
  statements: number;
  refusals: number;
  approvalsRequested: number;
  maskedStatements: number;
  authenticationFailures: number;
}

function claimsKey(facts: IdentityFacts): string {
  const entries = Object.entries(facts.claims ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return JSON.stringify(entries);
}

export interface AnalysisInput {
  readonly period: EvidencePeriod;
  /** Every record of the store (the period's and the others), in storage order. */
  readonly records: readonly StoredRecord[];
  readonly policy: EvidencePolicy;
  /** Issuer names of the gateway configuration (name → `iss`), for rules that name issuers so. */
  readonly issuers?: Readonly<Record<string, string>>;
  /**
   * When the package is made (microseconds): a request is judged as it stands then, when the period
   * reaches past it (one that expires after this has not timed out yet).
   */
  readonly asOf?: number;
}

export function analyseEvidence(input: AnalysisInput): EvidenceAnalysis {
  const { period, records } = input;
  const policy = input.policy.compiled;
  const sessions = new Map<string, SessionFacts>();
  const periodRecords: StoredRecord[] = [];
  const starts: SessionStartRecord[] = [];
  const approvalEvents = new Map<string, StoredRecord[]>();
  for (const stored of records) {
    const { record } = stored;
    let facts = sessions.get(record.session);
    if (!facts) {
      facts = { inPeriod: [] };
      sessions.set(record.session, facts);
    }
    if (record.type === 'session-start') {
      facts.start ??= record;
      starts.push(record);
    } else if (record.type === 'session-end' && record.time < period.toMicros) facts.end ??= record;
    else if (record.type === 'approval' && record.time < period.toMicros) {
      const list = approvalEvents.get(record.id) ?? [];
      list.push(stored);
      approvalEvents.set(record.id, list);
    }
    if (inPeriod(period, record.time)) {
      facts.inPeriod.push(stored);
      periodRecords.push(stored);
    }
  }
  const issuerNames = learnIssuerNames(policy, starts, input.issuers ?? {});
  const namesOf = (iss: string) => Object.keys(issuerNames).filter((name) => issuerNames[name] === iss);

  const accumulators = new Map<string, Accumulator>();
  const touch = (facts: IdentityFacts, time: number): Accumulator => {
    const key = identityKey(facts.issuer, facts.subject);
    let acc = accumulators.get(key);
    if (!acc) {
      acc = {
        issuer: facts.issuer,
        subject: facts.subject,
        claimSets: new Map(),
        databases: new Set(),
        grants: new Set(),
        firstSeen: time,
        lastSeen: time,
        sessions: 0,
        statements: 0,
        refusals: 0,
        approvalsRequested: 0,
        maskedStatements: 0,
        authenticationFailures: 0,
      };
      accumulators.set(key, acc);
    }
    acc.firstSeen = Math.min(acc.firstSeen, time);
    acc.lastSeen = Math.max(acc.lastSeen, time);
    acc.claimSets.set(claimsKey(facts), facts);
    return acc;
  };

  const periodSessions = new Set<string>();
  const writers = new Set<string>();
  let sessionsCount = 0;
  let startedBefore = 0;
  let openAtEnd = 0;
  let unattributed = 0;
  let admittedWithoutIdentity = 0;
  for (const [id, facts] of sessions) {
    if (facts.inPeriod.length === 0) continue;
    for (const stored of facts.inPeriod) writers.add(stored.writer);
    if (facts.inPeriod.every((stored) => stored.record.type === 'policy-reload')) continue;
    periodSessions.add(id);
    const start = facts.start;
    if (!start) {
      unattributed += facts.inPeriod.length;
      continue;
    }
    if (start.authentication !== 'accepted') continue;
    sessionsCount++;
    if (start.time < period.fromMicros) startedBefore++;
    if (!facts.end) openAtEnd++;
    if (!start.identity) {
      admittedWithoutIdentity++;
      continue;
    }
    const acc = touch(start.identity, facts.inPeriod[0]!.record.time);
    acc.sessions++;
    acc.databases.add(start.database);
    if (start.grant) acc.grants.add(start.grant);
  }

  const timeline = new Map<
    string,
    { statements: number; refusals: number; approvals: number; failures: number }
  >();
  const day = (time: number) => {
    const key = utcDayOf(time);
    let entry = timeline.get(key);
    if (!entry) {
      entry = { statements: 0, refusals: 0, approvals: 0, failures: 0 };
      timeline.set(key, entry);
    }
    return entry;
  };
  const masking: MaskingExtract[] = [];
  const failures: AuthenticationFailureExtract[] = [];
  const policyChanges = new Map<string, PolicyChangeExtract & { writers: string[]; records: RecordRef[] }>();
  const incomplete: IncompleteRecord[] = [];
  const approvalIds = new Set<string>();
  const approvalStatements = new Map<string, StoredRecord[]>();
  const approvalCounts = { requested: 0, approved: 0, denied: 0, timedOut: 0, cancelled: 0 };
  const endedRequests = new Set<string>();
  let statements = 0;
  let refusals = 0;
  for (const stored of periodRecords) {
    const { record } = stored;
    const missing = missingContent(record);
    if (missing.length > 0) incomplete.push({ ...ref(stored), type: String(record.type), missing });
    const start = sessions.get(record.session)?.start;
    const identity = start?.identity;
    const acc = identity && record.type !== 'policy-reload' ? touch(identity, record.time) : undefined;
    switch (record.type) {
      case 'session-start':
        if (record.authentication !== 'accepted') {
          day(record.time).failures++;
          if (acc) {
            acc.authenticationFailures++;
            acc.databases.add(record.database);
          }
          const category = TOKEN_CHECKS.has(record.authentication)
            ? 'token'
            : record.authentication === 'throttled'
              ? 'throttled'
              : record.authentication === 'refused'
                ? 'admission'
                : 'other';
          failures.push({
            ...ref(stored),
            time: record.time,
            writer: stored.writer,
            check: record.authentication,
            category,
            ...(record.identity ? { identity: record.identity } : {}),
            database: record.database,
            source: record.source,
            ...(record.error ? { error: record.error } : {}),
          });
        }
        break;
      case 'statement': {
        statements++;
        day(record.time).statements++;
        if (acc) acc.statements++;
        if (REFUSED.has(record.decision)) {
          refusals++;
          day(record.time).refusals++;
          if (acc) acc.refusals++;
        }
        if (record.approval?.id) {
          approvalIds.add(record.approval.id);
          const list = approvalStatements.get(record.approval.id) ?? [];
          list.push(stored);
          approvalStatements.set(record.approval.id, list);
        }
        const masked = record.masking;
        if (masked && (masked.columns.length > 0 || masked.withheld)) {
          if (acc) acc.maskedStatements++;
          masking.push({
            ...ref(stored),
            time: record.time,
            writer: stored.writer,
            ...(identity ? { identity: { issuer: identity.issuer, subject: identity.subject } } : {}),
            ...(start ? { database: start.database } : {}),
            ...(start?.grant ? { grant: start.grant } : {}),
            text: record.text,
            textSha256: record.textSha256,
            decision: record.decision,
            columns: masked.columns,
            values: masked.columns.reduce((sum, column) => sum + column.values, 0),
            ...(masked.withheld ? { withheld: masked.withheld } : {}),
          });
        }
        break;
      }
      case 'approval':
        approvalIds.add(record.id);
        if (record.event === 'requested') {
          approvalCounts.requested++;
          day(record.time).approvals++;
          if (acc) acc.approvalsRequested++;
        } else if (!endedRequests.has(record.id)) {
          // A request ends once; a statement asking again after its end (`wait: false`) records the
          // answer again, which is not another outcome.
          endedRequests.add(record.id);
          if (record.event === 'approved') approvalCounts.approved++;
          else if (record.event === 'denied') approvalCounts.denied++;
          else if (record.event === 'timed-out') approvalCounts.timedOut++;
          else if (record.event === 'cancelled') approvalCounts.cancelled++;
        }
        break;
      case 'policy-reload': {
        const key = JSON.stringify([record.outcome, record.digest, record.previous, record.version ?? null]);
        const known = policyChanges.get(key);
        if (known) {
          if (!known.writers.includes(stored.writer)) known.writers.push(stored.writer);
          known.records.push(ref(stored));
          break;
        }
        policyChanges.set(key, {
          time: record.time,
          writers: [stored.writer],
          records: [ref(stored)],
          outcome: record.outcome,
          digest: record.digest,
          previous: record.previous,
          ...(record.version !== undefined ? { version: record.version } : {}),
          ...(record.changedBy !== undefined ? { changedBy: record.changedBy } : {}),
          ...(record.error !== undefined ? { error: record.error } : {}),
        });
        break;
      }
      default:
        break;
    }
  }

  const approvals = [...approvalIds].map((id) =>
    approvalExtract(
      id,
      approvalEvents.get(id) ?? [],
      approvalStatements.get(id) ?? [],
      sessions,
      period,
      Math.min(period.toMicros, input.asOf ?? period.toMicros),
    ),
  );
  approvals.sort((a, b) => (a.requested ?? 0) - (b.requested ?? 0) || a.id.localeCompare(b.id));
  // A request that expired unanswered in the period ended then, though no record says so.
  for (const approval of approvals) {
    if (approval.outcome !== 'timed-out' || endedRequests.has(approval.id)) continue;
    if (approval.expires !== undefined && inPeriod(period, approval.expires)) approvalCounts.timedOut++;
  }

  // Identities, matched against the policy in force at the end of the period.
  const identities: IdentityActivity[] = [];
  const matchedBy = new Map<string, Set<string>>();
  for (const acc of accumulators.values()) {
    const rules = new Set<string>();
    let admittedNow = false;
    for (const facts of acc.claimSets.values()) {
      for (const name of [undefined, ...namesOf(acc.issuer)]) {
        const candidate = policyIdentity(facts, name);
        for (const rule of matchingIdentities(policy, candidate)) rules.add(rule);
        for (const database of acc.databases)
          if (grantFor(policy, candidate, database) !== undefined) admittedNow = true;
      }
    }
    if (acc.databases.size === 0)
      admittedNow = policy.grants.some((grant) => [...rules].some((rule) => grant.members.has(rule)));
    const identityRules = policy.identities.map((rule) => rule.name).filter((name) => rules.has(name));
    if (acc.sessions > 0)
      for (const rule of identityRules) {
        const set = matchedBy.get(rule) ?? new Set<string>();
        set.add(identityKey(acc.issuer, acc.subject));
        matchedBy.set(rule, set);
      }
    identities.push({
      issuer: acc.issuer,
      subject: acc.subject,
      identityRules,
      grants: [...acc.grants].sort(),
      firstSeen: acc.firstSeen,
      lastSeen: acc.lastSeen,
      sessions: acc.sessions,
      statements: acc.statements,
      refusals: acc.refusals,
      approvalsRequested: acc.approvalsRequested,
      maskedStatements: acc.maskedStatements,
      authenticationFailures: acc.authenticationFailures,
      admittedNow,
    });
  }
  identities.sort((a, b) => a.issuer.localeCompare(b.issuer) || a.subject.localeCompare(b.subject));

  const document = input.policy.document;
  const identityRules: IdentityRuleUsage[] = policy.identities.map((rule) => {
    const written = document.identities[rule.name]?.claims ?? {};
    const seen = matchedBy.get(rule.name)?.size ?? 0;
    return {
      name: rule.name,
      issuer: rule.issuer,
      claims: Object.fromEntries(
        Object.entries(written).map(([claim, value]) => [
          claim,
          (Array.isArray(value) ? value : [value]).map(String),
        ]),
      ),
      grants: policy.grants.filter((grant) => grant.members.has(rule.name)).map((grant) => grant.name),
      identitiesSeen: seen,
      unused: seen === 0,
    };
  });

  const { policyDigests, inForceAtEnd } = policyHistory(records, period);
  return {
    periodRecords,
    identities,
    identityRules,
    noLongerAdmitted: identities.filter((identity) => identity.sessions > 0 && !identity.admittedNow),
    approvals,
    masking,
    authenticationFailures: failures,
    policyChanges: [...policyChanges.values()],
    incomplete,
    timeline: [...timeline]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([dayKey, entry]) => ({
        day: dayKey,
        statements: entry.statements,
        refusals: entry.refusals,
        approvals: entry.approvals,
        authenticationFailures: entry.failures,
      })),
    counts: {
      sessions: sessionsCount,
      statements,
      refusals,
      approvals: approvalCounts,
      maskedStatements: masking.length,
      authenticationFailures: failures.length,
      policyChanges: policyChanges.size,
    },
    boundaries: {
      sessionsStartedBefore: startedBefore,
      sessionsOpenAtEnd: openAtEnd,
      unattributedRecords: unattributed,
    },
    admittedWithoutIdentity,
    policyDigests,
    ...(inForceAtEnd !== undefined ? { policyInForceAtEnd: inForceAtEnd } : {}),
    sessions: periodSessions,
    writers,
    issuerNames,
  };
}

/**
 * The policies in force during the period, in the order they appear: the one in force at `from` (the
 * latest applied before it, as policy reloads or admitted sessions show), those applied in the
 * period and those that admitted the period's sessions; and the one in force at `to`.
 */
function policyHistory(
  records: readonly StoredRecord[],
  period: EvidencePeriod,
): { policyDigests: string[]; inForceAtEnd?: string } {
  const events: { time: number; digest: string }[] = [];
  for (const { record } of records) {
    if (record.type === 'policy-reload' && record.outcome === 'applied')
      events.push({ time: record.time, digest: record.digest });
    else if (record.type === 'session-start' && record.policyDigest)
      events.push({ time: record.time, digest: record.policyDigest });
  }
  events.sort((a, b) => a.time - b.time);
  const before = events.filter((event) => event.time < period.fromMicros).at(-1);
  const during = events.filter((event) => inPeriod(period, event.time));
  const digests = [...new Set([...(before ? [before.digest] : []), ...during.map((event) => event.digest)])];
  const atEnd = events.filter((event) => event.time < period.toMicros).at(-1);
  return { policyDigests: digests, ...(atEnd ? { inForceAtEnd: atEnd.digest } : {}) };
}

/**
 * How a request stood at `horizon` (the end of the period, or when the package is made if that is
 * earlier): its recorded end, or timed out when it expired unanswered before then (a non-interactive
 * request nobody waits on gets no end record), else pending.
 */
function outcomeAt(
  ended: ApprovalEventRecord | undefined,
  requested: ApprovalEventRecord | undefined,
  horizon: number,
): ApprovalExtract['outcome'] {
  if (ended) return ended.event as ApprovalExtract['outcome'];
  if (requested?.expires !== undefined && requested.expires <= horizon) return 'timed-out';
  return 'pending';
}

function approvalExtract(
  id: string,
  events: readonly StoredRecord[],
  statements: readonly StoredRecord[],
  sessions: ReadonlyMap<string, SessionFacts>,
  period: EvidencePeriod,
  horizon: number,
): ApprovalExtract {
  const typed = events.map((stored) => stored.record as ApprovalEventRecord);
  const requested = typed.find((event) => event.event === 'requested');
  const ended = typed.find((event) => event.event !== 'requested');
  const session = requested?.session ?? ended?.session ?? statements[0]?.record.session ?? '';
  const start = sessions.get(session)?.start;
  const writer = events[0]?.writer ?? statements[0]?.writer ?? '';
  const inThePeriod = [...events, ...statements].filter((stored) => inPeriod(period, stored.record.time));
  inThePeriod.sort((a, b) => a.record.time - b.record.time);
  return {
    id,
    session,
    writer,
    ...(start?.identity
      ? { identity: { issuer: start.identity.issuer, subject: start.identity.subject } }
      : {}),
    ...(start ? { database: start.database } : {}),
    ...((requested?.grant ?? ended?.grant) ? { grant: requested?.grant ?? ended?.grant } : {}),
    ...((requested?.rule ?? ended?.rule) ? { rule: requested?.rule ?? ended?.rule } : {}),
    ...(requested?.reason !== undefined ? { reason: requested.reason } : {}),
    ...(requested?.binding !== undefined ? { binding: requested.binding } : {}),
    ...(requested?.approvers ? { approvers: requested.approvers } : {}),
    ...(requested?.needed !== undefined ? { needed: requested.needed } : {}),
    ...(requested ? { requested: requested.time } : {}),
    ...(requested?.expires !== undefined ? { expires: requested.expires } : {}),
    outcome: outcomeAt(ended, requested, horizon),
    ...(ended ? { ended: ended.time } : {}),
    decisions: ended?.decisions ?? [],
    notifications: ended?.notifications ?? [],
    statements: statements
      .filter((stored) => inPeriod(period, stored.record.time))
      .map((stored) => {
        const record = stored.record as StatementRecord;
        return {
          session: record.session,
          seq: record.seq,
          time: record.time,
          text: record.text,
          textSha256: record.textSha256,
          decision: record.decision,
          ...(record.approval?.by ? { by: record.approval.by } : {}),
          outcome: record.outcome,
        };
      }),
    records: inThePeriod.map(ref),
  };
}
