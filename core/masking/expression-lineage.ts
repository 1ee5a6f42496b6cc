import { isNode, only, type ParseNode } from '../sql/parse-nodes';
import { stringList } from '../sql/tree-walker';
import type { Catalogue, CatalogueFunction, CatalogueRelation, ColumnKey } from './catalogue';
import { type Column, Flow, type FromItem, type Scope } from './scope';

type Node = ParseNode;

/** Built-in functions that run a query given as text, or read a relation named by an argument. */
const RUNS_QUERIES = new Set([
  'query_to_xml',
  'query_to_xml_and_xmlschema',
  'query_to_xmlschema',
  'cursor_to_xml',
  'cursor_to_xmlschema',
  'database_to_xml',
  'database_to_xml_and_xmlschema',
  'schema_to_xml',
  'schema_to_xml_and_xmlschema',
  'table_to_xml',
  'table_to_xml_and_xmlschema',
  'ts_rewrite',
  'ts_stat',
]);

/** Catalogue relations that hold copies of column values (planner statistics keep sample values). */
const VALUE_COPIES = /^pg_stat(s|s_ext|s_ext_exprs|istic|istic_ext_data)$/;

/**
 * What a column is compared with for equality: a constant at a byte offset of the statement text (its
 * text as the parser read it), or a bind parameter.
 */
export type Operand = { readonly location: number; readonly text: string } | { readonly parameter: number };

/** An equality predicate: the stored columns on one side, the constants or parameters on the other. */
export interface Comparison {
  readonly sources: readonly ColumnKey[];
  readonly operands: readonly Operand[];
}

/** A constant (string or number) or a parameter, under casts; undefined for anything else. */
function operandOf(node: unknown): Operand | undefined {
  const [type, body] = uncast(node);
  if (type === 'ParamRef') return { parameter: Number(body.number) };
  if (type !== 'A_Const') return undefined;
  const location = Number(body.location);
  if (isNode(body.sval)) return { location, text: String(body.sval.sval ?? '') };
  if (isNode(body.ival)) return { location, text: String(body.ival.ival ?? 0) };
  if (isNode(body.fval)) return { location, text: String(body.fval.fval ?? '') };
  return undefined;
}

/** `x`, `x::type`, `(x COLLATE c)`: the expression under casts and collations. */
function uncast(node: unknown): [string, Node] {
  let [type, body] = only(node);
  while (type === 'TypeCast' || type === 'CollateClause') [type, body] = only(body.arg);
  return [type, body];
}

/**
 * Lineage of expressions: which stored columns a value derives from, by any route (operators,
 * functions, CASE, constructors, aggregates, subqueries). Built-in functions pass their arguments'
 * origins on; a function that is not built in, or that runs SQL given as text, makes the value
 * untraceable. The statement-level tracer (lineage.ts) extends this with FROM and statements.
 */
export abstract class ExpressionTracer {
  protected predicates = new Map<ColumnKey, 'equality' | 'other'>();
  protected comparisons: Comparison[] = [];
  protected written = new Set<ColumnKey>();
  protected sideEffects = new Set<ColumnKey>();
  protected untraceable: string[] = [];

  constructor(protected readonly catalogue: Catalogue) {}

  protected reset(): void {
    this.predicates = new Map();
    this.comparisons = [];
    this.written = new Set();
    this.sideEffects = new Set();
    this.untraceable = [];
  }

  /** A query nested in an expression (a sublink); its columns. */
  protected abstract subquery(node: unknown, scope: Scope): Column[];
  protected abstract windowDefinition(body: Node, scope: Scope): void;
  protected abstract relation(schema: string | undefined, name: string): CatalogueRelation | undefined;
  protected abstract missedFunction(schema: string | undefined, name: string): void;

  protected functionInfo(schema: string | undefined, name: string): CatalogueFunction | undefined {
    const found = this.catalogue.function(schema, name);
    if (found === undefined) this.missedFunction(schema, name);
    return found ?? undefined;
  }

