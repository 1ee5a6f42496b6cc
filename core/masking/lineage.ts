import { isNode, only, type ParseNode } from '../sql/parse-nodes';
import { parseStatements } from '../sql/parser';
import { stringList } from '../sql/tree-walker';
import type { Catalogue, CatalogueMisses, CatalogueRelation, ColumnKey } from './catalogue';
import { columnKey } from './catalogue';
import { type Comparison, ExpressionTracer } from './expression-lineage';
import { type Column, Flow, type FromEntry, itemOf, renamed, Scope, zipUnion } from './scope';

type Node = ParseNode;

/** An output column: its name as the server labels it (best effort), and where its values come from. */
export interface OutputColumn {
  readonly name: string;
  readonly sources: ReadonlySet<ColumnKey>;
  readonly untraceable: readonly string[];
  /** Type OID, when the column is a stored column passed through as it is. */
  readonly type?: number;
}

/** How COPY … TO writes its rows (the options of the statement, PostgreSQL's defaults otherwise). */
export interface CopyFormat {
  readonly format: 'text' | 'csv' | 'binary';
  readonly delimiter: string;
  readonly null: string;
  readonly quote: string;
  readonly escape: string;
  /** The first line holds the column names. */
  readonly header: boolean;
}

/**
 * What a statement does with stored values, from PostgreSQL's parse tree and the catalogue: where
 * each column it returns comes from, and which stored columns it filters, orders or groups by, writes
 * elsewhere, or hands to functions with side effects.
 */
export interface StatementLineage {
  /** The rows it returns, in order; undefined when it returns none computed from data. */
  readonly output?: readonly OutputColumn[];
  /** DECLARE name: `output` is what FETCH from the cursor will return. */
  readonly declares?: string;
  /** FETCH: the rows come from this cursor, whose lineage the session keeps. */
  readonly fetches?: string;
  /** PREPARE name: `output` is what EXECUTE name will return. */
  readonly prepares?: string;
  /** EXECUTE name (SQL-level). */
  readonly executes?: string;
  /** COPY … TO: how its rows are written. */
  readonly copy?: CopyFormat;
  /** Stored columns used to pick, order or group rows; `equality` when only compared with `=` to a constant. */
  readonly predicates: ReadonlyMap<ColumnKey, 'equality' | 'other'>;
  /** The equality predicates among them, with what each column is compared with. */
  readonly comparisons: readonly Comparison[];
  /** Stored columns whose values are written somewhere (INSERT … SELECT, UPDATE … SET, CREATE TABLE AS). */
  readonly written: ReadonlySet<ColumnKey>;
  /** Stored columns whose values reach a function that may have side effects (set_config, pg_notify). */
  readonly sideEffects: ReadonlySet<ColumnKey>;
  /** Why parts outside the output could not be traced (a predicate over an unknown function…). */
  readonly untraceable: readonly string[];
  /** Every relation the statement reads, views' underlying ones included. */
  readonly relations: readonly CatalogueRelation[];
}

export type TraceResult =
  | { readonly complete: true; readonly lineage: StatementLineage }
  | { readonly complete: false; readonly misses: CatalogueMisses };

/** Views inside views, at most. */
const MAX_VIEW_DEPTH = 16;
/** Passes over a recursive CTE before its columns stop growing (they only grow, and are finite). */
const MAX_RECURSIVE_PASSES = 32;

function list(value: unknown): Node[] {
  return Array.isArray(value) ? (value as Node[]) : [];
}

/** A set operation's arms are SelectStmt bodies, not wrapped in `{SelectStmt: …}`. */
function selectBody(node: unknown): Node {
  if (!isNode(node)) return {};
  return isNode(node.SelectStmt) ? node.SelectStmt : node;
}

/** Traces one statement at a time against a catalogue snapshot; collects the lookups it missed. */
export class LineageTracer extends ExpressionTracer {
  private readonly missedRelations = new Map<string, { schema: string | undefined; name: string }>();
  private readonly missedFunctions = new Map<string, { schema: string | undefined; name: string }>();
  private readonly viewColumns = new Map<number, Column[]>();
  private readonly touched = new Map<number, CatalogueRelation>();
  private viewDepth = 0;

  constructor(catalogue: Catalogue) {
    super(catalogue);
  }

