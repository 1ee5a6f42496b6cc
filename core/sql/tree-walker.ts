import type { QualifiedName, SettingChange, StatementAnalysis, StatementClass } from './analysis';
import { isNode } from './parse-nodes';
import { BUILTIN_OPERATORS, WRITING_BUILTIN_FUNCTIONS } from './read-only-functions';
import { commandOfNode, DROPPED_RELATION_TYPES, WRITE_TARGET_FIELDS } from './statement-kinds';

type Node = Record<string, unknown>;

/** What one walk collects; `analyse` turns it into a StatementAnalysis. */
export interface Findings {
  reads: QualifiedName[];
  writes: QualifiedName[];
  functions: QualifiedName[];
  operators: string[];
  settings: SettingChange[];
  opaque: string[];
  /** Classes met below the top node (a DELETE inside a CTE makes a SELECT a write). */
  escalations: StatementClass[];
  /** Data-modifying commands met anywhere in the tree: INSERT, UPDATE, DELETE, MERGE. */
  modifies: string[];
  /** An UPDATE or DELETE without WHERE anywhere in the tree. */
  unbounded: boolean;
  executes?: string;
  deallocates?: string | true;
  prepares?: { name: string; statement: StatementAnalysis };
}

export function emptyFindings(): Findings {
  return {
    reads: [],
    writes: [],
    functions: [],
    operators: [],
    settings: [],
    opaque: [],
    escalations: [],
    modifies: [],
    unbounded: false,
  };
}

/** `[{String:{sval:'a'}}, {String:{sval:'b'}}]` → ['a', 'b']. */
export function stringList(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value.map((item) => String((item as { String?: { sval?: string } }).String?.sval ?? ''));
}

function qualified(parts: string[]): QualifiedName {
  const name = parts[parts.length - 1] ?? '';
  return parts.length >= 2 ? { schema: parts[parts.length - 2], name } : { name };
}

/** The text of a constant (`A_Const`), or undefined when the value is not a literal. */
export function constantText(value: unknown): string | undefined {
  const constant = isNode(value) ? (value.A_Const as Node | undefined) : undefined;
  if (!constant) return undefined;
  if (isNode(constant.sval)) return String(constant.sval.sval ?? '');
  if (isNode(constant.ival)) return String(constant.ival.ival ?? 0);
  if (isNode(constant.fval)) return String(constant.fval.fval ?? '');
  if (isNode(constant.boolval)) return constant.boolval.boolval ? 'on' : 'off';
  return undefined;
}

/**
 * Walks a statement's parse tree (libpg_query's JSON) and records every relation read or written,
 * every function and non-built-in operator, setting changes and what cannot be judged. CTE names are
 * resolved with SQL's scoping rules, so a CTE cannot hide a real table of the same name and vice versa.
 */
export class TreeWalker {
  private readonly cteScopes: ReadonlySet<string>[] = [];

  constructor(private readonly found: Findings) {}

  walk(value: unknown, writeTarget = false): void {
    if (Array.isArray(value)) {
      for (const item of value) this.walk(item, writeTarget);
      return;
    }
    if (!isNode(value)) return;
    const keys = Object.keys(value);
    const only = keys.length === 1 ? keys[0]! : undefined;
    if (only !== undefined && only.charCodeAt(0) >= 65 && only.charCodeAt(0) <= 90) {
      this.node(only, value[only] as Node, writeTarget);
    } else if ('relname' in value) {
      this.relation(value, writeTarget);
    } else {
      this.fields('', value);
    }
  }

