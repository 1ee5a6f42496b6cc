import type { RuleDocument } from '../policy/schema';
import type { EffectiveScope } from './evidence-package';
import type { EvidencePolicy } from './evidence-policy';

type ScopeRule = EffectiveScope['rules'][number];

function covers(covered: NonNullable<RuleDocument['approval']>['covers']): string {
  if (covered === 'once') return 'once';
  if ('elevate' in covered) return `elevation to grant ${covered.elevate} for ${covered.minutes} minutes`;
  return `the same statement for ${covered.minutes} minutes`;
}

/** A rule's `when` without the conditions it leaves out. */
function conditions(when: RuleDocument['when']): Record<string, unknown> {
  return Object.fromEntries(Object.entries(when).filter(([, value]) => value !== undefined));
}

/**
 * Each grant's effective scope (AC-6), in the policy's order: who it admits (identity rules, groups
 * expanded), where, as which role, which statement classes and objects, the rules that refuse or hold
 * statements (approvers expanded), masked columns with the rule and method masking them, limits and
 * what the audit trail keeps. Globs are shown as written.
 */
export function effectiveScopes(policy: EvidencePolicy): EffectiveScope[] {
  const { compiled, document } = policy;
  return document.grants.map((grant, index) => {
    const compiledGrant = compiled.grants[index]!;
    const rules: ScopeRule[] = grant.rules.map((rule, r) => {
      const approval = compiledGrant.rules[r]?.approval;
      return {
        name: rule.name,
        decision: rule.decision,
        ...(rule.reason !== undefined ? { reason: rule.reason } : {}),
        when: conditions(rule.when),
        ...(rule.approval && approval
          ? {
              approval: {
                approvers: [...approval.approvers],
                needed: rule.approval.needed,
                timeoutSeconds: rule.approval.timeoutSeconds,
                covers: covers(rule.approval.covers),
              },
            }
          : {}),
      };
    });
    const maskedColumns = (grant.masking?.rules ?? []).flatMap((rule) => {
      const globs = [
        ...rule.columns,
        ...rule.dataClasses.flatMap((dataClass) => document.dataClasses[dataClass] ?? []),
      ];
      const keep =
        rule.method === 'partial' && rule.keep
          ? ` keeping first ${rule.keep.first}, last ${rule.keep.last}`
          : '';
      return globs.map((glob) => `${glob} (rule ${rule.name}: ${rule.method}${keep})`);
    });
    return {
      grant: grant.name,
      identityRules: [...compiledGrant.members],
      databases: [...grant.databases],
      ...(grant.role !== undefined ? { role: grant.role } : {}),
      readOnly: grant.readOnly,
      allow: [...grant.allow],
      reads: [...grant.relations.read],
      writes: [...grant.relations.write],
      denied: [...grant.relations.deny],
      functions: [...grant.functions],
      rules,
      maskedColumns,
      limits: { ...grant.limits },
      searchPath: grant.searchPath === 'any' ? 'any' : [...grant.searchPath],
      audit: {
        statements: [...grant.audit.statements],
        record: grant.audit.record,
        strict: [...grant.audit.strict],
      },
    };
  });
}
