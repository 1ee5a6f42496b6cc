import { analyse } from '../sql/analyse';
import type { AnalysisResult } from '../sql/analysis';
import { grantFor, matchingIdentities } from './admission';
import type { CompiledPolicy, Identity } from './compiled-policy';
import { type Decision, decide } from './decide';
import type { PolicyTestDocument } from './schema';

/** What the policy says of one identity, database and SQL, with everything that led to it. */
export interface Explanation {
  readonly identities: readonly string[];
  readonly grant: string | undefined;
  readonly analysis: AnalysisResult;
  /** `no-grant` when no grant admits the identity to the database. */
  readonly outcome: Decision['outcome'] | 'no-grant';
  readonly rule: string;
  readonly reason: string;
}

/** An identity given offline: its issuer (URL or configured name) and claims. */
export function offlineIdentity(issuer: string, claims: Record<string, unknown>): Identity {
  return { issuer, issuerName: issuer, subject: String(claims.sub ?? ''), claims };
}

/** Decides as the gateway would, without a gateway: for `policy explain` and policy tests. */
export function explain(
  policy: CompiledPolicy,
  identity: Identity,
  database: string,
  sql: string,
): Explanation {
  const identities = matchingIdentities(policy, identity);
  const grant = grantFor(policy, identity, database);
  const analysis = analyse(sql);
  if (!grant) {
    return {
      identities,
      grant: undefined,
      analysis,
      outcome: 'no-grant',
      rule: 'admission',
      reason: `no grant admits the identity to database "${database}"`,
    };
  }
  if (!analysis.ok) {
    const forward = policy.unparseableStatements === 'forward';
    return {
      identities,
      grant: grant.name,
      analysis,
      outcome: forward ? 'allow' : 'deny',
      rule: 'unparseable-statements',
      reason: forward ? 'forwarded for the server to reject' : analysis.failure.message,
    };
  }
  const decision = decide(policy, grant, analysis.analysis);
  return {
    identities,
    grant: grant.name,
    analysis,
    outcome: decision.outcome,
    rule: decision.rule,
    reason: decision.reason,
  };
}

export interface TestResult {
  readonly name: string;
  readonly expected: PolicyTestDocument['expect'];
  readonly explanation: Explanation;
  readonly passed: boolean;
}

/** Runs the test cases a policy file carries. */
export function runPolicyTests(policy: CompiledPolicy): TestResult[] {
  return policy.tests.map((test, index) => {
    const explanation = explain(
      policy,
      offlineIdentity(test.identity.issuer, test.identity.claims),
      test.database,
      test.sql,
    );
    return {
      name: test.name ?? `test ${index + 1}`,
      expected: test.expect,
      explanation,
      passed: explanation.outcome === test.expect,
    };
  });
}