  /** Traces a parsed top-level statement (`{SelectStmt: …}`, `{InsertStmt: …}`…). */
  trace(statement: Node): TraceResult {
    this.reset();
    this.touched.clear();
    const lineage = this.statement(statement);
    const misses: CatalogueMisses = {
      relations: [...this.missedRelations.values()],
      functions: [...this.missedFunctions.values()],
    };
    if (misses.relations.length + misses.functions.length > 0) return { complete: false, misses };
    return { complete: true, lineage };
  }

  protected override missedFunction(schema: string | undefined, name: string): void {
    this.missedFunctions.set(`${schema}.${name}`, { schema, name });
  }

  private statement(node: Node): StatementLineage {
    const [type, body] = only(node);
    const result = (output?: Column[], extra: Partial<StatementLineage> = {}): StatementLineage => ({
      output: output?.map((column) => ({
        name: column.name,
        sources: column.flow.sources,
        untraceable: column.flow.untraceable,
        ...(column.type !== undefined ? { type: column.type } : {}),
      })),
      predicates: this.predicates,
      comparisons: this.comparisons,
      written: this.written,
      sideEffects: this.sideEffects,
      untraceable: this.untraceable,
      relations: [...this.touched.values()],
      ...extra,
    });
    switch (type) {
      case 'SelectStmt': {
        const output = this.select(body, undefined);
        if (isNode(body.intoClause)) {
          this.write(output);
          return result();
        }
        return result(output);
      }
      case 'InsertStmt':
      case 'UpdateStmt':
      case 'DeleteStmt':
      case 'MergeStmt':
        return result(this.modify(type, body));
      case 'CreateTableAsStmt':
        this.write(this.query(body.query, undefined));
        return result();
      case 'DeclareCursorStmt':
        return result(this.query(body.query, undefined), { declares: String(body.portalname ?? '') });
      case 'FetchStmt':
        return body.ismove ? result() : result(undefined, { fetches: String(body.portalname ?? '') });
      case 'PrepareStmt': {
        const inner = this.statement(body.query as Node);
        return { ...inner, prepares: String(body.name ?? '') };
      }
      case 'ExecuteStmt':
        return result(undefined, { executes: String(body.name ?? '') });
      case 'CopyStmt':
        return body.is_from ? result() : result(this.copyOut(body), { copy: copyFormat(body.options) });
      case 'ExplainStmt':
        // EXPLAIN returns a plan, not data; ANALYZE runs the statement, whose writes still count.
        this.statement(body.query as Node);
        return result();
      case 'CallStmt':
        this.untraceable.push('CALL runs a procedure whose body cannot be traced');
        return result();
      case 'DoStmt':
        this.untraceable.push('a DO block runs code that cannot be traced');
        return result();
      default:
        return result();
    }
  }

  private write(columns: readonly Column[]): void {
    for (const column of columns) {
      for (const source of column.flow.sources) this.written.add(source);
      for (const reason of column.flow.untraceable) this.untraceable.push(reason);
    }
  }

  /** A query node (`{SelectStmt: …}`, or a data-modifying statement in a CTE). */
  private query(node: unknown, outer: Scope | undefined): Column[] {
    const [type, body] = only(node);
    if (type === 'SelectStmt') return this.select(body, outer);
    if (type === 'InsertStmt' || type === 'UpdateStmt' || type === 'DeleteStmt' || type === 'MergeStmt')
      return this.modify(type, body, outer);
    return [];
  }

  protected override subquery(node: unknown, scope: Scope): Column[] {
    return this.query(node, scope);
  }

  /** SELECT, VALUES and set operations; returns the columns in order. */
  private select(body: Node, outer: Scope | undefined): Column[] {
    const scope = new Scope(outer);
    this.withClause(body.withClause, scope);
    let output: Column[];
    if (body.op !== undefined && body.op !== 'SETOP_NONE') {
      output = zipUnion(this.select(selectBody(body.larg), scope), this.select(selectBody(body.rarg), scope));
    } else if (Array.isArray(body.valuesLists)) {
      output = this.values(body.valuesLists, scope);
    } else {
      for (const entry of list(body.fromClause)) scope.add(this.fromEntry(entry, scope));
      output = this.targetList(body.targetList, scope);
      this.predicate(body.whereClause, scope);
      this.predicate(body.havingClause, scope);
      for (const group of list(body.groupClause)) this.orderingExpression(group, scope, output);
      for (const distinct of list(body.distinctClause)) this.orderingExpression(distinct, scope, output);
      for (const window of list(body.windowClause)) this.window(only(window)[1], scope);
    }
    for (const sort of list(body.sortClause)) this.orderingExpression(only(sort)[1].node, scope, output);
    this.predicate(body.limitCount, scope);
    this.predicate(body.limitOffset, scope);
    return output;
  }

