import { approversBehind } from '../../../core/policy/admission';
import { withinAllowedHours } from '../../../core/policy/allowed-hours';
import type { CompiledPolicy, Grant, Identity } from '../../../core/policy/compiled-policy';
import { type Decision, decide } from '../../../core/policy/decide';
import type { Analysis, StatementAnalysis } from '../../../core/sql/analysis';
import type { ApprovalCase } from '../approval/approval-desk';
import { redact } from '../audit/redaction';
import { type AuditedDecision, sha256 } from '../audit/statement-tracker';
import type { BindMessage } from '../protocol/frontend-messages';
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

/**
 * A decision as the audit records it; a multi-statement refusal names the statement it is about. An
 * EXECUTE is recorded with what its prepared statement reads and writes (its class too), not as the
 * read its own text looks like.
 */
export function audited(
  decision: Decision,
  analysis: Analysis,
  prepared?: ReadonlyMap<string, StatementAnalysis>,
): AuditedDecision {
  const executes = prepared !== undefined && analysis.statements.some((s) => s.executes !== undefined);
  // A cached decision of a cached analysis is audited the same way every time: once (most statements).
  if (!executes) {
    const known = auditedDecisions.get(decision);
    if (known?.analysis === analysis) return known.audited;
    const fresh = auditedOf(decision, analysis, undefined);
    auditedDecisions.set(decision, { analysis, audited: fresh });
    return fresh;
  }
  return auditedOf(decision, analysis, prepared);
}

/** Audited forms of decisions, by decision (with the analysis they were made of). */
const auditedDecisions = new WeakMap<Decision, { analysis: Analysis; audited: AuditedDecision }>();

function auditedOf(
  decision: Decision,
  analysis: Analysis,
  prepared: ReadonlyMap<string, StatementAnalysis> | undefined,
): AuditedDecision {
  const executes = prepared !== undefined;
  return {
    decision: decision.outcome === 'allow' ? 'allowed' : 'refused',
    rule: decision.rule,
    statements: executes ? analysis.statements.map((s) => executedAs(s, prepared)) : analysis.statements,
    ...(analysis.statements.length > 1 && decision.outcome !== 'allow' && decision.statement
      ? { cause: analysis.statements.indexOf(decision.statement) }
      : {}),
  };
}

function executedAs(
  statement: StatementAnalysis,
  prepared: ReadonlyMap<string, StatementAnalysis>,
): StatementAnalysis {
  const body = statement.executes === undefined ? undefined : prepared.get(statement.executes);
  if (!body) return statement;
  const { class: bodyClass, reads, writes, functions, modifies, unbounded } = body;
  return { ...statement, class: bodyClass, reads, writes, functions, modifies, unbounded };
}

/**
 * The text an approval is bound to and shown with: the statement's own, and for each EXECUTE the text
 * that prepared its name in this session (`preparedBy`: the client's own text, never an analysis,
 * which is shared between texts that differ only in literals), so an approval of `EXECUTE p` cannot
 * run another body prepared under the same name. `render` shows each text (redacted as the
 * statement is).
 */
export function approvedText(
  text: string,
  analysis: Analysis,
  preparedBy: ReadonlyMap<string, string>,
  render: (text: string) => string = (shown) => shown,
): string {
  let out = text;
  for (const s of analysis.statements) {
    if (s.executes === undefined) continue;
    const by = preparedBy.get(s.executes);
    out += `\n-- ${s.executes} was prepared by: ${by === undefined ? '(nothing prepared under this name)' : render(by)}`;
  }
  return out;
}

/** A prepared statement that needs approval: what each of its executions asks for. */
export interface ApprovalAtBind {
  approvalCase: ApprovalCase;
  decided: AuditedDecision;
  /** The types its Parse declared (0: the server infers), bound with each parameter. */
  parameterTypes: readonly number[];
}

/** One execution's request: the prepared statement's, bound to these parameters and showing them. */
export function executionApproval(
  atBind: ApprovalAtBind,
  bind: BindMessage,
): { approvalCase: ApprovalCase; parameters: Array<string | null> } {
  const { approvalCase } = atBind;
  const withhold = redact(approvalCase.text, atBind.decided.withholdLiterals).redacted === true;
  return {
    approvalCase: { ...approvalCase, shown: `${approvalCase.shown}${shownParameters(bind, withhold)}` },
    parameters: boundParameters(bind, atBind.parameterTypes),
  };
}

/** Longest parameter value shown to an approver, in characters. */
const SHOWN_PARAMETER_CHARS = 200;

function formatOf(bind: BindMessage, index: number): number {
  const formats = bind.parameterFormats;
  return formats.length === 1 ? formats[0]! : (formats[index] ?? 0);
}

/**
 * What an approval binds of a Bind's parameters: each one's format, declared type and the SHA-256 of
 * its bytes. The same bytes sent in the other format, or as another type, are another statement
 * (`"1000"` in binary is a different integer from `1000` in text).
 */
export function boundParameters(bind: BindMessage, types: readonly number[]): Array<string | null> {
  return bind.parameters.map((value, i) =>
    value === null ? null : `${formatOf(bind, i)}:${types[i] ?? 0}:${sha256(value)}`,
  );
}

/**
 * The parameters of a Bind as its approver sees them, after the statement: text values quoted (cut
 * at SHOWN_PARAMETER_CHARS), binary ones by size, NULL; every value withheld (`?`) where the
 * statement's literals are (a masking grant, a password).
 */
export function shownParameters(bind: BindMessage, withhold: boolean): string {
  if (bind.parameters.length === 0) return '';
  const shown = bind.parameters.map((value, i) => {
    let text: string;
    if (value === null) text = 'NULL';
    else if (withhold) text = '?';
    else if (formatOf(bind, i) === 1) text = `(binary, ${value.length} bytes)`;
    else {
      const full = value.toString('utf8');
      const cut = full.length > SHOWN_PARAMETER_CHARS ? `${full.slice(0, SHOWN_PARAMETER_CHARS)}…` : full;
      text = `'${cut.replaceAll("'", "''")}'`;
    }
    return `$${i + 1} = ${text}`;
  });
  return `\n-- parameters: ${shown.join(', ')}`;
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
