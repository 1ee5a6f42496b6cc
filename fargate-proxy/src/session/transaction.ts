import type { StatementAnalysis } from '../../../core/sql/analysis';
import { type CommitPoint, commitPointOf, transactionEffect } from '../../../core/sql/commit-point';

const IDLE = 0x49; // 'I'

/**
 * The client's transaction as the server will see it, above the statements: whether the next
 * statement passed on runs inside a transaction block, and where each statement's work is committed
 * (see CommitPoint). Pure: the conversation tells it what it passes on, ServerReplies what the server
 * answered.
 *
 * The server's ReadyForQuery says where the transaction is, but only once everything before it is
 * answered; a client that sends BEGIN and its next statement without waiting is already in a block
 * when the second is judged. So the state is the server's last word when nothing is outstanding,
 * and otherwise the last word carried forward over what was passed on since (BEGIN opens a block,
 * COMMIT and ROLLBACK end it). An error inside a block is known only from the server.
 */
export class Transaction {
  private block = false;
  /** Prepared statements' analyses by name, for their executions (Parse to Close). */
  private readonly prepared = new Map<string, readonly StatementAnalysis[] | undefined>();
  /** Portals' prepared statement names, from their Binds. */
  private readonly portals = new Map<string, string>();

  /** Whether the next statement runs inside a transaction block (open or failed). */
  get inBlock(): boolean {
    return this.block;
  }

  /** Where the work of a simple Query commits, if it is passed on now. */
  queryCommitPoint(statements: readonly StatementAnalysis[] | undefined): CommitPoint {
    return commitPointOf(statements, 'simple', this.block);
  }

  /** A simple Query is passed on. */
  query(statements: readonly StatementAnalysis[] | undefined): void {
    this.follow(statements);
  }

  /** A Parse is passed on: its analysis is kept for the executions of the statement. */
  parse(name: string, statements: readonly StatementAnalysis[] | undefined): void {
    this.prepared.set(name, statements);
  }

  bind(portal: string, statementName: string): void {
    this.portals.set(portal, statementName);
  }

  /** Where the work of an Execute of `portal` commits, if it is passed on now ('unheld' when its statement is unknown). */
  executeCommitPoint(portal: string): CommitPoint {
    return commitPointOf(this.statementsOf(portal), 'extended', this.block);
  }

  /** An Execute of `portal` is passed on. */
  execute(portal: string): void {
    this.follow(this.statementsOf(portal));
  }

  private statementsOf(portal: string): readonly StatementAnalysis[] | undefined {
    const name = this.portals.get(portal);
    return name === undefined ? undefined : this.prepared.get(name);
  }

  close(kind: 'S' | 'P', name: string): void {
    if (kind === 'S') this.prepared.delete(name);
    else this.portals.delete(name);
  }

  /** The server's ReadyForQuery; `settled`: nothing else passed on is waiting for an answer. */
  ready(status: number, settled: boolean): void {
    if (!settled) return;
    this.block = status !== IDLE;
    // Portals end with their transaction (Map.clear allocates: only when there is something to clear).
    if (!this.block && this.portals.size > 0) this.portals.clear();
  }

  private follow(statements: readonly StatementAnalysis[] | undefined): void {
    if (statements === undefined) return;
    for (const statement of statements) {
      const effect = transactionEffect(statement);
      if (effect === 'opens' || effect === 'ends-and-opens') this.block = true;
      else if (effect === 'ends') this.block = false;
    }
  }
}