  /** Where `value` derives from, added to `flow`. */
  protected expression(value: unknown, scope: Scope, flow: Flow = new Flow()): Flow {
    if (Array.isArray(value)) {
      for (const item of value) this.expression(item, scope, flow);
      return flow;
    }
    if (!isNode(value)) return flow;
    const keys = Object.keys(value);
    const type = keys.length === 1 ? keys[0]! : '';
    const body = value[type];
    if (!isNode(body) || type.charCodeAt(0) < 65 || type.charCodeAt(0) > 90) {
      // A plain object of fields (a list wrapper's body, a CaseWhen's…): walk every field.
      for (const key of keys) this.expression(value[key], scope, flow);
      return flow;
    }
    switch (type) {
      case 'ColumnRef':
        return flow.add(this.columnRef(body, scope));
      case 'FuncCall':
        return this.functionCall(body, scope, flow);
      case 'SubLink':
        this.expression(body.testexpr, scope, flow);
        for (const column of this.subquery(body.subselect, scope)) flow.add(column.flow);
        return flow;
      case 'SelectStmt':
        for (const column of this.subquery(value, scope)) flow.add(column.flow);
        return flow;
      case 'A_Expr':
        this.operatorCheck(body, flow);
        break;
      case 'A_Const':
      case 'ParamRef':
      case 'SQLValueFunction':
        return flow;
    }
    for (const key of Object.keys(body)) this.expression(body[key], scope, flow);
    return flow;
  }

  private operatorCheck(body: Node, flow: Flow): void {
    const parts = stringList(body.name);
    if (parts.length > 1 && parts[0] !== 'pg_catalog') {
      flow.cannotTrace(`operator ${parts.join('.')} is not built in`);
    }
  }

  private functionCall(body: Node, scope: Scope, flow: Flow): Flow {
    const parts = stringList(body.funcname);
    const name = parts[parts.length - 1] ?? '';
    const schema = parts.length > 1 ? parts[parts.length - 2] : undefined;
    const shown = parts.join('.');
    const args = this.expression(body.args, scope);
    const found = this.functionInfo(schema, name);
    if (found === undefined) {
      // Not looked up yet: the trace is repeated once it has been.
    } else if (!found.builtin) {
      args.cannotTrace(`function ${shown} is not built in: what it returns cannot be traced`);
    } else if (RUNS_QUERIES.has(name)) {
      args.cannotTrace(`${shown} runs a query or reads a relation named in text`);
    } else if (found.volatile) {
      for (const source of args.sources) this.sideEffects.add(source);
    }
    flow.add(args);
    this.predicate(body.agg_filter, scope);
    for (const sort of Array.isArray(body.agg_order) ? body.agg_order : [])
      this.predicate(only(sort)[1].node, scope);
    if (isNode(body.over)) this.windowDefinition(body.over, scope);
    return flow;
  }

  /** A column reference: `c`, `t.c`, `s.t.c`, `db.s.t.c`, `t.*`, or a whole-row `t`. */
  private columnRef(body: Node, scope: Scope): Flow {
    const fields = Array.isArray(body.fields) ? (body.fields as Node[]) : [];
    const star = fields.length > 0 && 'A_Star' in fields[fields.length - 1]!;
    const names = stringList(star ? fields.slice(0, -1) : fields);
    const flow = new Flow();
    if (star) {
      if (names.length === 0) {
        for (const item of scope.items) flow.add(item.whole);
        return flow;
      }
      const item = this.findItem(names, scope);
      return item ? flow.add(item.whole) : flow.cannotTrace(`${names.join('.')}.* could not be traced`);
    }
    if (names.length >= 2) {
      const item = this.findItem(names.slice(0, -1), scope);
      if (item) return flow.add(this.columnOf(item, names[names.length - 1]!));
    }
    // A bare name (or `a.b` where `a` is a composite column): the innermost level that has it.
    const column = names[0]!;
    let found = false;
    for (const level of scope.levels()) {
      for (const item of level.items) {
        if (item.columns === undefined) {
          flow.add(item.whole);
          continue;
        }
        for (const candidate of item.columns) {
          if (candidate.name === column) {
            flow.add(candidate.flow);
            found = true;
          }
        }
      }
      if (found) return flow;
    }
    // A whole-row reference by the item's name (`row_to_json(t)`).
    const item = names.length === 1 ? this.findItem(names, scope) : undefined;
    if (item) return flow.add(item.whole);
    return flow.cannotTrace(`column ${names.join('.')} could not be traced`);
  }

