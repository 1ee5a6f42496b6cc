import type { CompiledPolicy, Grant, Identity, IdentityRule } from './compiled-policy';

function claimValues(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (value === undefined || value === null) return [];
  return [String(value)];
}

function matches(rule: IdentityRule, identity: Identity): boolean {
  if (rule.issuer !== identity.issuer && rule.issuer !== identity.issuerName) return false;
  return rule.claims.every(({ claim, match }) => claimValues(identity.claims[claim]).some(match));
}

/** Names of the policy's identities this token matches. */
export function matchingIdentities(policy: CompiledPolicy, identity: Identity): string[] {
  return policy.identities.filter((rule) => matches(rule, identity)).map((rule) => rule.name);
}

/**
 * The grant that governs a session: the first, in file order, that names one of the identity's
 * matching identities (or their groups) and the database. None means the session is refused.
 */
export function grantFor(policy: CompiledPolicy, identity: Identity, database: string): Grant | undefined {
  const names = matchingIdentities(policy, identity);
  if (names.length === 0) return undefined;
  return policy.grants.find(
    (grant) => grant.databases(database) && names.some((name) => grant.members.has(name)),
  );
}

/** Approvers who are the person behind this token (GitHub's actor…): they may not approve its requests. */
export function approversBehind(policy: CompiledPolicy, identity: Identity): string[] {
  return policy.approvers
    .filter((approver) => approver.identities.some((rule) => matches(rule, identity)))
    .map((approver) => approver.name);
}