  private values(rows: unknown[], scope: Scope): Column[] {
    const columns: Column[] = [];
    for (const row of rows) {
      list(only(row)[1].items).forEach((value, i) => {
        columns[i] ??= { name: `column${i + 1}`, flow: new Flow() };
        this.expression(value, scope, columns[i]!.flow);
      });
    }
    return columns;
  }

  private withClause(clause: unknown, scope: Scope): void {
    if (!isNode(clause)) return;
    for (const item of list(clause.ctes)) {
      const cte = only(item)[1];
      const name = String(cte.ctename ?? '');
      const aliases = stringList(cte.aliascolnames);
      const [queryType, query] = only(cte.ctequery);
      const recursive =
        clause.recursive === true &&
        queryType === 'SelectStmt' &&
        query.op !== undefined &&
        query.op !== 'SETOP_NONE';
      if (!recursive) {
        scope.defineCte(name, renamed(this.query(cte.ctequery, scope), aliases));
        continue;
      }
      // The recursive arm reads the CTE itself: grow its columns until they stop changing.
      let columns = renamed(this.select(selectBody(query.larg), scope), aliases);
      for (let pass = 0; pass < MAX_RECURSIVE_PASSES; pass++) {
        scope.defineCte(name, columns);
        const grown = zipUnion(columns, this.select(selectBody(query.rarg), scope));
        const size = (cols: readonly Column[]) => cols.reduce((n, c) => n + c.flow.size, 0);
        const stable = size(grown) === size(columns);
        columns = grown;
        if (stable) break;
      }
      scope.defineCte(name, columns);
    }
  }

  private targetList(targets: unknown, scope: Scope): Column[] {
    const output: Column[] = [];
    for (const target of list(targets)) {
      const body = only(target)[1];
      const [valueType, value] = only(body.val);
      const fields = list(value.fields);
      if (valueType === 'ColumnRef' && fields.length > 0 && 'A_Star' in fields[fields.length - 1]!) {
        output.push(...this.star(stringList(fields.slice(0, -1)), scope));
        continue;
      }
      const flow = this.expression(body.val, scope);
      const name = typeof body.name === 'string' ? body.name : this.outputName(body.val);
      const type = valueType === 'ColumnRef' ? this.plainColumnType(stringList(fields), scope) : undefined;
      output.push({ name, flow, ...(type !== undefined ? { type } : {}) });
    }
    return output;
  }

  /** The type of a plain column reference, when exactly one column of a known type answers it. */
  private plainColumnType(names: string[], scope: Scope): number | undefined {
    const column = names[names.length - 1];
    const qualifier = names.slice(0, -1);
    const items = qualifier.length > 0 ? [this.findItem(qualifier, scope)] : scope.items;
    const found = items.flatMap((item) => item?.columns?.filter((c) => c.name === column) ?? []);
    return found.length === 1 ? found[0]!.type : undefined;
  }

  private outputName(value: unknown): string {
    const [type, body] = only(value);
    if (type === 'ColumnRef') {
      const names = stringList(body.fields);
      return names[names.length - 1] ?? '?column?';
    }
    if (type === 'FuncCall') return stringList(body.funcname).pop() ?? '?column?';
    if (type === 'TypeCast') return this.outputName(body.arg);
    // As the server names them (FigureColname).
    const named: Record<string, string> = {
      A_ArrayExpr: 'array',
      RowExpr: 'row',
      CaseExpr: 'case',
      CoalesceExpr: 'coalesce',
    };
    return named[type] ?? '?column?';
  }

