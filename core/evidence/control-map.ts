import type { VerificationReport } from '../audit/verify';
import type { EvidenceAnalysis } from './evidence-analysis';
import type { ControlId, ControlStatus, EffectiveScope } from './evidence-package';
import type { PeriodVerification } from './period-verification';

/** The package's files, as the manifest names them. */
export const PACKAGE_FILES = {
  summary: 'summary.json',
  inventory: 'inventory.json',
  scopes: 'scopes.json',
  records: 'audit/records.jsonl',
  approvals: 'approvals.jsonl',
  masking: 'masking.jsonl',
  authenticationFailures: 'authentication-failures.jsonl',
  policyChanges: 'policy-changes.jsonl',
  verification: 'verification.json',
  controls: 'controls.json',
  policy: 'policy.yaml',
  assessmentResults: 'oscal/assessment-results.json',
  ssp: 'oscal/ssp.json',
  report: 'report.html',
} as const;

const F = PACKAGE_FILES;

export const CONTROL_TITLES: Readonly<Record<ControlId, string>> = {
  'AC-2': 'Account Management',
  'AC-6': 'Least Privilege',
  'AU-2': 'Event Logging',
  'AU-3': 'Content of Audit Records',
  'AU-9': 'Protection of Audit Information',
  'AU-10': 'Non-repudiation',
  'AU-12': 'Audit Record Generation',
  'CM-3': 'Configuration Change Control',
  'CM-5': 'Access Restrictions for Change',
  'IA-2': 'Identification and Authentication (Organizational Users)',
  'IA-5': 'Authenticator Management',
  'SC-28': 'Protection of Information at Rest',
};

/** Problem kinds that mean the digests themselves (the signatures) cannot be trusted: AU-10. */
const SIGNATURE_PROBLEMS = new Set([
  'digest-unreadable',
  'digest-signature',
  'digest-missing',
  'digest-chain',
  'digest-tail-deleted',
]);

const ALL_CLASSES = ['read', 'write', 'ddl', 'admin', 'session', 'transaction', 'unknown'];