  private columnOf(item: FromItem, name: string): Flow {
    if (item.columns === undefined) return item.whole;
    const flow = new Flow();
    for (const column of item.columns) if (column.name === name) flow.add(column.flow);
    return flow.size > 0 ? flow : flow.cannotTrace(`column ${item.name}.${name} could not be traced`);
  }

  /** The item a qualifier names (`t`, `s.t`, `db.s.t`), innermost level first. */
  protected findItem(qualifier: string[], scope: Scope): FromItem | undefined {
    const name = qualifier[qualifier.length - 1]!;
    const schema = qualifier.length >= 2 ? qualifier[qualifier.length - 2] : undefined;
    for (const level of scope.levels()) {
      const item = level.items.find((i) => i.name === name && (schema === undefined || i.schema === schema));
      if (item) return item;
    }
    return undefined;
  }

  /** A value used to pick, order or group rows. */
  protected predicate(value: unknown, scope: Scope): void {
    if (value === undefined || value === null) return;
    const [type, body] = only(value);
    if (type === 'BoolExpr' && body.boolop === 'AND_EXPR') {
      for (const arg of Array.isArray(body.args) ? body.args : []) this.predicate(arg, scope);
      return;
    }
    const equality = this.equality(type, body);
    if (equality) {
      const flow = this.expression(equality.column, scope);
      this.predicateFlow(flow, 'equality');
      this.comparisons.push({ sources: [...flow.sources], operands: equality.operands });
      return;
    }
    this.predicateFlow(this.expression(value, scope), 'other');
  }

  /**
   * `col = constant` (either way round, casts allowed) or `col IN (constants)`: the column side and
   * the constants (or parameters) it is compared with.
   */
  private equality(type: string, body: Node): { column: unknown; operands: Operand[] } | undefined {
    if (type !== 'A_Expr') return undefined;
    const operator = stringList(body.name).join('.');
    const column = (node: unknown) => uncast(node)[0] === 'ColumnRef';
    if (body.kind === 'AEXPR_OP' && operator === '=') {
      const right = operandOf(body.rexpr);
      if (column(body.lexpr) && right) return { column: body.lexpr, operands: [right] };
      const left = operandOf(body.lexpr);
      if (column(body.rexpr) && left) return { column: body.rexpr, operands: [left] };
    }
    if (body.kind === 'AEXPR_IN' && operator === '=' && column(body.lexpr)) {
      // PostgreSQL 18's parser wraps the list: {List: {items}}.
      const list = isNode(body.rexpr) ? (only(body.rexpr)[1].items as unknown) : body.rexpr;
      const items = Array.isArray(list) ? list : [];
      const operands = items.map(operandOf);
      if (items.length > 0 && operands.every((o) => o !== undefined))
        return { column: body.lexpr, operands: operands as Operand[] };
    }
    return undefined;
  }

  protected predicateFlow(flow: Flow, kind: 'equality' | 'other'): void {
    for (const source of flow.sources) {
      if (kind === 'other' || this.predicates.get(source) !== 'other') this.predicates.set(source, kind);
    }
    for (const reason of flow.untraceable)
      if (!this.untraceable.includes(reason)) this.untraceable.push(reason);
  }

  /** Planner statistics keep sample values of every column: reading them is reading masked values. */
  protected static copiesValues(relation: CatalogueRelation): boolean {
    return relation.schema === 'pg_catalog' && VALUE_COPIES.test(relation.name);
  }
}
