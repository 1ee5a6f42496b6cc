import { type Analysis, formatName, type QualifiedName, type StatementAnalysis } from '../sql/analysis';
import { CATALOG_RELATION_NAMES, READ_ONLY_BUILTIN_FUNCTIONS } from '../sql/read-only-functions';
import type { CompiledPolicy, Grant, Rule } from './compiled-policy';
import { type NameGlob, nameMatches, nameMayMatch } from './glob';
import { allowedValue, pinnedSettings } from './session-settings';

export type Outcome = 'allow' | 'deny' | 'approve';

/** What the policy says of one statement, and why: the rule is named in refusals and in the audit. */
export interface Decision {
  readonly outcome: Outcome;
  /** A rule of the grant, or one of the built-in checks (statement-classes, relations, functions…). */
  readonly rule: string;
  readonly reason: string;
  /** The statement of a multi-statement string the decision is about. */
  readonly statement?: StatementAnalysis;
}

/** Session state a decision may need: statements prepared with SQL PREPARE in this session. */
export interface PreparedStatements {
  get(name: string): StatementAnalysis | undefined;
}

/**
 * Bind parameter values as text (null: SQL NULL or not readable as text). Undefined when the statement
 * is decided before its parameters are known (at Parse): then what depends on them is left for Bind.
 */
export type Parameters = readonly (string | null)[] | undefined;

const NONE: PreparedStatements = { get: () => undefined };
const SYSTEM_SCHEMAS = new Set(['pg_catalog', 'information_schema']);

function allow(statement?: StatementAnalysis): Decision {
  return { outcome: 'allow', rule: 'grant', reason: 'allowed', statement };
}

function deny(rule: string, reason: string, statement: StatementAnalysis): Decision {
  return { outcome: 'deny', rule, reason, statement };
}

type Kind = 'relation' | 'function';

/**
 * The schemas an unqualified name may resolve to. PostgreSQL searches pg_catalog first: a relation
 * resolves there when pg_catalog has one of that name; for functions, every pg_* name is assumed to.
 * With the search path left to the client the schema is unknown.
 */
function candidates(
  name: QualifiedName,
  grant: Grant,
  kind: Kind,
): { schema: string | undefined; name: string }[] {
  if (name.schema !== undefined) return [{ schema: name.schema, name: name.name }];
  const schemas =
    grant.searchPath === 'any'
      ? [{ schema: undefined, name: name.name }]
      : grant.searchPath.map((schema) => ({ schema, name: name.name }));
  const catalogue = kind === 'relation' ? CATALOG_RELATION_NAMES.has(name.name) : name.name.startsWith('pg_');
  return catalogue ? [{ schema: 'pg_catalog', name: name.name }, ...schemas] : schemas;
}

/**
 * Whether the globs name the places an unqualified or qualified name may resolve to: all of them
 * (`cover`, for allow globs) or possibly one of them (`touch`, for deny globs and rule conditions,
 * where a name of unknown schema may be in any schema).
 */
function globsMatch(
  globs: readonly NameGlob[],
  name: QualifiedName,
  grant: Grant,
  kind: Kind,
  mode: 'cover' | 'touch',
): boolean {
  const match = mode === 'cover' ? nameMatches : nameMayMatch;
  const named = (c: { schema: string | undefined; name: string }) =>
    globs.some((glob) => match(glob, c.schema, c.name));
  const places = candidates(name, grant, kind);
  return mode === 'cover' ? places.every(named) : places.some(named);
}