  /** `*`, `t.*`, `s.t.*` in a target list. */
  private star(qualifier: string[], scope: Scope): Column[] {
    if (qualifier.length === 0) {
      const columns: Column[] = [];
      for (const entry of scope.entries) {
        if (entry.star) columns.push(...entry.star);
        else columns.push(this.untraceableColumn('*', 'the columns of a FROM item are not known'));
      }
      return columns;
    }
    const item = this.findItem(qualifier, scope);
    if (!item) return [this.untraceableColumn('*', `${qualifier.join('.')}.* could not be traced`)];
    if (!item.columns) return [this.untraceableColumn('*', `the columns of ${item.name} are not known`)];
    return [...item.columns];
  }

  private untraceableColumn(name: string, reason: string): Column {
    return { name, flow: new Flow().cannotTrace(reason) };
  }

  private window(body: Node, scope: Scope): void {
    for (const part of list(body.partitionClause)) this.predicate(part, scope);
    for (const sort of list(body.orderClause)) this.predicate(only(sort)[1].node, scope);
  }

  protected override windowDefinition(body: Node, scope: Scope): void {
    this.window(body, scope);
  }

  /** ORDER BY, GROUP BY, DISTINCT ON: a number or a bare name may mean an output column. */
  private orderingExpression(node: unknown, scope: Scope, output: readonly Column[]): void {
    const [type, body] = only(node);
    if (type === 'A_Const' && isNode(body.ival)) {
      const column = output[Number(body.ival.ival ?? 0) - 1];
      if (column) this.predicateFlow(column.flow, 'other');
      return;
    }
    if (type === 'ColumnRef') {
      const names = stringList(body.fields);
      if (names.length === 1) {
        for (const column of output) if (column.name === names[0]) this.predicateFlow(column.flow, 'other');
      }
    }
    this.predicate(node, scope);
  }

  private fromEntry(node: unknown, scope: Scope): FromEntry {
    const [type, body] = only(node);
    switch (type) {
      case 'RangeVar':
        return this.rangeVar(body, scope);
      case 'RangeSubselect': {
        const columns = renamed(this.query(body.subquery, scope), this.aliasColumns(body.alias));
        return this.entryOf(this.aliasName(body.alias) ?? '', columns);
      }
      case 'JoinExpr':
        return this.join(body, scope);
      case 'RangeFunction':
        return this.rangeFunction(body, scope);
      case 'RangeTableSample':
        for (const arg of list(body.args)) this.predicate(arg, scope);
        return this.fromEntry(body.relation, scope);
      default: {
        // XMLTABLE, JSON_TABLE…: every column derives from everything the entry reads.
        const flow = this.expression(body, scope);
        const name = this.aliasName(body.alias) ?? type;
        return { items: [itemOf(name, undefined)], star: [{ name, flow }] };
      }
    }
  }

  private aliasName(alias: unknown): string | undefined {
    const name = isNode(alias) ? (alias.aliasname as string | undefined) : undefined;
    return typeof name === 'string' ? name : undefined;
  }

  private aliasColumns(alias: unknown): string[] {
    return isNode(alias) ? stringList(alias.colnames) : [];
  }

  private entryOf(name: string, columns: readonly Column[], schema?: string): FromEntry {
    return { items: [itemOf(name, columns, schema)], star: columns };
  }

  private rangeVar(body: Node, scope: Scope): FromEntry {
    const name = String(body.relname ?? '');
    const schema = typeof body.schemaname === 'string' ? body.schemaname : undefined;
    const alias = this.aliasName(body.alias);
    const aliases = this.aliasColumns(body.alias);
    const cte = schema === undefined ? scope.cte(name) : undefined;
    if (cte) return this.entryOf(alias ?? name, renamed(cte, aliases));
    const relation = this.relation(schema, name);
    if (!relation) {
      const column = this.untraceableColumn(
        name,
        `relation ${schema ? `${schema}.` : ''}${name} is not known`,
      );
      const item = itemOf(alias ?? name, undefined);
      item.whole.add(column.flow);
      return { items: [item], star: [column] };
    }
    const columns = renamed(this.relationColumns(relation), aliases);
    return this.entryOf(alias ?? relation.name, columns, alias ? undefined : relation.schema);
  }

  protected override relation(schema: string | undefined, name: string): CatalogueRelation | undefined {
    const found = this.catalogue.relation(schema, name);
    if (found === undefined) this.missedRelations.set(`${schema}.${name}`, { schema, name });
    return found ?? undefined;
  }

