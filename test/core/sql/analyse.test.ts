import { analyse, analyseNode } from '../../../core/sql/analyse';
import type { StatementAnalysis } from '../../../core/sql/analysis';
import { formatName } from '../../../core/sql/analysis';
import { loadParser } from '../../../core/sql/parser';

beforeAll(() => loadParser());

function one(sql: string): StatementAnalysis {
  const result = analyse(sql);
  if (!result.ok) throw new Error(result.failure.message);
  expect(result.analysis.statements).toHaveLength(1);
  return result.analysis.statements[0]!;
}

const names = (list: readonly { schema?: string; name: string }[]) => list.map(formatName).sort();

describe('analyse', () => {
  it.each([
    ['SELECT abalance FROM pgbench_accounts WHERE aid = 1', 'SELECT', 'read', ['pgbench_accounts'], []],
    ['INSERT INTO public.t SELECT * FROM s RETURNING *', 'INSERT', 'write', ['s'], ['public.t']],
    ['UPDATE t SET a = 1 FROM s WHERE t.id = s.id', 'UPDATE', 'write', ['s'], ['t']],
    ['MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE', 'MERGE', 'write', ['s'], ['t']],
    ['COPY accounts (id) FROM STDIN', 'COPY FROM', 'write', [], ['accounts']],
    ['COPY (SELECT * FROM a.b) TO STDOUT', 'COPY TO', 'read', ['a.b'], []],
    ['SELECT * INTO n FROM s', 'SELECT', 'ddl', ['s'], ['n']],
    ['CREATE TABLE n AS SELECT * FROM s', 'CREATE TABLE AS', 'ddl', ['s'], ['n']],
    ['EXPLAIN ANALYZE DELETE FROM x', 'EXPLAIN ANALYZE', 'write', [], ['x']],
    ['DECLARE c CURSOR WITH HOLD FOR SELECT * FROM t', 'DECLARE CURSOR', 'read', ['t'], []],
    ['SELECT * FROM t FOR UPDATE', 'SELECT', 'write', ['t'], ['t']],
    ['TRUNCATE a, b.c', 'TRUNCATE', 'write', [], ['a', 'b.c']],
    ['DROP TABLE a.b, c', 'DROP TABLE', 'ddl', [], ['a.b', 'c']],
    ['GRANT SELECT ON a TO b', 'GRANT', 'admin', [], ['a']],
    ['VACUUM t', 'VACUUM', 'admin', [], ['t']],
    ['LOCK TABLE a', 'LOCK', 'write', [], ['a']],
  ])('%s', (sql, command, statementClass, reads, writes) => {
    const s = one(sql);
    expect(s.command).toBe(command);
    expect(s.class).toBe(statementClass);
    expect(names(s.reads)).toEqual(reads);
    expect(names(s.writes)).toEqual(writes);
  });

  it('finds DML inside a CTE and makes the statement a write', () => {
    const s = one('WITH d AS (DELETE FROM audit.log RETURNING *) SELECT count(*) FROM d');
    expect(s.class).toBe('write');
    expect(names(s.writes)).toEqual(['audit.log']);
    expect(s.reads).toEqual([]);
  });

  it('resolves CTE names by SQL scoping, so a CTE cannot hide a table of the same name', () => {
    // Not RECURSIVE: inside its own definition, "secrets" is the table.
    expect(names(one('WITH secrets AS (SELECT * FROM secrets) SELECT * FROM secrets').reads)).toEqual([
      'secrets',
    ]);
    // A CTE in a nested scope does not hide the outer table.
    expect(
      names(one('SELECT * FROM secrets, LATERAL (WITH secrets AS (SELECT 1) SELECT 1) x').reads),
    ).toEqual(['secrets']);
    expect(one('WITH RECURSIVE r AS (SELECT 1 UNION SELECT * FROM r) SELECT * FROM r').reads).toEqual([]);
    // A qualified name is never a CTE.
    expect(names(one('WITH t AS (SELECT 1) SELECT * FROM public.t').reads)).toEqual(['public.t']);
  });

  it('finds relations in subqueries, joins, set operations and function arguments', () => {
    const s = one(
      'SELECT (SELECT max(x) FROM a) FROM b JOIN c USING (id) WHERE EXISTS (SELECT 1 FROM d) UNION SELECT 1 FROM e',
    );
    expect(names(s.reads)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(names(s.functions)).toEqual(['max']);
  });

  it('flags what cannot be judged from the text', () => {
    expect(one('DO $$ BEGIN DELETE FROM t; END $$').opaque).toHaveLength(1);
    expect(one('CALL p()').opaque).toHaveLength(1);
    expect(one("COPY t TO PROGRAM 'rm -rf /'")).toMatchObject({
      class: 'admin',
      opaque: [expect.any(String)],
    });
    expect(one('EXECUTE p(1)').executes).toBe('p');
  });

  it('records setting changes, including set_config and READ WRITE transactions', () => {
    expect(one("SELECT set_config('role', 'admin', false)").settings).toEqual([
      { name: 'role', value: 'admin' },
    ]);
    expect(one('SELECT set_config(x, y, false) FROM t').settings).toEqual([{ name: undefined }]);
    expect(one('BEGIN READ WRITE').settings).toEqual([{ name: 'transaction_read_only', value: 'off' }]);
    expect(one('SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE').settings).toEqual([
      { name: 'default_transaction_read_only', value: 'off' },
    ]);
    expect(one('SET ROLE postgres')).toMatchObject({
      class: 'admin',
      settings: [{ name: 'role', value: 'postgres' }],
    });
    expect(one('RESET ALL').settings).toEqual([]);
    expect(analyse("SELECT set_config('a', 'b', false)")).toMatchObject({
      analysis: { literalSensitive: true },
    });
  });

  it('classifies sequences, notifications and user-defined operators', () => {
    expect(one("SELECT nextval('s')").class).toBe('write');
    expect(one("SELECT pg_notify('c', 'x')").class).toBe('write');
    expect(one('SELECT 1 OPERATOR(public.===) 2').operators).toEqual(['public.===']);
    expect(one('SELECT 1 + 2 WHERE 3 <> 4').operators).toEqual([]);
  });

  it('keeps PREPARE’s statement and marks UPDATE/DELETE without WHERE', () => {
    const s = one('PREPARE p (int) AS DELETE FROM x');
    expect(s.class).toBe('write');
    expect(s.prepares).toMatchObject({ name: 'p', statement: { command: 'DELETE', unbounded: true } });
    expect(one('DELETE FROM x WHERE id = 1').unbounded).toBe(false);
  });

  it('splits multi-statement strings with each statement’s own text', () => {
    const result = analyse('SELECT 1; DROP TABLE "Ünïcode"; COMMIT');
    expect(result.ok && result.analysis.statements.map((s) => [s.text, s.command, s.class])).toEqual([
      ['SELECT 1', 'SELECT', 'read'],
      ['DROP TABLE "Ünïcode"', 'DROP TABLE', 'ddl'],
      ['COMMIT', 'COMMIT', 'transaction'],
    ]);
  });

  it('reports the parser’s own error with its position in characters, as the server does', () => {
    expect(analyse('SELECT * FROM WHERE')).toEqual({
      ok: false,
      failure: { message: 'syntax error at or near "WHERE"', position: 15 },
    });
    expect(analyse("SELECT 'ünï' FORM t")).toMatchObject({
      failure: { message: 'syntax error at or near "t"', position: 19 },
    });
  });

  it('classifies statement kinds it does not know as unknown, so new syntax fails closed', () => {
    expect(one('CREATE PUBLICATION p FOR ALL TABLES').class).toBe('admin');
    expect(analyseNode({ FutureStmt: { relation: { relname: 't' } } }, 'FUTURE t')).toMatchObject({
      class: 'unknown',
      command: 'FUTURE',
    });
  });
});
