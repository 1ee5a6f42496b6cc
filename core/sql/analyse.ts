import type { AnalysisResult, StatementAnalysis, StatementClass } from './analysis';
import { parseStatements, type RawStatement } from './parser';
import { classOfNode, commandOfNode } from './statement-kinds';
import { emptyFindings, TreeWalker } from './tree-walker';

/** How privileged a class is; a statement takes the highest class of anything it contains. */
const RANK: Readonly<Record<StatementClass, number>> = {
  read: 0,
  session: 0,
  transaction: 0,
  write: 1,
  ddl: 2,
  admin: 3,
  unknown: 4,
};

/** Statements whose class is the class of the statement they wrap. */
const WRAPPERS = new Set(['ExplainStmt', 'DeclareCursorStmt', 'PrepareStmt']);

function onlyKey(node: unknown): string {
  return Object.keys((node as Record<string, unknown> | undefined) ?? {})[0] ?? '';
}

function commandOf(type: string, body: Record<string, unknown>): string {
  if (type === 'ExplainStmt') {
    const analyze = (Array.isArray(body.options) ? body.options : []).some((option) => {
      const element = (option as { DefElem?: { defname?: string; arg?: unknown } }).DefElem;
      return element?.defname === 'analyze' && JSON.stringify(element.arg ?? {}).indexOf('false') === -1;
    });
    return analyze ? 'EXPLAIN ANALYZE' : 'EXPLAIN';
  }
  if (type === 'CopyStmt') return body.is_from ? 'COPY FROM' : 'COPY TO';
  if (type === 'TransactionStmt')
    return String(body.kind ?? '')
      .replace('TRANS_STMT_', '')
      .replace(/_/g, ' ');
  if (type === 'DropStmt')
    return `DROP ${String(body.removeType ?? '')
      .replace('OBJECT_', '')
      .replace(/_/g, ' ')}`;
  return commandOfNode(type);
}

function baseClass(type: string, body: Record<string, unknown>): StatementClass {
  if (WRAPPERS.has(type)) return classOfNode(onlyKey(body.query));
  if (type === 'TransactionStmt' && /PREPARED|TRANS_STMT_PREPARE/.test(String(body.kind))) return 'admin';
  return classOfNode(type);
}

/** Analyses one top-level statement of a parse. */
export function analyseNode(stmt: Record<string, unknown>, text: string): StatementAnalysis {
  const type = onlyKey(stmt);
  const body = (stmt[type] ?? {}) as Record<string, unknown>;
  const found = emptyFindings();
  new TreeWalker(found).walk(stmt);
  let statementClass = baseClass(type, body);
  for (const escalation of found.escalations) {
    if (RANK[escalation] > RANK[statementClass]) statementClass = escalation;
  }
  const prepares =
    type === 'PrepareStmt'
      ? {
          name: String(body.name ?? ''),
          statement: analyseNode(body.query as Record<string, unknown>, text),
        }
      : undefined;
  return {
    text,
    command: commandOf(type, body),
    class: statementClass,
    reads: found.reads,
    writes: found.writes,
    functions: found.functions,
    operators: found.operators,
    settings: found.settings,
    opaque: found.opaque,
    unbounded: found.unbounded,
    modifies: found.modifies,
    ...(prepares ? { prepares } : {}),
    ...(found.executes !== undefined ? { executes: found.executes } : {}),
    ...(found.deallocates !== undefined ? { deallocates: found.deallocates } : {}),
  };
}

/** The statement's own text out of a multi-statement string (locations are UTF-8 byte offsets). */
function statementText(sql: Buffer | string, raw: RawStatement, single: boolean): string {
  if (single) return typeof sql === 'string' ? sql.trim() : sql.toString('utf8').trim();
  const bytes = typeof sql === 'string' ? Buffer.from(sql, 'utf8') : sql;
  const start = raw.stmt_location ?? 0;
  const end = raw.stmt_len ? start + raw.stmt_len : bytes.length;
  return bytes.subarray(start, end).toString('utf8').trim();
}

/**
 * Analyses a SQL string (one statement or several separated by semicolons) with PostgreSQL's parser.
 * The parser must be loaded (loadParser).
 */
export function analyse(sql: string): AnalysisResult {
  const parsed = parseStatements(sql);
  if (!parsed.ok) return parsed;
  const single = parsed.statements.length === 1;
  const bytes = single ? sql : Buffer.from(sql, 'utf8');
  const statements = parsed.statements
    .filter((raw) => raw.stmt !== undefined)
    .map((raw) => analyseNode(raw.stmt!, statementText(bytes, raw, single)));
  const literalSensitive = statements.some(
    (s) => s.settings.length > 0 || (s.prepares?.statement.settings.length ?? 0) > 0,
  );
  return { ok: true, analysis: { statements, literalSensitive } };
}
