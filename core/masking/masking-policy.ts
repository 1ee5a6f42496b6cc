import { columnGlob, type Matcher } from '../policy/glob';
import type { MaskingDocument } from '../policy/schema';
import { type ColumnKey, columnKey } from './catalogue';
import type { Operand } from './expression-lineage';
import type { StatementLineage } from './lineage';
import type { MaskMethod, MaskSpec } from './mask-values';

export interface MaskRule {
  readonly name: string;
  readonly matches: Matcher;
  readonly spec: MaskSpec;
  readonly predicates: 'refuse' | 'token-equality' | 'equality' | 'allow';
}

/** A grant's masking, compiled. */
export interface MaskingPolicy {
  readonly rules: readonly MaskRule[];
  readonly untraceable: 'refuse' | 'redact' | 'detect';
}

export function compileMasking(
  document: MaskingDocument,
  dataClasses: Readonly<Record<string, readonly string[]>>,
): MaskingPolicy {
  return {
    untraceable: document.untraceable,
    rules: document.rules.map((rule) => {
      const globs = [...rule.columns, ...rule.dataClasses.flatMap((name) => dataClasses[name] ?? [])];
      const matchers = globs.map(columnGlob);
      return {
        name: rule.name,
        matches: (key: ColumnKey) => matchers.some((match) => match(key)),
        spec: {
          method: rule.method,
          keepFirst: rule.keep?.first,
          keepLast: rule.keep?.last,
          tokensComparable: rule.predicates === 'token-equality',
        },
        predicates: rule.predicates,
      };
    }),
  };
}

/** How one returned column is masked: by which rule, with which method. */
export interface ColumnMask {
  readonly rule: string;
  readonly spec: MaskSpec;
  /** The stored columns that made it masked (for the message and the audit record). */
  readonly because: readonly ColumnKey[];
  /** Origin unknown: only values the detectors recognise are masked. */
  readonly detect?: boolean;
}

/** A statement's masking: refused, or a mask (or none) per returned column. */
export type MaskingPlan =
  | { readonly refused: string }
  | {
      readonly refused?: undefined;
      readonly columns: readonly (ColumnMask | undefined)[] | undefined;
      /**
       * Constants and parameters compared with a `token-equality` column: each must be a token this
       * gateway issued, and is replaced by the value it stands for before the statement runs.
       */
      readonly tokenOperands: readonly Operand[];
      /**
       * Masked stored columns of the relations the statement reads, as `tableOid:attnum`: a result
       * column the server labels with one of these must be masked whatever the plan says (a check of
       * the lineage against the server's own description).
       */
      readonly maskedAttributes: ReadonlySet<string>;
    };

/** Stronger methods reveal less; a column under several rules gets the strongest. */
const STRENGTH: Readonly<Record<MaskMethod, number>> = { partial: 0, token: 1, redact: 2, null: 3 };

function strongest(rules: readonly MaskRule[]): MaskRule {
  return rules.reduce((best, rule) =>
    STRENGTH[rule.spec.method] > STRENGTH[best.spec.method] ? rule : best,
  );
}

const UNTRACEABLE_RULE = 'untraceable';
const DETECTORS_RULE = 'detectors';

/**
 * Decides a statement's masking from its lineage: which returned columns are masked and how, or why
 * the statement is refused (an untraceable column, a masked column filtered on, copied into a table
 * or handed to a function with side effects). Pure.
 */
export function planMasking(lineage: StatementLineage, policy: MaskingPolicy): MaskingPlan {
  const rulesOf = (key: ColumnKey) => policy.rules.filter((rule) => rule.matches(key));
  for (const key of lineage.written) {
    if (rulesOf(key).length > 0)
      return { refused: `the statement would copy masked column ${key} where it is no longer masked` };
  }
  for (const key of lineage.sideEffects) {
    if (rulesOf(key).length > 0)
      return { refused: `the statement hands masked column ${key} to a function with side effects` };
  }
  const tokenOperands: Operand[] = [];
  for (const [key, kind] of lineage.predicates) {
    for (const rule of rulesOf(key)) {
      if (rule.predicates === 'allow' || (rule.predicates === 'equality' && kind === 'equality')) continue;
      if (rule.predicates === 'token-equality' && kind === 'equality') {
        for (const comparison of lineage.comparisons) {
          if (comparison.sources.includes(key)) tokenOperands.push(...comparison.operands);
        }
        continue;
      }
      return {
        refused:
          rule.predicates === 'equality'
            ? `masked column ${key} may only be compared for equality with a constant (rule ${rule.name})`
            : rule.predicates === 'token-equality'
              ? `masked column ${key} may only be compared for equality with a token (rule ${rule.name})`
              : `filtering, ordering, grouping or joining on masked column ${key} can reveal its values (rule ${rule.name})`,
      };
    }
  }
  if (lineage.untraceable.length > 0 && policy.untraceable === 'refuse') {
    return { refused: `masking cannot trace the statement: ${lineage.untraceable[0]}` };
  }
  const maskedAttributes = new Set<string>();
  for (const relation of lineage.relations) {
    for (const column of relation.columns) {
      if (rulesOf(columnKey(relation.schema, relation.name, column.name)).length > 0)
        maskedAttributes.add(`${relation.oid}:${column.attnum}`);
    }
  }
  if (!lineage.output) return { columns: undefined, maskedAttributes, tokenOperands };
  const columns: (ColumnMask | undefined)[] = [];
  for (const column of lineage.output) {
    const because = [...column.sources].filter((key) => rulesOf(key).length > 0);
    if (column.untraceable.length > 0) {
      if (policy.untraceable === 'refuse') {
        return { refused: `column "${column.name}" cannot be traced: ${column.untraceable[0]}` };
      }
      columns.push(
        policy.untraceable === 'detect'
          ? { rule: DETECTORS_RULE, spec: { method: 'redact' }, because, detect: true }
          : { rule: UNTRACEABLE_RULE, spec: { method: 'redact' }, because },
      );
      continue;
    }
    if (because.length === 0) {
      columns.push(undefined);
      continue;
    }
    const rule = strongest(because.flatMap(rulesOf));
    columns.push({ rule: rule.name, spec: rule.spec, because });
  }
  return {
    columns: columns.some((c) => c !== undefined) ? columns : undefined,
    maskedAttributes,
    tokenOperands,
  };
}

/** Whether the statement reads a relation that has masked columns (its literals may be masked values). */
export function readsMaskedRelation(lineage: StatementLineage, policy: MaskingPolicy): boolean {
  return lineage.relations.some((relation) =>
    relation.columns.some((column) =>
      policy.rules.some((rule) => rule.matches(columnKey(relation.schema, relation.name, column.name))),
    ),
  );
}
