import { analyse } from '../../../core/sql/analyse';
import type { StatementAnalysis } from '../../../core/sql/analysis';
import { type CommitPoint, commitPointOf } from '../../../core/sql/commit-point';
import { loadParser } from '../../../core/sql/parser';

beforeAll(() => loadParser());

function statements(sql: string): readonly StatementAnalysis[] {
  const result = analyse(sql);
  if (!result.ok) throw new Error(`does not parse: ${sql}`);
  return result.analysis.statements;
}

/** Where the server commits each statement's work; see integration/commit-point.test.ts for the proof. */
const CASES: Array<[sql: string, protocol: 'simple' | 'extended', inBlock: boolean, expected: CommitPoint]> =
  [
    ['INSERT INTO t VALUES (1)', 'simple', false, 'query-end'],
    ['INSERT INTO t VALUES (1); UPDATE t SET x = 2', 'simple', false, 'query-end'],
    ['INSERT INTO t VALUES (1)', 'extended', false, 'sync'],
    ['INSERT INTO t VALUES (1)', 'simple', true, 'block-commit'],
    ['INSERT INTO t VALUES (1)', 'extended', true, 'block-commit'],
    ['SAVEPOINT a', 'simple', true, 'block-commit'],
    ['BEGIN', 'simple', false, 'block-commit'],
    ['START TRANSACTION ISOLATION LEVEL SERIALIZABLE', 'extended', false, 'block-commit'],
    ['COMMIT', 'simple', true, 'own-message'],
    ['END', 'extended', true, 'own-message'],
    ['COMMIT AND CHAIN', 'extended', true, 'own-message'],
    ['ROLLBACK', 'simple', true, 'own-message'],
    ["PREPARE TRANSACTION 'tx1'", 'simple', true, 'own-message'],
    ["COMMIT PREPARED 'tx1'", 'simple', false, 'unheld'],
    ['BEGIN; INSERT INTO t VALUES (1); COMMIT', 'simple', false, 'unheld'],
    ['INSERT INTO t VALUES (1); COMMIT', 'simple', true, 'unheld'],
    ['VACUUM t', 'simple', false, 'unheld'],
    ['CREATE DATABASE d', 'simple', false, 'unheld'],
    ['ALTER SYSTEM SET work_mem = 1', 'simple', false, 'unheld'],
    ['CREATE INDEX CONCURRENTLY i ON t (x)', 'extended', false, 'unheld'],
    ['ALTER TABLE t DETACH PARTITION p CONCURRENTLY', 'simple', false, 'unheld'],
    ["SELECT nextval('s')", 'extended', true, 'unheld'],
    ["INSERT INTO t VALUES (setval('s', 5))", 'simple', false, 'unheld'],
    ["SELECT dblink_exec('x', 'DELETE FROM t')", 'simple', false, 'unheld'],
    ['CALL p()', 'simple', false, 'unheld'],
    ['DO $$ BEGIN COMMIT; END $$', 'simple', false, 'unheld'],
    ['SELECT 1', 'simple', false, 'query-end'],
  ];

describe('commitPointOf', () => {
  it.each(CASES)('%s (%s, in a block: %s) commits at %s', (sql, protocol, inBlock, expected) => {
    expect(commitPointOf(statements(sql), protocol, inBlock)).toBe(expected);
  });

  it('holds nothing of a statement it does not know', () => {
    expect(commitPointOf(undefined, 'simple', false)).toBe('unheld');
    expect(commitPointOf([], 'extended', true)).toBe('unheld');
  });
});