function ruleMatches(rule: Rule, s: StatementAnalysis, grant: Grant): boolean {
  // A rule about a command applies wherever the statement performs it: at the top, in a CTE, or
  // under EXPLAIN ANALYZE.
  const commands = rule.commands;
  if (commands && !commands.has(s.command) && !s.modifies.some((command) => commands.has(command)))
    return false;
  if (rule.classes && !rule.classes.has(s.class)) return false;
  if (rule.unbounded !== undefined && rule.unbounded !== s.unbounded) return false;
  const relations = rule.relations;
  if (
    relations &&
    ![...s.reads, ...s.writes].some((n) => globsMatch(relations, n, grant, 'relation', 'touch'))
  )
    return false;
  const writes = rule.writes;
  if (writes && !s.writes.some((n) => globsMatch(writes, n, grant, 'relation', 'touch'))) return false;
  const functions = rule.functions;
  if (functions && !s.functions.some((n) => globsMatch(functions, n, grant, 'function', 'touch')))
    return false;
  return true;
}

function builtinReadOnly(name: QualifiedName): boolean {
  return (
    (name.schema === undefined || name.schema === 'pg_catalog') && READ_ONLY_BUILTIN_FUNCTIONS.has(name.name)
  );
}

/** Whether deciding the statement needs its bind parameters (a setting named by one). */
export function dependsOnParameters(analysis: Analysis): boolean {
  return analysis.statements.some((s) =>
    s.settings.some((c) => c.nameParameter !== undefined || c.valueParameter !== undefined),
  );
}

function checkSettings(s: StatementAnalysis, grant: Grant, parameters: Parameters): Decision | undefined {
  const pinned = pinnedSettings(grant);
  for (const setting of s.settings) {
    let change = setting;
    if (setting.nameParameter !== undefined || setting.valueParameter !== undefined) {
      if (parameters === undefined) continue; // decided at Bind
      const name = setting.nameParameter !== undefined ? parameters[setting.nameParameter - 1] : setting.name;
      const value =
        setting.valueParameter !== undefined ? parameters[setting.valueParameter - 1] : setting.value;
      change = { name: name?.toLowerCase() ?? undefined, value: value ?? undefined };
    }
    if (change.name === undefined) {
      return deny(
        'pinned-settings',
        'set_config with a setting name that is not a literal cannot be checked',
        s,
      );
    }
    const pin = pinned.get(change.name);
    if (pin !== undefined && !allowedValue(pin, change.value)) {
      return deny(
        'pinned-settings',
        `${change.name} is set by the gateway for this session and cannot be changed`,
        s,
      );
    }
  }
  return undefined;
}

/**
 * Writing the catalogues (pg_settings is set_config in disguise) is for admin grants that pin nothing;
 * anyone else could undo what the gateway pins or change what it relies on.
 */
function mayWriteCatalogues(grant: Grant): boolean {
  return grant.allow.has('admin') && pinnedSettings(grant).size === 0;
}

function checkRelations(s: StatementAnalysis, grant: Grant): Decision | undefined {
  for (const name of s.writes) {
    const shown = formatName(name);
    const inCatalogue = candidates(name, grant, 'relation').some(
      (c) => c.schema !== undefined && SYSTEM_SCHEMAS.has(c.schema),
    );
    if (inCatalogue && !mayWriteCatalogues(grant)) {
      return deny('system-catalogs', `writing the system catalogue ${shown} is not allowed`, s);
    }
    if (globsMatch(grant.denied, name, grant, 'relation', 'touch'))
      return deny('relations', `relation ${shown} is denied`, s);
    if (!globsMatch(grant.writes, name, grant, 'relation', 'cover'))
      return deny('relations', `writing ${shown} is not allowed`, s);
  }
  for (const name of s.reads) {
    const shown = formatName(name);
    if (globsMatch(grant.denied, name, grant, 'relation', 'touch'))
      return deny('relations', `relation ${shown} is denied`, s);
    if (!globsMatch(grant.reads, name, grant, 'relation', 'cover'))
      return deny('relations', `reading ${shown} is not allowed`, s);
  }
  return undefined;
}