  private node(type: string, body: Node, writeTarget: boolean): void {
    if (!isNode(body)) return;
    switch (type) {
      case 'RangeVar':
        this.relation(body, writeTarget);
        return;
      case 'FuncCall':
        this.functionCall(body);
        break;
      case 'A_Expr':
        this.operator(body);
        break;
      case 'DoStmt':
        this.found.opaque.push('a DO block runs code the gateway cannot see');
        return;
      case 'CallStmt':
        this.found.opaque.push('CALL runs a procedure whose body the gateway cannot see');
        break;
      case 'ExecuteStmt':
        this.found.executes = String(body.name ?? '');
        break;
      case 'SelectStmt':
        if (body.lockingClause) {
          this.lockingSelect(body);
          return;
        }
        break;
      case 'CopyStmt':
        this.copy(body);
        return;
      case 'DropStmt':
        this.drop(body);
        return;
      case 'VariableSetStmt':
        this.variableSet(body);
        return;
      case 'TransactionStmt':
        this.transactionOptions(body.options);
        return;
      case 'DiscardStmt':
        if (body.target === 'DISCARD_ALL') this.found.deallocates = true;
        return;
      case 'DeallocateStmt':
        this.found.deallocates = body.isall ? true : String(body.name ?? '');
        return;
      case 'InsertStmt':
      case 'UpdateStmt':
      case 'DeleteStmt':
      case 'MergeStmt': {
        this.found.escalations.push('write');
        const command = commandOfNode(type);
        if (!this.found.modifies.includes(command)) this.found.modifies.push(command);
        if ((type === 'UpdateStmt' || type === 'DeleteStmt') && body.whereClause === undefined)
          this.found.unbounded = true;
        break;
      }
    }
    this.fields(type, body);
  }

  /** Walks a node's fields, opening the scope of its WITH clause first. */
  private fields(type: string, body: Node): void {
    const targets = WRITE_TARGET_FIELDS[type];
    const withClause = body.withClause as Node | undefined;
    const scoped = withClause !== undefined && this.enterWith(withClause);
    for (const key of Object.keys(body)) {
      if (key === 'withClause') continue;
      const value = body[key];
      if ((key === 'intoClause' || key === 'into') && isNode(value)) {
        this.found.escalations.push('ddl');
        this.fields('IntoClause', value);
      } else {
        this.walk(value, targets?.includes(key) ?? false);
      }
    }
    if (scoped) this.cteScopes.pop();
  }

  /**
   * Walks the CTEs of a WITH clause, each seeing only the names before it (all of them when
   * RECURSIVE), then leaves all its names in scope for the statement body; returns true when a scope
   * was pushed.
   */
  private enterWith(withClause: Node): boolean {
    const ctes = (Array.isArray(withClause.ctes) ? withClause.ctes : []).map(
      (item) => (item as { CommonTableExpr?: Node }).CommonTableExpr ?? {},
    );
    const names = ctes.map((cte) => String(cte.ctename ?? ''));
    ctes.forEach((cte, index) => {
      this.cteScopes.push(new Set(withClause.recursive ? names : names.slice(0, index)));
      this.walk(cte.ctequery);
      this.cteScopes.pop();
    });
    this.cteScopes.push(new Set(names));
    return true;
  }

  private relation(body: Node, write: boolean): void {
    const name = String(body.relname ?? '');
    const schema = typeof body.schemaname === 'string' ? body.schemaname : undefined;
    if (schema === undefined && this.cteScopes.some((scope) => scope.has(name))) return;
    const reference: QualifiedName = schema === undefined ? { name } : { schema, name };
    (write ? this.found.writes : this.found.reads).push(reference);
  }

  private functionCall(body: Node): void {
    const name = qualified(stringList(body.funcname));
    this.found.functions.push(name);
    if (name.schema !== undefined && name.schema !== 'pg_catalog') return;
    if (WRITING_BUILTIN_FUNCTIONS.has(name.name)) this.found.escalations.push('write');
    if (name.name === 'set_config') {
      const args = Array.isArray(body.args) ? body.args : [];
      const setting = constantText(args[0]);
      const nameParameter = parameterNumber(args[0]);
      const valueParameter = parameterNumber(args[1]);
      this.found.settings.push({
        name: setting?.toLowerCase(),
        value: constantText(args[1]),
        ...(nameParameter !== undefined ? { nameParameter } : {}),
        ...(valueParameter !== undefined ? { valueParameter } : {}),
      });
    }
  }

