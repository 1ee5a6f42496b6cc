import { createHash } from 'node:crypto';
import { isMap, isScalar, LineCounter, type Node, parseDocument } from 'yaml';
import type { ZodIssue } from 'zod';
import type { Coverage } from '../approval/approval';
import { compileMasking } from '../masking/masking-policy';
import type { CompiledPolicy, Grant, IdentityRule, Rule } from './compiled-policy';
import { anyOf, nameGlob, textGlob } from './glob';
import {
  type GrantDocument,
  type IdentityDocument,
  type PolicyDocument,
  policySchema,
  type RuleDocument,
} from './schema';

/** One thing wrong with a policy file, located at its line and column (1-based). */
export interface PolicyProblem {
  readonly line: number;
  readonly column: number;
  readonly path: string;
  readonly message: string;
}

export type PolicyLoad =
  | { readonly ok: true; readonly policy: CompiledPolicy }
  | { readonly ok: false; readonly problems: readonly PolicyProblem[] };

export class PolicyError extends Error {
  override readonly name = 'PolicyError';
  constructor(
    readonly file: string,
    readonly problems: readonly PolicyProblem[],
  ) {
    super(
      `invalid policy ${file}:\n${problems.map((p) => `  ${file}:${p.line}:${p.column}: ${p.message}`).join('\n')}`,
    );
  }
}

type Path = readonly (string | number)[];

/** Locates a path of the document; unknown keys point at the key itself. */
function locate(doc: ReturnType<typeof parseDocument>, lines: LineCounter, path: Path, key?: string) {
  let node = doc.getIn(path, true) as Node | undefined;
  for (let depth = path.length; node === undefined && depth > 0; depth--) {
    node = doc.getIn(path.slice(0, depth - 1), true) as Node | undefined;
  }
  if (key !== undefined && isMap(node)) {
    const pair = node.items.find((item) => isScalar(item.key) && item.key.value === key);
    if (pair && isScalar(pair.key)) node = pair.key;
  }
  const offset = node?.range?.[0] ?? 0;
  const position = lines.linePos(offset);
  return { line: position.line, column: position.col };
}