  /** A relation's columns: a table's are themselves; a view's derive from its defining query too. */
  private relationColumns(relation: CatalogueRelation): Column[] {
    this.touched.set(relation.oid, relation);
    const own = (column: { name: string }) => columnKey(relation.schema, relation.name, column.name);
    const copies = ExpressionTracer.copiesValues(relation);
    if (relation.kind === 'table' || relation.definition === undefined) {
      return relation.columns.map((column) => {
        const flow = new Flow();
        flow.sources.add(own(column));
        if (copies)
          flow.cannotTrace(`${relation.name} holds sample values of every column, masked ones included`);
        return { name: column.name, flow, type: column.type };
      });
    }
    const cached = this.viewColumns.get(relation.oid);
    if (cached) return cached;
    const defined = this.viewDefinition(relation);
    const columns = relation.columns.map((column, i) => {
      const flow = new Flow();
      flow.sources.add(own(column));
      const origin = defined[i];
      if (origin) flow.add(origin.flow);
      else
        flow.cannotTrace(
          `column ${column.name} of view ${relation.schema}.${relation.name} could not be traced`,
        );
      return { name: column.name, flow, type: column.type };
    });
    this.viewColumns.set(relation.oid, columns);
    return columns;
  }

  private viewDefinition(relation: CatalogueRelation): Column[] {
    const where = `${relation.schema}.${relation.name}`;
    if (this.viewDepth >= MAX_VIEW_DEPTH)
      return [this.untraceableColumn('?', `views nest too deep at ${where}`)];
    const parsed = parseStatements(relation.definition ?? '');
    const statement = parsed.ok ? parsed.statements[0]?.stmt : undefined;
    if (!statement) return [this.untraceableColumn('?', `the definition of ${where} does not parse`)];
    this.viewDepth++;
    try {
      return this.query(statement, undefined);
    } finally {
      this.viewDepth--;
    }
  }

  private join(body: Node, scope: Scope): FromEntry {
    const left = this.fromEntry(body.larg, scope);
    const right = this.fromEntry(body.rarg, scope);
    const inner = new Scope(scope);
    inner.add(left);
    inner.add(right);
    this.predicate(body.quals, inner);
    const leftStar = left.star ?? [];
    const rightStar = right.star ?? [];
    let merged = stringList(body.usingClause);
    if (body.isNatural) {
      merged = leftStar.map((c) => c.name).filter((name) => rightStar.some((c) => c.name === name));
    }
    const mergedColumns = merged.map((name) => {
      const flow = new Flow();
      const sides = [...leftStar, ...rightStar].filter((c) => c.name === name);
      for (const side of sides) flow.add(side.flow);
      // Joining on a column compares its values: a predicate.
      this.predicateFlow(flow, 'other');
      return { name, flow };
    });
    const rest = (columns: readonly Column[]) => columns.filter((c) => !merged.includes(c.name));
    const star =
      left.star && right.star ? [...mergedColumns, ...rest(leftStar), ...rest(rightStar)] : undefined;
    const alias = this.aliasName(body.alias);
    if (alias) {
      const columns = star ? renamed(star, this.aliasColumns(body.alias)) : undefined;
      return { items: [itemOf(alias, columns)], star: columns };
    }
    const items = [...left.items, ...right.items];
    const usingAlias = this.aliasName(body.join_using_alias);
    if (usingAlias) items.push(itemOf(usingAlias, mergedColumns));
    return { items, star };
  }

  private rangeFunction(body: Node, scope: Scope): FromEntry {
    const flow = new Flow();
    let names: string[] | undefined = [];
    for (const entry of list(body.functions)) {
      const [call, definitions] = list(only(entry)[1].items);
      this.expression(call, scope, flow);
      const defined = list(definitions).map((d) => String(only(d)[1].colname ?? ''));
      const [callType, callBody] = only(call);
      const declared =
        defined.length > 0
          ? defined
          : callType === 'FuncCall'
            ? this.functionOutputs(callBody)
            : ['?column?'];
      names = names && declared ? [...names, ...declared] : undefined;
    }
    const coldefs = list(body.coldeflist).map((d) => String(only(d)[1].colname ?? ''));
    if (coldefs.length > 0) names = coldefs;
    if (names && body.ordinality) names.push('ordinality');
    const alias = this.aliasName(body.alias);
    const aliasColumns = this.aliasColumns(body.alias);
    const columns = names?.map((name, i) => ({ name: aliasColumns[i] ?? name, flow }));
    const itemName = alias ?? (names?.length === 1 ? names[0]! : 'function');
    const item = itemOf(itemName, columns);
    item.whole.add(flow);
    return { items: [item], star: columns };
  }

