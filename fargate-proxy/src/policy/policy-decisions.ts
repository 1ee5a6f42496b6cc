import { approversBehind } from '../../../core/policy/admission';
import { withinAllowedHours } from '../../../core/policy/allowed-hours';
import type { CompiledPolicy, Grant, Identity } from '../../../core/policy/compiled-policy';
import { type Decision, decide } from '../../../core/policy/decide';
import type { Analysis } from '../../../core/sql/analysis';
import type { ApprovalCase } from '../approval/approval-desk';
import { redact } from '../audit/redaction';
import type { AuditedDecision } from '../audit/statement-tracker';
import type { Refusal } from '../session/statement-gate';

/** Decisions of one grant, by analysis: the literal-free cache makes most statements hit here. */
const decisions = new WeakMap<Grant, WeakMap<Analysis, Decision>>();

export function cachedDecision(policy: CompiledPolicy, grant: Grant, analysis: Analysis): Decision {
  let byAnalysis = decisions.get(grant);
  if (!byAnalysis) {
    byAnalysis = new WeakMap();
    decisions.set(grant, byAnalysis);
  }
  let decision = byAnalysis.get(analysis);
  if (!decision) {
    decision = decide(policy, grant, analysis);
    byAnalysis.set(analysis, decision);
  }
  return decision;
}

/** A decision as the audit records it; a multi-statement refusal names the statement it is about. */
export function audited(decision: Decision, analysis: Analysis): AuditedDecision {
  return {
    decision: decision.outcome === 'allow' ? 'allowed' : 'refused',
    rule: decision.rule,
    statements: analysis.statements,
    ...(analysis.statements.length > 1 && decision.outcome !== 'allow' && decision.statement
      ? { cause: analysis.statements.indexOf(decision.statement) }
      : {}),
  };
}

export function refusalFor(decision: Decision, grant: Grant): Refusal {
  const detail = `grant "${grant.name}", rule "${decision.rule}"${decision.statement ? `, statement: ${decision.statement.command}` : ''}`;
  if (decision.outcome === 'approve') {
    return {
      sqlstate: '42501',
      message: `approval required by policy: ${decision.reason}`,
      detail,
      hint: 'This gateway has no approval workflow configured, so statements that need approval are refused.',
    };
  }
  return { sqlstate: '42501', message: `permission denied by policy: ${decision.reason}`, detail };
}

/**
 * The request a statement makes when its grant's rule sends it for approval, or undefined when the
 * rule has no approval settings (then the statement is refused). `holder`: the asking session, named
 * on requests whose statement waits on the wire (its approval may run that statement alone).
 */
export function approvalCaseFor(
  decision: Decision,
  grant: Grant,
  sql: string,
  session: { policy: CompiledPolicy; identity: Identity; database: string; holder: string },
): ApprovalCase | undefined {
  const rule = grant.rules.find((r) => r.name === decision.rule);
  const approval = rule?.approval;
  if (!rule || !approval) return undefined;
  const { policy, identity } = session;
  return {
    issuer: identity.issuer,
    subject: identity.subject,
    database: session.database,
    text: sql,
    parameters: [],
    grant: grant.name,
    rule: rule.name,
    reason: decision.reason,
    shown: redact(sql).text,
    approval,
    excluded: approversBehind(policy, identity),
    ...(approval.wait ? { holder: session.holder } : {}),
    contacts: Object.fromEntries(
      policy.approvers
        .filter((a) => approval.approvers.includes(a.name))
        .map(({ name, email, slack }) => [name, { email, slack }]),
    ),
  };
}

/** The grant's limits on any statement (its length, the hours it may run in): the refusal, if one applies. */
export function limitRefusal(
  text: string,
  grant: Grant,
  maxStatementChars: number,
  now: () => Date,
): { rule: 'statement-size' | 'allowed-hours'; refusal: Refusal } | undefined {
  if (text.length > maxStatementChars) {
    return {
      rule: 'statement-size',
      refusal: {
        sqlstate: '54000',
        message: `statement is longer than the gateway's limit of ${maxStatementChars} characters`,
      },
    };
  }
  const hours = grant.limits.allowedHours;
  if (hours && !withinAllowedHours(hours, now())) {
    return {
      rule: 'allowed-hours',
      refusal: {
        sqlstate: '42501',
        message: `permission denied by policy: statements are allowed only within the hours of grant "${grant.name}"`,
        detail: `grant "${grant.name}", rule "allowed-hours"`,
      },
    };
  }
  return undefined;
}