  private operator(body: Node): void {
    if (body.kind !== 'AEXPR_OP' && body.kind !== 'AEXPR_OP_ANY' && body.kind !== 'AEXPR_OP_ALL') return;
    const parts = stringList(body.name);
    const symbol = parts[parts.length - 1] ?? '';
    const builtin = (parts.length === 1 || parts[0] === 'pg_catalog') && BUILTIN_OPERATORS.has(symbol);
    if (!builtin) this.found.operators.push(parts.join('.'));
  }

  /** SELECT … FOR UPDATE/SHARE locks rows: the relations it reads are also written. */
  private lockingSelect(body: Node): void {
    this.found.escalations.push('write');
    const before = this.found.reads.length;
    this.fields('SelectStmt', body);
    this.found.writes.push(...this.found.reads.slice(before));
  }

  private copy(body: Node): void {
    const fromClient = body.is_from === true;
    if (body.is_program || typeof body.filename === 'string') {
      this.found.escalations.push('admin');
      this.found.opaque.push(
        body.is_program
          ? 'COPY … PROGRAM runs a command on the database server'
          : 'COPY with a file name reads or writes files on the database server',
      );
    }
    if (fromClient) this.found.escalations.push('write');
    if (isNode(body.relation)) this.relation(body.relation, fromClient);
    this.walk(body.query);
    this.walk(body.whereClause);
  }

  private drop(body: Node): void {
    if (!DROPPED_RELATION_TYPES.has(String(body.removeType))) return;
    for (const object of Array.isArray(body.objects) ? body.objects : []) {
      const parts = stringList((object as { List?: { items?: unknown } }).List?.items);
      if (parts.length > 0) this.found.writes.push(qualified(parts));
    }
  }

  private variableSet(body: Node): void {
    const kind = String(body.kind);
    if (kind === 'VAR_RESET' || kind === 'VAR_RESET_ALL') return; // back to the session's startup values
    const name = String(body.name ?? '').toLowerCase();
    if (kind === 'VAR_SET_MULTI') {
      // SET TRANSACTION … / SET SESSION CHARACTERISTICS AS TRANSACTION …
      const session = name === 'session characteristics';
      for (const option of Array.isArray(body.args) ? body.args : []) {
        const element = (option as { DefElem?: Node }).DefElem;
        if (!element) continue;
        const setting = String(element.defname);
        this.found.settings.push({
          name: session ? `default_${setting}` : setting,
          value: readOnlyFlag(element.arg),
        });
      }
      return;
    }
    if (name === 'role' || name === 'session_authorization') this.found.escalations.push('admin');
    const args = Array.isArray(body.args) ? body.args : [];
    const value = args.map(constantText).join(', ');
    this.found.settings.push({ name, value: kind === 'VAR_SET_VALUE' ? value : kind.slice(8).toLowerCase() });
  }

  private transactionOptions(options: unknown): void {
    for (const option of Array.isArray(options) ? options : []) {
      const element = (option as { DefElem?: Node }).DefElem;
      if (element?.defname === 'transaction_read_only') {
        this.found.settings.push({ name: 'transaction_read_only', value: readOnlyFlag(element.arg) });
      }
    }
  }
}

/** `$n` (possibly cast, `$1::text`): n; anything else undefined. */
function parameterNumber(value: unknown): number | undefined {
  if (!isNode(value)) return undefined;
  const ref = value.ParamRef as Node | undefined;
  if (ref) return Number(ref.number);
  const cast = value.TypeCast as Node | undefined;
  return cast ? parameterNumber(cast.arg) : undefined;
}

/** READ ONLY is the constant 1, READ WRITE 0 (which the JSON leaves out). */
function readOnlyFlag(arg: unknown): string {
  return constantText(arg) === '1' ? 'on' : 'off';
}
