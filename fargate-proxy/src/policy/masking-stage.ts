import type { Operand } from '../../../core/masking/expression-lineage';
import { readsMaskedRelation } from '../../../core/masking/masking-policy';
import type { Grant } from '../../../core/policy/compiled-policy';
import type { Analysis } from '../../../core/sql/analysis';
import type { MaskingPlanner } from '../masking/masking-planner';
import { substituteTokens } from '../masking/token-substitution';
import type { TokenVault } from '../masking/token-vault';
import type { Statement } from '../session/statement';
import type { StageResult } from './approval-stage';

export interface MaskingStageContext {
  planner: MaskingPlanner;
  tokenVault?: TokenVault;
  database: string;
  /** Prepared statements whose parameters compare masked columns with tokens: their numbers. */
  tokenParameters: Map<string, readonly number[]>;
}

/**
 * Masking decides whether a statement of a masking grant may run: its lineage is traced, and a
 * statement that would reveal masked values (by filtering on them, copying them, or through what
 * cannot be traced) is refused. The plans of one that may run are left on the statement for result
 * masking. A wait (a catalogue look-up) runs the step again; tracing is free of side effects.
 */
export function maskingStep(
  statement: Statement,
  grant: Grant,
  analysis: Analysis,
  context: MaskingStageContext,
): StageResult {
  const masking = grant.masking;
  if (!masking) return undefined;
  const refuse = (reason: string): StageResult => {
    statement.decided = {
      decision: 'refused',
      rule: 'masking',
      statements: analysis.statements,
      withholdLiterals: statement.decided?.withholdLiterals,
    };
    return {
      sqlstate: '42501',
      message: `permission denied by policy: ${reason}`,
      detail: `grant "${grant.name}", masking`,
    };
  };
  const withholdLiterals = () => {
    if (statement.decided) statement.decided = { ...statement.decided, withholdLiterals: true };
  };
  let plans: ReturnType<MaskingPlanner['plans']>;
  try {
    plans = context.planner.plans(grant, context.database, statement.text);
  } catch (error) {
    // Not traced: its literals might be masked values.
    withholdLiterals();
    return refuse(`masking could not trace the statement (${(error as Error).message})`);
  }
  if (plans instanceof Promise) return plans;
  if (plans.some(({ lineage }) => readsMaskedRelation(lineage, masking))) withholdLiterals();
  const operands: Operand[] = [];
  for (const { plan } of plans) {
    if (plan.refused !== undefined) return refuse(plan.refused);
    operands.push(...plan.tokenOperands);
  }
  if (operands.length > 0) {
    const vault = context.tokenVault;
    if (!vault) return refuse('this gateway keeps no tokens to compare masked columns with');
    const rewritten = substituteTokens(statement.text, operands, vault);
    if ('refused' in rewritten) return refuse(rewritten.refused);
    statement.rewrite = rewritten.sql;
    const parameters = operands.flatMap((o) => ('parameter' in o ? [o.parameter] : []));
    const name = statement.parse?.statementName;
    if (parameters.length > 0 && name !== undefined) context.tokenParameters.set(name, parameters);
  }
  statement.masking = plans;
  return undefined;
}
