import type { CompiledPolicy } from './compiled-policy';

/**
 * What `policy check` warns about in a valid policy: approve rules that can never send a statement
 * for approval, because every class they name is one their grant refuses (approval rules only
 * narrow a grant), and the grant an approval elevates to, if any, refuses it too.
 */
export function policyWarnings(policy: CompiledPolicy): string[] {
  const warnings: string[] = [];
  for (const grant of policy.grants) {
    for (const rule of grant.rules) {
      if (rule.decision !== 'approve' || !rule.classes) continue;
      const coverage = rule.approval?.coverage;
      const elevated =
        coverage?.kind === 'elevation' ? policy.grants.find((g) => g.name === coverage.grant) : undefined;
      const classes = [...rule.classes];
      if (classes.some((c) => grant.allow.has(c) || elevated?.allow.has(c))) continue;
      warnings.push(
        `grant "${grant.name}", rule "${rule.name}" can never send a statement for approval: the grant allows none of its classes (${classes.join(', ')}), and approval rules only narrow a grant`,
      );
    }
  }
  return warnings;
}
