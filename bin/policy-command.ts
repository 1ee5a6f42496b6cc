import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { CompiledPolicy } from '../core/policy/compiled-policy';
import { loadPolicy } from '../core/policy/load-policy';
import { type Explanation, explain, offlineIdentity, runPolicyTests } from '../core/policy/policy-tests';
import { policyWarnings } from '../core/policy/policy-warnings';
import { formatName } from '../core/sql/analysis';
import { loadParser } from '../core/sql/parser';

const USAGE = `Usage:
  gatehouse policy check FILE
  gatehouse policy explain FILE --issuer ISSUER --claims '{"sub":"…"}' --database DB --sql "…" [--json]
  gatehouse policy test FILE`;

/** Loads and validates a policy; prints file:line:column problems and exits 1 when it does not load. */
function load(file: string | undefined, write: (text: string) => void): CompiledPolicy {
  if (!file) throw new UsageError(USAGE);
  const loaded = loadPolicy(readFileSync(file, 'utf8'));
  if (loaded.ok) return loaded.policy;
  for (const problem of loaded.problems)
    write(`${file}:${problem.line}:${problem.column}: ${problem.message}\n`);
  throw new ExitError(1);
}

export class UsageError extends Error {}
export class ExitError extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

function describe(explanation: Explanation): string {
  const lines = [
    `decision: ${explanation.outcome}`,
    `grant:    ${explanation.grant ?? '(none)'}`,
    `rule:     ${explanation.rule}`,
    `reason:   ${explanation.reason}`,
    `identities matched: ${explanation.identities.join(', ') || '(none)'}`,
  ];
  const { analysis } = explanation;
  if (!analysis.ok) {
    lines.push(`parse error at ${analysis.failure.position}: ${analysis.failure.message}`);
  } else {
    for (const s of analysis.analysis.statements) {
      const parts = [`  ${s.command} (${s.class})`];
      if (s.reads.length) parts.push(`reads ${s.reads.map(formatName).join(', ')}`);
      if (s.writes.length) parts.push(`writes ${s.writes.map(formatName).join(', ')}`);
      if (s.functions.length) parts.push(`calls ${s.functions.map(formatName).join(', ')}`);
      if (s.settings.length) parts.push(`sets ${s.settings.map((c) => c.name ?? '(unknown)').join(', ')}`);
      if (s.opaque.length) parts.push(`opaque: ${s.opaque.join('; ')}`);
      lines.push(parts.join('; '));
    }
  }
  return `${lines.join('\n')}\n`;
}

/** `gatehouse policy …`; returns the exit code. */
export async function policyCommand(argv: string[], write: (text: string) => void): Promise<number> {
  const [verb, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      issuer: { type: 'string', default: 'local' },
      claims: { type: 'string', default: '{}' },
      database: { type: 'string' },
      sql: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  try {
    const policy = load(positionals[0], write);
    await loadParser();
    if (verb === 'check') {
      write(
        `${positionals[0]}: valid (${policy.grants.length} grants, ${policy.identities.length} identities)\n`,
      );
      for (const warning of policyWarnings(policy)) write(`warning: ${warning}\n`);
      return 0;
    }
    if (verb === 'explain') {
      if (!values.database || !values.sql) throw new UsageError(USAGE);
      let claims: Record<string, unknown>;
      try {
        claims = JSON.parse(values.claims) as Record<string, unknown>;
      } catch {
        throw new UsageError('--claims must be a JSON object');
      }
      const explanation = explain(
        policy,
        offlineIdentity(values.issuer, claims),
        values.database,
        values.sql,
      );
      write(values.json ? `${JSON.stringify(explanation, null, 2)}\n` : describe(explanation));
      return explanation.outcome === 'allow' ? 0 : 3;
    }
    if (verb === 'test') {
      const results = runPolicyTests(policy);
      for (const result of results) {
        const { outcome, rule, reason } = result.explanation;
        write(
          result.passed
            ? `ok    ${result.name}: ${outcome}\n`
            : `FAIL  ${result.name}: expected ${result.expected}, got ${outcome} (rule ${rule}: ${reason})\n`,
        );
      }
      const failed = results.filter((r) => !r.passed).length;
      write(`${results.length - failed} passed, ${failed} failed\n`);
      return failed === 0 ? 0 : 1;
    }
    throw new UsageError(USAGE);
  } catch (error) {
    if (error instanceof ExitError) return error.code;
    throw error;
  }
}