export interface ControlInput {
  readonly analysis: EvidenceAnalysis;
  readonly scopes: readonly EffectiveScope[];
  readonly verification: VerificationReport;
  readonly period: PeriodVerification;
  /** SHA-256 of the policy the inventory and scopes were rendered from. */
  readonly policyDigest: string;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function tally(values: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return [...counts]
    .sort(([, a], [, b]) => b - a)
    .map(([value, n]) => `${value} ${n}`)
    .join(', ');
}

function listed(names: readonly string[], max = 10): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

type Status = ControlStatus['status'];

function control(
  id: ControlId,
  status: Status,
  reason: string,
  evidence: readonly string[],
  records: ControlStatus['records'] = [],
): ControlStatus {
  return { control: id, title: CONTROL_TITLES[id], status, reason, evidence, records };
}

/**
 * The control map: for each control, a status computed from the data, the reason in words, the
 * package files that are its evidence and which of their records. Every evidence path is one of
 * PACKAGE_FILES other than the manifest (which lists them).
 */
export function controlMap(input: ControlInput): ControlStatus[] {
  const { analysis, scopes, verification, period, policyDigest } = input;
  const counts = analysis.counts;
  const records = analysis.periodRecords.length;
  const policyNote =
    analysis.policyInForceAtEnd !== undefined && analysis.policyInForceAtEnd !== policyDigest
      ? `the policy rendered (${policyDigest.slice(0, 12)}…) is not the one the records show in force at the end of the period (${analysis.policyInForceAtEnd.slice(0, 12)}…)`
      : undefined;
  const out: ControlStatus[] = [];

  // AC-2: the inventory of machine identities.
  {
    const gone = analysis.noLongerAdmitted.map((i) => i.subject);
    const unused = analysis.identityRules.filter((rule) => rule.unused).map((rule) => rule.name);
    const findings = [
      gone.length > 0
        ? `${plural(gone.length, 'identity', 'identities')} seen in the period but no longer admitted: ${listed(gone)}`
        : undefined,
      unused.length > 0
        ? `${plural(unused.length, 'identity rule')} admitted nobody in the period: ${listed(unused)}`
        : undefined,
      policyNote,
    ].filter((f): f is string => f !== undefined);
    const base = `${plural(analysis.identities.length, 'identity', 'identities')} seen under ${plural(analysis.identityRules.length, 'identity rule')} of the policy`;
    out.push(
      control(
        'AC-2',
        findings.length > 0 ? 'satisfied-with-findings' : 'satisfied',
        findings.length > 0
          ? `${base}; ${findings.join('; ')}.`
          : `${base}; every rule admitted someone and every identity seen is still admitted.`,
        [F.inventory, F.policy, F.records, F.authenticationFailures],
        [
          {
            file: F.inventory,
            select: 'identities[admittedNow = false and sessions > 0]',
            count: gone.length,
          },
          { file: F.inventory, select: 'identityRules[unused = true]', count: unused.length },
          {
            file: F.records,
            select: 'type = session-start',
            count: analysis.periodRecords.filter((r) => r.record.type === 'session-start').length,
          },
        ],
      ),
    );
  }

  // AC-6: each grant's effective scope; refusals show it enforced.
  {
    const privileged = scopes.filter((scope) => scope.allow.includes('admin')).map((scope) => scope.grant);
    const anyFunction = scopes.filter((scope) => scope.functions.includes('*')).map((scope) => scope.grant);
    const findings = [
      privileged.length > 0 ? `grants allowing admin statements: ${listed(privileged)}` : undefined,
      anyFunction.length > 0 ? `grants allowing every function: ${listed(anyFunction)}` : undefined,
      policyNote,
    ].filter((f): f is string => f !== undefined);
    const base = `${plural(scopes.length, 'grant')} rendered with their effective scope (${scopes.filter((s) => s.readOnly).length} read-only); ${plural(counts.refusals, 'statement')} refused in the period`;
    out.push(
      control(
        'AC-6',
        findings.length > 0 ? 'satisfied-with-findings' : 'satisfied',
        findings.length > 0
          ? `${base}; to review: ${findings.join('; ')}.`
          : `${base}; no grant allows admin statements or every function.`,
        [F.scopes, F.policy, F.records],
        [
          {
            file: F.records,
            select: 'type = statement, decision ∈ {refused, denied, timed-out}',
            count: counts.refusals,
          },
        ],
      ),
    );
  }

  // AU-2: what the audit trail selects.
  {
    const narrowed = scopes
      .filter((scope) => scope.audit && ALL_CLASSES.some((c) => !scope.audit!.statements.includes(c)))
      .map((scope) => `${scope.grant} (${scope.audit!.statements.join(', ')})`);
    out.push(
      control(
        'AU-2',
        narrowed.length > 0 ? 'satisfied-with-findings' : 'satisfied',
        narrowed.length > 0
          ? `Session start and end, refused and unclassified statements are always recorded; ${plural(narrowed.length, 'grant')} record only some statement classes, a selection to review: ${listed(narrowed)}.`
          : 'Every grant records every statement class; session start and end, refusals and policy reloads are always recorded.',
        [F.scopes, F.records],
        [{ file: F.records, select: 'every record', count: records }],
      ),
    );
  }

  // AU-3: the content of the period's records.
  {
    const incomplete = analysis.incomplete;
    out.push(
      control(
        'AU-3',
        incomplete.length > 0 ? 'not-satisfied' : records === 0 ? 'satisfied-with-findings' : 'satisfied',
        incomplete.length > 0
          ? `${plural(incomplete.length, 'record')} of the period lack required content (${tally(incomplete.flatMap((r) => r.missing))}), e.g. session ${incomplete[0]!.session} record ${incomplete[0]!.seq}.`
          : records === 0
            ? 'No record in the period to assess.'
            : `All ${plural(records, 'record')} of the period say what, when, where, who (issuer, subject, claims), the decision and the outcome.`,
        [F.records],
        [{ file: F.records, select: 'every record', count: records }],
      ),
    );
  }

  // AU-9: integrity of the store (the whole store is verified; a problem anywhere fails it).
  {
    const failures = verification.problems.filter((p) => !p.kind.endsWith('-undigested'));
    const inPeriod = period.problems.filter((p) => !p.kind.endsWith('-undigested'));
    out.push(
      control(
        'AU-9',
        failures.length > 0
          ? 'not-satisfied'
          : period.undigestedRecords > 0
            ? 'satisfied-with-findings'
            : 'satisfied',
        failures.length > 0
          ? `Verification of the store found ${plural(failures.length, 'problem')} (${tally(failures.map((p) => p.kind))}), ${inPeriod.length} of them concerning the period's sessions or writers: ${failures[0]!.writer}${failures[0]!.session ? ` session ${failures[0]!.session}` : ''}: ${failures[0]!.detail}.`
          : period.undigestedRecords > 0
            ? `Nothing changed, removed, reordered or inserted; ${plural(period.undigestedRecords, 'record')} of the period are not yet covered by a signed digest (the open tail of a running or stopped writer).`
            : `Verified: ${plural(verification.records, 'record')} in ${plural(verification.chunks, 'chunk')} under ${plural(verification.digests, 'signed digest')} of ${plural(verification.writers, 'writer')}; nothing changed, removed, reordered or inserted, no gap.`,
        [F.verification, F.records],
        [{ file: F.verification, select: 'store.problems', count: verification.problems.length }],
      ),
    );
  }

  // AU-10: the signed digests.
  {
    const signature = verification.problems.filter((p) => SIGNATURE_PROBLEMS.has(p.kind));
    const unsigned = records > 0 && period.digests.length === 0;
    out.push(
      control(
        'AU-10',
        signature.length > 0 || unsigned
          ? 'not-satisfied'
          : period.undigestedRecords > 0
            ? 'satisfied-with-findings'
            : 'satisfied',
        signature.length > 0
          ? `The signed digests do not hold: ${tally(signature.map((p) => p.kind))} (${signature[0]!.writer}: ${signature[0]!.detail}).`
          : unsigned
            ? 'No signed digest covers the period: its records are not signed.'
            : period.undigestedRecords > 0
              ? `${plural(period.digests.length, 'digest')} of the period are signed (ECDSA P-256) and chained; ${plural(period.undigestedRecords, 'record')} are not yet under a digest.`
              : `The period's records are under ${plural(period.digests.length, 'digest')} signed (ECDSA P-256) and chained.`,
        [F.verification, F.records],
        [{ file: F.verification, select: 'period.digests', count: period.digests.length }],
      ),
    );
  }

  // AU-12: records were generated.
  {
    const status: Status =
      records === 0 && period.digests.length === 0
        ? 'not-satisfied'
        : records === 0 || analysis.boundaries.unattributedRecords > 0
          ? 'satisfied-with-findings'
          : 'satisfied';
    out.push(
      control(
        'AU-12',
        status,
        status === 'not-satisfied'
          ? 'No record and no digest in the period: the gateway generated nothing (not running, or its records are missing).'
          : records === 0
            ? `No record in the period, but ${plural(period.digests.length, 'digest')} show the gateway ran (idle).`
            : `${plural(records, 'record')} generated in the period by ${plural(analysis.writers.size, 'writer')}: ${plural(counts.sessions, 'session')}, ${plural(counts.statements, 'statement')}, ${plural(counts.authenticationFailures, 'refused connection')}, ${plural(counts.policyChanges, 'policy reload')}${analysis.boundaries.unattributedRecords > 0 ? `; ${plural(analysis.boundaries.unattributedRecords, 'record')} belong to sessions whose start record is not in the store` : ''}.`,
        [F.records, F.summary, F.verification],
        [{ file: F.records, select: 'every record', count: records }],
      ),
    );
  }

  // CM-3: policy changes, and changes to data held for approval.
  {
    const rejected = analysis.policyChanges.filter((c) => c.outcome === 'rejected');
    const unattributed = analysis.policyChanges.filter((c) => c.outcome === 'applied' && !c.changedBy);
    const findings = [
      rejected.length > 0
        ? `${plural(rejected.length, 'policy version')} rejected (did not load)`
        : undefined,
      unattributed.length > 0
        ? `${plural(unattributed.length, 'applied change')} without a recorded author (changedBy)`
        : undefined,
    ].filter((f): f is string => f !== undefined);
    const base = `${plural(analysis.policyChanges.length, 'policy reload')} in the period (${analysis.policyDigests.length} policy version(s) in force); ${plural(counts.approvals.requested, 'approval request')}`;
    out.push(
      control(
        'CM-3',
        findings.length > 0 ? 'satisfied-with-findings' : 'satisfied',
        findings.length > 0
          ? `${base}; ${findings.join('; ')}.`
          : `${base}; every applied change names its author.`,
        [F.policyChanges, F.approvals, F.policy, F.records],
        [
          { file: F.policyChanges, select: 'every line', count: analysis.policyChanges.length },
          {
            file: F.records,
            select: 'type = policy-reload',
            count: analysis.policyChanges.reduce((n, change) => n + change.records.length, 0),
          },
        ],
      ),
    );
  }

  // CM-5: changes held for approvers.
  {
    const violations: string[] = [];
    for (const approval of analysis.approvals) {
      for (const statement of approval.statements) {
        if (statement.decision === 'approved' && (statement.by?.length ?? 0) === 0)
          violations.push(`request ${approval.id}: a statement ran as approved without an approver named`);
      }
      if (approval.outcome === 'approved') {
        const approvers = new Set(
          approval.decisions.filter((d) => d.verdict === 'approved').map((d) => d.approver),
        );
        if (approvers.size < (approval.needed ?? 1))
          violations.push(
            `request ${approval.id}: approved by ${approvers.size} of ${approval.needed ?? 1} needed`,
          );
        const strangers = [...approvers].filter((a) => approval.approvers && !approval.approvers.includes(a));
        if (strangers.length > 0)
          violations.push(
            `request ${approval.id}: approved by ${strangers.join(', ')}, not among its approvers`,
          );
      }
    }
    const pending = analysis.approvals.filter((a) => a.outcome === 'pending').map((a) => a.id);
    const a = counts.approvals;
    const base = `${plural(a.requested, 'approval request')} (${a.approved} approved, ${a.denied} denied, ${a.timedOut} timed out, ${a.cancelled} cancelled)`;
    out.push(
      control(
        'CM-5',
        violations.length > 0
          ? 'not-satisfied'
          : pending.length > 0
            ? 'satisfied-with-findings'
            : 'satisfied',
        violations.length > 0
          ? `${base}; ${violations.slice(0, 5).join('; ')}.`
          : pending.length > 0
            ? `${base}; ${plural(pending.length, 'request')} still pending at the end of the period: ${listed(pending)}.`
            : `${base}; every approved statement names its approvers, as many as needed, each among those the rule names.`,
        [F.approvals, F.scopes, F.records],
        [
          { file: F.approvals, select: 'every line', count: analysis.approvals.length },
          {
            file: F.records,
            select: 'type = approval, or type = statement with approval',
            count: analysis.approvals.reduce((n, x) => n + x.records.length, 0),
          },
        ],
      ),
    );
  }

  // IA-2: every session identified by a verified token; failures noted.
  {
    const failures = analysis.authenticationFailures;
    const reason =
      analysis.admittedWithoutIdentity > 0
        ? `${plural(analysis.admittedWithoutIdentity, 'session')} admitted without a recorded identity.`
        : failures.length > 0
          ? `Every admitted session (${counts.sessions}) was identified by a verified token; ${plural(failures.length, 'connection')} refused at authentication (${tally(failures.map((f) => f.check))}).`
          : `Every admitted session (${counts.sessions}) was identified by a verified token; no authentication failure.`;
    out.push(
      control(
        'IA-2',
        analysis.admittedWithoutIdentity > 0
          ? 'not-satisfied'
          : failures.length > 0
            ? 'satisfied-with-findings'
            : 'satisfied',
        reason,
        [F.authenticationFailures, F.inventory, F.records],
        [
          { file: F.authenticationFailures, select: 'every line', count: failures.length },
          {
            file: F.records,
            select: 'type = session-start, authentication ≠ accepted',
            count: failures.length,
          },
        ],
      ),
    );
  }

  // IA-5: the tokens themselves.
  {
    const token = analysis.authenticationFailures.filter(
      (f) => f.category === 'token' || f.category === 'throttled',
    );
    out.push(
      control(
        'IA-5',
        token.length > 0 ? 'satisfied-with-findings' : 'satisfied',
        token.length > 0
          ? `Short-lived OIDC tokens, checked for signature, issuer, audience and expiry; ${plural(token.length, 'token')} refused (${tally(token.map((f) => f.check))}).`
          : 'Short-lived OIDC tokens, checked for signature, issuer, audience and expiry; no token refused.',
        [F.authenticationFailures, F.records],
        [{ file: F.authenticationFailures, select: 'category ∈ {token, throttled}', count: token.length }],
      ),
    );
  }

  // SC-28: stored sensitive columns masked in results.
  {
    const masked = scopes.filter((scope) => scope.maskedColumns.length > 0);
    const values = analysis.masking.reduce((n, m) => n + m.values, 0);
    const withheld = analysis.masking.filter((m) => m.withheld).length;
    out.push(
      control(
        'SC-28',
        masked.length === 0 ? 'satisfied-with-findings' : 'satisfied',
        masked.length === 0
          ? `No grant masks stored columns; ${plural(analysis.masking.length, 'statement')} masked in the period.`
          : `${plural(masked.length, 'grant')} ${masked.length === 1 ? 'masks' : 'mask'} stored columns (${masked.map((s) => s.grant).join(', ')}); ${plural(analysis.masking.length, 'statement')} masked in the period (${plural(values, 'value')} masked, ${withheld} result(s) withheld).`,
        [F.masking, F.scopes, F.records],
        [
          { file: F.masking, select: 'every line', count: analysis.masking.length },
          { file: F.records, select: 'type = statement with masking', count: analysis.masking.length },
        ],
      ),
    );
  }
  return out;
}