  private functionOutputs(call: Node): string[] | undefined {
    const parts = stringList(call.funcname);
    const name = parts[parts.length - 1] ?? '';
    const found = this.functionInfo(parts.length > 1 ? parts[parts.length - 2] : undefined, name);
    if (!found) return [name];
    return found.outputColumns ? [...found.outputColumns] : undefined;
  }

  /** INSERT, UPDATE, DELETE, MERGE: what they write, what they filter on, and what they return. */
  private modify(type: string, body: Node, outer?: Scope): Column[] {
    const scope = new Scope(outer);
    this.withClause(body.withClause, scope);
    if (type === 'InsertStmt' && body.selectStmt) {
      this.write(this.query(body.selectStmt, scope));
    }
    const target = this.rangeVar(body.relation as Node, scope);
    scope.add(target);
    for (const entry of [...list(body.fromClause), ...list(body.usingClause)])
      scope.add(this.fromEntry(entry, scope));
    if (type === 'MergeStmt') {
      scope.add(this.fromEntry(body.sourceRelation, scope));
      this.predicate(body.joinCondition, scope);
      for (const clause of list(body.mergeWhenClauses)) {
        const when = only(clause)[1];
        this.predicate(when.condition, scope);
        this.writeExpressions(when.targetList, scope);
        this.writeExpressions(when.values, scope);
      }
    }
    this.writeExpressions(body.targetList, scope);
    const conflict = isNode(body.onConflictClause) ? body.onConflictClause : undefined;
    if (conflict) {
      this.writeExpressions(conflict.targetList, scope);
      this.predicate(conflict.whereClause, scope);
    }
    this.predicate(body.whereClause, scope);
    // PostgreSQL 18's parser puts RETURNING under returningClause (it adds OLD/NEW aliases).
    const returning = isNode(body.returningClause) ? body.returningClause.exprs : body.returningList;
    return this.targetList(returning, scope);
  }

  /** SET col = expr, or VALUES: the values are written to the target. */
  private writeExpressions(targets: unknown, scope: Scope): void {
    if (!Array.isArray(targets)) return;
    const flow = this.expression(targets, scope);
    for (const source of flow.sources) this.written.add(source);
    for (const reason of flow.untraceable) this.untraceable.push(reason);
  }

  /** COPY t [(cols)] TO STDOUT, or COPY (query) TO STDOUT. */
  private copyOut(body: Node): Column[] {
    if (body.query) return this.query(body.query, undefined);
    const entry = this.rangeVar(body.relation as Node, new Scope());
    const chosen = stringList(body.attlist);
    const star = entry.star ?? [];
    if (chosen.length === 0) return [...star];
    return chosen.map(
      (name) =>
        star.find((column) => column.name === name) ??
        this.untraceableColumn(name, `column ${name} could not be traced`),
    );
  }
}

/** COPY's options as the server applies them (docs: COPY, "Parameters"). */
function copyFormat(options: unknown): CopyFormat {
  const values = new Map<string, string | boolean>();
  for (const option of list(options)) {
    const element = only(option)[1];
    const [argType, arg] = only(element.arg);
    const value =
      argType === 'String' ? String(arg.sval ?? '') : argType === 'Boolean' ? arg.boolval === true : true;
    values.set(String(element.defname ?? ''), value);
  }
  const format = values.get('format');
  const kind = format === 'csv' || format === 'binary' ? format : 'text';
  const text = (name: string, fallback: string) => {
    const value = values.get(name);
    return typeof value === 'string' ? value : fallback;
  };
  const header = values.get('header');
  const quote = text('quote', '"');
  return {
    format: kind,
    delimiter: text('delimiter', kind === 'csv' ? ',' : '\t'),
    null: text('null', kind === 'csv' ? '' : '\\N'),
    quote,
    escape: text('escape', quote),
    header: header === true || (typeof header === 'string' && /^(true|on|1|match)$/i.test(header)),
  };
}
