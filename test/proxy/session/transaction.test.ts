import { analyse } from '../../../core/sql/analyse';
import type { StatementAnalysis } from '../../../core/sql/analysis';
import { loadParser } from '../../../core/sql/parser';
import { Transaction } from '../../../fargate-proxy/src/session/transaction';

beforeAll(() => loadParser());

function statements(sql: string): readonly StatementAnalysis[] {
  const result = analyse(sql);
  if (!result.ok) throw new Error(`does not parse: ${sql}`);
  return result.analysis.statements;
}

const IDLE = 0x49;
const IN_BLOCK = 0x54;
const FAILED = 0x45;

describe('Transaction', () => {
  it('is in a block as soon as BEGIN is passed on, before the server answers', () => {
    const transaction = new Transaction();
    expect(transaction.query(statements('BEGIN'))).toBe('block-commit');
    expect(transaction.inBlock).toBe(true);
    // The client sends its next statement without waiting: it commits at the block's COMMIT.
    expect(transaction.query(statements('UPDATE t SET x = 1'))).toBe('block-commit');
    expect(transaction.query(statements('COMMIT'))).toBe('own-message');
    expect(transaction.inBlock).toBe(false);
    expect(transaction.query(statements('UPDATE t SET x = 1'))).toBe('query-end');
  });

  it("takes the server's word once nothing else is outstanding, and only then", () => {
    const transaction = new Transaction();
    transaction.query(statements('BEGIN'));
    // BEGIN's own answer arrives while a later ROLLBACK is still on its way: no change.
    transaction.query(statements('ROLLBACK'));
    transaction.ready(IN_BLOCK, false);
    expect(transaction.inBlock).toBe(false);
    transaction.ready(IDLE, true);
    expect(transaction.inBlock).toBe(false);
    // A failed block is still a block (the server waits for its ROLLBACK).
    transaction.ready(FAILED, true);
    expect(transaction.inBlock).toBe(true);
  });

  it('keeps the block open after COMMIT AND CHAIN', () => {
    const transaction = new Transaction();
    transaction.query(statements('BEGIN'));
    expect(transaction.query(statements('COMMIT AND CHAIN'))).toBe('own-message');
    expect(transaction.inBlock).toBe(true);
  });

  it('follows executions of prepared statements through their portals', () => {
    const transaction = new Transaction();
    transaction.parse('begin', statements('BEGIN'));
    transaction.parse('', statements('INSERT INTO t VALUES ($1)'));
    transaction.bind('', '');
    expect(transaction.execute('')).toBe('sync');
    transaction.bind('p', 'begin');
    expect(transaction.execute('p')).toBe('block-commit');
    expect(transaction.inBlock).toBe(true);
    transaction.bind('', '');
    expect(transaction.execute('')).toBe('block-commit');
    transaction.parse('commit', statements('COMMIT'));
    transaction.bind('', 'commit');
    expect(transaction.execute('')).toBe('own-message');
    expect(transaction.inBlock).toBe(false);
    // A portal or statement the transaction has not seen (closed, or never bound) holds nothing.
    transaction.close('S', 'begin');
    transaction.bind('q', 'begin');
    expect(transaction.execute('q')).toBe('unheld');
    expect(transaction.execute('never-bound')).toBe('unheld');
  });
});
