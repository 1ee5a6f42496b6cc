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

/** The commit point of a Query passed on now, then passes it on. */
function passQuery(transaction: Transaction, sql: string) {
  const point = transaction.queryCommitPoint(statements(sql));
  transaction.query(statements(sql));
  return point;
}

function passExecute(transaction: Transaction, portal: string) {
  const point = transaction.executeCommitPoint(portal);
  transaction.execute(portal);
  return point;
}

const IDLE = 0x49;
const IN_BLOCK = 0x54;
const FAILED = 0x45;

describe('Transaction', () => {
  it('is in a block as soon as BEGIN is passed on, before the server answers', () => {
    const transaction = new Transaction();
    expect(passQuery(transaction, 'BEGIN')).toBe('block-commit');
    expect(transaction.inBlock).toBe(true);
    // The client sends its next statement without waiting: it commits at the block's COMMIT.
    expect(passQuery(transaction, 'UPDATE t SET x = 1')).toBe('block-commit');
    expect(passQuery(transaction, 'COMMIT')).toBe('own-message');
    expect(transaction.inBlock).toBe(false);
    expect(passQuery(transaction, 'UPDATE t SET x = 1')).toBe('query-end');
  });

  it("takes the server's word once nothing else is outstanding, and only then", () => {
    const transaction = new Transaction();
    passQuery(transaction, 'BEGIN');
    // BEGIN's own answer arrives while a later ROLLBACK is still on its way: no change.
    passQuery(transaction, 'ROLLBACK');
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
    passQuery(transaction, 'BEGIN');
    expect(passQuery(transaction, 'COMMIT AND CHAIN')).toBe('own-message');
    expect(transaction.inBlock).toBe(true);
  });

  it('follows executions of prepared statements through their portals', () => {
    const transaction = new Transaction();
    transaction.parse('begin', statements('BEGIN'));
    transaction.parse('', statements('INSERT INTO t VALUES ($1)'));
    transaction.bind('', '');
    expect(passExecute(transaction, '')).toBe('sync');
    transaction.bind('p', 'begin');
    expect(passExecute(transaction, 'p')).toBe('block-commit');
    expect(transaction.inBlock).toBe(true);
    transaction.bind('', '');
    expect(passExecute(transaction, '')).toBe('block-commit');
    transaction.parse('commit', statements('COMMIT'));
    transaction.bind('', 'commit');
    expect(passExecute(transaction, '')).toBe('own-message');
    expect(transaction.inBlock).toBe(false);
    // A portal or statement the transaction has not seen (closed, or never bound) holds nothing.
    transaction.close('S', 'begin');
    transaction.bind('q', 'begin');
    expect(passExecute(transaction, 'q')).toBe('unheld');
    expect(passExecute(transaction, 'never-bound')).toBe('unheld');
  });
});