function checkFunctions(s: StatementAnalysis, grant: Grant): Decision | undefined {
  for (const name of s.functions) {
    if (builtinReadOnly(name) || globsMatch(grant.functions, name, grant, 'function', 'cover')) continue;
    return deny(
      'functions',
      `function ${formatName(name)} is not known to be read-only and is not allowed`,
      s,
    );
  }
  for (const operator of s.operators) {
    if (!globsMatch(grant.functions, { name: operator }, grant, 'function', 'cover')) {
      return deny('functions', `operator ${operator} is not built in and is not allowed`, s);
    }
  }
  return undefined;
}

function decideOne(
  policy: CompiledPolicy,
  grant: Grant,
  s: StatementAnalysis,
  prepared: PreparedStatements,
  parameters: Parameters,
): Decision {
  if (s.executes !== undefined) {
    const target = prepared.get(s.executes);
    if (!target) {
      return deny(
        'unknown-statements',
        `EXECUTE of "${s.executes}", which was not prepared through the gateway`,
        s,
      );
    }
    const decision = decideOne(policy, grant, target, prepared, undefined);
    if (decision.outcome !== 'allow') return decision;
  }
  let approval: Decision | undefined;
  let approvalRule: Rule | undefined;
  for (const rule of grant.rules) {
    if (!ruleMatches(rule, s, grant)) continue;
    const reason = rule.reason ?? `rule ${rule.name} matched ${s.command}`;
    if (rule.decision === 'deny') return deny(rule.name, reason, s);
    if (approval) continue;
    approval = { outcome: 'approve', rule: rule.name, reason, statement: s };
    approvalRule = rule;
  }
  // A person approving the exact statement may let through what the analysis cannot judge, when the
  // grant allows such statements at all.
  if (!approval && policy.unknownStatements === 'deny' && (s.class === 'unknown' || s.opaque.length > 0)) {
    return deny('unknown-statements', s.opaque[0] ?? `${s.command} cannot be classified`, s);
  }
  const settings = checkSettings(s, grant, parameters);
  if (settings) return settings;
  const refused = grantRefusal(s, grant);
  if (!approval) return refused ?? allow(s);
  // Approval rules only narrow: what the grant refuses is refused, never put to an approver. The one
  // widening is an explicit elevation, and only to what the elevated grant allows.
  if (!refused) return approval;
  const coverage = approvalRule?.approval?.coverage;
  const elevated =
    coverage?.kind === 'elevation' ? policy.grants.find((g) => g.name === coverage.grant) : undefined;
  if (elevated && !grantRefusal(s, elevated)) return approval;
  return refused;
}

/** What the grant itself says of a statement, whatever its rules: its class, relations and functions. */
function grantRefusal(s: StatementAnalysis, grant: Grant): Decision | undefined {
  if (!grant.allow.has(s.class)) {
    return deny('statement-classes', `${s.class} statements (${s.command}) are not allowed`, s);
  }
  return checkRelations(s, grant) ?? checkFunctions(s, grant);
}

/**
 * Decides a whole query string: every statement must be allowed. The first refusal wins; approval is
 * asked only when nothing is refused, and only under one rule.
 */
export function decide(
  policy: CompiledPolicy,
  grant: Grant,
  analysis: Analysis,
  prepared: PreparedStatements = NONE,
  parameters?: Parameters,
): Decision {
  let approval: Decision | undefined;
  for (const statement of analysis.statements) {
    const decision = decideOne(policy, grant, statement, prepared, parameters);
    if (decision.outcome === 'deny') return decision;
    if (decision.outcome !== 'approve') continue;
    // One request is made for the whole string, decided by one rule's approvers: statements that
    // different rules send for approval cannot share it (one rule's approvers would approve the other's).
    if (approval && approval.rule !== decision.rule) {
      return deny(
        'approval-rules',
        `statements of this query need approval under different rules ("${approval.rule}", "${decision.rule}"); send them one at a time`,
        statement,
      );
    }
    approval ??= decision;
  }
  return approval ?? allow(analysis.statements[0]);
}