function describe(issue: ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key "${issue.keys.join('", "')}"`;
  if (issue.code === 'invalid_type' && issue.received === 'undefined') return 'required';
  return issue.message;
}

/**
 * A grant a session may be elevated to keeps what was fixed when the session connected: its upstream
 * role, its search path and whether results are masked. Only what statements may do changes.
 */
function elevationProblem(base: GrantDocument, target: string, policy: PolicyDocument): string | undefined {
  const elevated = policy.grants.find((g) => g.name === target);
  if (!elevated) return `unknown grant "${target}"`;
  if (elevated.name === base.name) return 'a grant cannot elevate to itself';
  if (elevated.role !== base.role)
    return `grant "${target}" has another role than "${base.name}" (a session keeps the role it connected with)`;
  if (JSON.stringify(elevated.searchPath) !== JSON.stringify(base.searchPath))
    return `grant "${target}" has another searchPath than "${base.name}"`;
  if (JSON.stringify(elevated.masking ?? null) !== JSON.stringify(base.masking ?? null))
    return `grant "${target}" masks differently from "${base.name}"`;
  return undefined;
}

/** Approver names and groups, groups expanded to their approvers, without repeats. */
function expandApprovers(names: readonly string[], document: PolicyDocument): string[] {
  return [...new Set(names.flatMap((n) => document.approverGroups[n] ?? [n]))];
}

function coverageOf(covers: NonNullable<RuleDocument['approval']>['covers']): Coverage {
  if (covers === 'once') return { kind: 'once' };
  if ('elevate' in covers) return { kind: 'elevation', grant: covers.elevate, minutes: covers.minutes };
  return { kind: 'window', minutes: covers.minutes };
}

function compileRule(rule: RuleDocument, document: PolicyDocument): Rule {
  const when = rule.when;
  const approval = rule.approval;
  return {
    name: rule.name,
    decision: rule.decision,
    reason: rule.reason,
    approval: approval && {
      approvers: expandApprovers(approval.approvers, document),
      needed: approval.needed,
      timeoutMs: approval.timeoutSeconds * 1000,
      wait: approval.wait,
      coverage: coverageOf(approval.covers),
    },
    commands: when.commands ? new Set(when.commands.map((c) => c.toUpperCase())) : undefined,
    classes: when.classes ? new Set(when.classes) : undefined,
    relations: when.relations?.map(nameGlob),
    writes: when.writes?.map(nameGlob),
    functions: when.functions?.map(nameGlob),
    unbounded: when.unbounded,
  };
}

function minutes(clock: string): number {
  const [hours, mins] = clock.split(':').map(Number);
  return hours! * 60 + mins!;
}

function compileGrant(grant: GrantDocument, members: Set<string>, document: PolicyDocument): Grant {
  const hours = grant.limits.allowedHours;
  return {
    name: grant.name,
    members,
    databases: anyOf(grant.databases.map(textGlob)),
    role: grant.role,
    readOnly: grant.readOnly,
    searchPath: grant.searchPath,
    allow: new Set(grant.allow),
    reads: grant.relations.read.map(nameGlob),
    writes: grant.relations.write.map(nameGlob),
    denied: grant.relations.deny.map(nameGlob),
    functions: grant.functions.map(nameGlob),
    rules: grant.rules.map((rule) => compileRule(rule, document)),
    limits: {
      ...grant.limits,
      allowedHours: hours && {
        days: new Set(hours.days),
        from: minutes(hours.from),
        to: minutes(hours.to),
        timezone: hours.timezone,
      },
    },
    audit: grant.audit,
    masking: grant.masking && compileMasking(grant.masking, document.dataClasses),
  };
}

function validTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Checks what the schema cannot: references between sections, unique names, time zones. */
function crossCheck(policy: PolicyDocument): { path: Path; message: string }[] {
  const problems: { path: Path; message: string }[] = [];
  const identities = new Set(Object.keys(policy.identities));
  for (const [group, members] of Object.entries(policy.groups)) {
    if (identities.has(group))
      problems.push({ path: ['groups', group], message: `"${group}" is also an identity` });
    members.forEach((member, index) => {
      if (!identities.has(member)) {
        problems.push({ path: ['groups', group, index], message: `unknown identity "${member}"` });
      }
    });
  }
  for (const [group, members] of Object.entries(policy.approverGroups)) {
    members.forEach((member, m) => {
      if (!(member in policy.approvers)) {
        problems.push({ path: ['approverGroups', group, m], message: `unknown approver "${member}"` });
      }
    });
  }
  const names = new Set<string>();
  policy.grants.forEach((grant, index) => {
    if (names.has(grant.name))
      problems.push({ path: ['grants', index, 'name'], message: `duplicate grant "${grant.name}"` });
    names.add(grant.name);
    grant.to.forEach((member, m) => {
      if (!identities.has(member) && !(member in policy.groups)) {
        problems.push({ path: ['grants', index, 'to', m], message: `unknown identity or group "${member}"` });
      }
    });
    grant.rules.forEach((rule, r) => {
      const approval = rule.approval;
      if (!approval) return;
      const at = ['grants', index, 'rules', r, 'approval'];
      if (rule.decision !== 'approve') {
        problems.push({ path: at, message: 'approval applies to rules whose decision is approve' });
        return;
      }
      approval.approvers.forEach((approverName, a) => {
        if (!(approverName in policy.approvers) && !(approverName in policy.approverGroups)) {
          problems.push({
            path: [...at, 'approvers', a],
            message: `unknown approver or approver group "${approverName}"`,
          });
        }
      });
      if (approval.covers !== 'once' && 'elevate' in approval.covers) {
        const problem = elevationProblem(grant, approval.covers.elevate, policy);
        if (problem) problems.push({ path: [...at, 'covers', 'elevate'], message: problem });
      }
      const people = new Set(approval.approvers.flatMap((n) => policy.approverGroups[n] ?? [n]));
      if (approval.needed > people.size) {
        problems.push({
          path: [...at, 'needed'],
          message: `${approval.needed} approvals needed but only ${people.size} approver(s) named`,
        });
      }
    });
    grant.masking?.rules.forEach((rule, r) => {
      rule.dataClasses.forEach((dataClass, c) => {
        if (!(dataClass in policy.dataClasses)) {
          problems.push({
            path: ['grants', index, 'masking', 'rules', r, 'dataClasses', c],
            message: `unknown data class "${dataClass}"`,
          });
        }
      });
    });
    if (grant.masking && grant.searchPath === 'any') {
      problems.push({
        path: ['grants', index, 'searchPath'],
        message: 'a grant with masking needs a pinned searchPath: lineage resolves names as the server will',
      });
    }
    const zone = grant.limits.allowedHours?.timezone;
    if (zone && !validTimeZone(zone)) {
      problems.push({
        path: ['grants', index, 'limits', 'allowedHours', 'timezone'],
        message: `unknown time zone "${zone}"`,
      });
    }
  });
  return problems;
}

/**
 * Parses, validates and compiles a policy file's text. Every problem is reported with its line and
 * column; nothing is partially applied.
 */
export function loadPolicy(source: string): PolicyLoad {
  const lines = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((error) => {
        const position = lines.linePos(error.pos[0]);
        return {
          line: position.line,
          column: position.col,
          path: '',
          message: error.message.split('\n')[0]!,
        };
      }),
    };
  }
  const parsed = policySchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((issue) => {
        const key = issue.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
        return {
          ...locate(doc, lines, issue.path, key),
          path: issue.path.join('.'),
          message: describe(issue),
        };
      }),
    };
  }
  const document = parsed.data;
  const references = crossCheck(document);
  if (references.length > 0) {
    return {
      ok: false,
      problems: references.map((problem) => ({
        ...locate(doc, lines, problem.path),
        path: problem.path.join('.'),
        message: problem.message,
      })),
    };
  }
  const identityRule = (name: string, identity: IdentityDocument): IdentityRule => ({
    name,
    issuer: identity.issuer,
    claims: Object.entries(identity.claims).map(([claim, expected]) => ({
      claim,
      match: anyOf((Array.isArray(expected) ? expected : [expected]).map((value) => textGlob(String(value)))),
    })),
  });
  const identities: IdentityRule[] = Object.entries(document.identities).map(([name, identity]) =>
    identityRule(name, identity),
  );
  const approvers = Object.entries(document.approvers).map(([name, approver]) => ({
    name,
    ...(approver.email ? { email: approver.email } : {}),
    ...(approver.slack ? { slack: approver.slack } : {}),
    identities: approver.identities.map((identity, i) => identityRule(`${name}#${i}`, identity)),
  }));
  const grants = document.grants.map((grant) => {
    const members = new Set<string>();
    for (const member of grant.to) for (const name of document.groups[member] ?? [member]) members.add(name);
    return compileGrant(grant, members, document);
  });
  return {
    ok: true,
    policy: {
      unknownStatements: document.unknownStatements,
      unparseableStatements: document.unparseableStatements,
      identities,
      grants,
      approvers,
      databases: document.databases,
      tests: document.tests,
      digest: createHash('sha256').update(source).digest('hex'),
    },
  };
}
