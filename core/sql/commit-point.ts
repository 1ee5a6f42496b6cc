import type { StatementAnalysis } from './analysis';

/**
 * Where the server commits (or, for ROLLBACK, ends) the work of a statement it is sent, and so the
 * last point at which the gateway can hold that work back (the durability of strict audit records
 * waits there):
 *
 * - `own-message`: the statement ends the transaction itself (COMMIT, END, COMMIT AND CHAIN,
 *   PREPARE TRANSACTION, ROLLBACK): at its own message, not at the Sync after it.
 * - `query-end`: a simple Query outside a block: its statements run in one implicit transaction,
 *   committed when the Query string ends.
 * - `sync`: an extended-protocol execution outside a block: the implicit transaction commits at the
 *   next Sync.
 * - `block-commit`: inside a transaction block: at the block's own COMMIT, a later statement.
 * - `unheld`: no commit point can be held: the effect is done as the statement runs (statements that
 *   cannot run in a transaction block, sequence functions, dblink, procedures and DO blocks that may
 *   commit themselves), a Query string that controls transactions among other statements, or a
 *   statement the analysis does not know.
 */
export type CommitPoint = 'own-message' | 'query-end' | 'sync' | 'block-commit' | 'unheld';

/** What a statement does to the transaction around it. */
export type TransactionEffect = 'opens' | 'ends' | 'ends-and-opens' | 'none';

/**
 * Commands that run outside any transaction block (PostgreSQL refuses them inside one). CLUSTER and
 * REINDEX only in some forms: taken whole, on the safe side.
 */
const OUTSIDE_ANY_BLOCK = new Set([
  'VACUUM',
  'CREATE DATABASE',
  'DROP DATABASE',
  'CREATE TABLESPACE',
  'DROP TABLESPACE',
  'ALTER SYSTEM',
  'COMMIT PREPARED',
  'ROLLBACK PREPARED',
  'CREATE SUBSCRIPTION',
  'ALTER SUBSCRIPTION',
  'DROP SUBSCRIPTION',
  'CLUSTER',
  'REINDEX',
]);

/** Commands that may commit on their own, in the middle of what they run. */
const SELF_COMMITTING = new Set(['CALL', 'DO']);

/** Functions whose effect is done when they run, whatever becomes of the transaction. */
const NON_TRANSACTIONAL_FUNCTIONS =
  /^(nextval|setval|dblink.*|pg_logical_emit_message|pg_terminate_backend|pg_cancel_backend|pg_reload_conf|pg_switch_wal|pg_create_restore_point)$/;

/** `… AND CHAIN`: the next transaction starts at once, with the same characteristics. */
const AND_CHAIN = /\band\s+chain\b/i;

export function transactionEffect(statement: StatementAnalysis): TransactionEffect {
  switch (statement.command) {
    case 'BEGIN':
    case 'START':
      return 'opens';
    case 'COMMIT':
    case 'ROLLBACK':
      return AND_CHAIN.test(statement.text) ? 'ends-and-opens' : 'ends';
    case 'PREPARE':
      return 'ends';
    default:
      return 'none';
  }
}

/** Whether the statement's effect is done as it runs, out of reach of any commit point. */
export function isUnheld(statement: StatementAnalysis): boolean {
  if (OUTSIDE_ANY_BLOCK.has(statement.command) || SELF_COMMITTING.has(statement.command)) return true;
  if (statement.opaque.length > 0 && statement.class === 'unknown') return true;
  // CREATE INDEX, REINDEX, DROP INDEX, DETACH PARTITION … CONCURRENTLY commit on their own.
  if (statement.class !== 'read' && /\bconcurrently\b/i.test(statement.text)) return true;
  return statement.functions.some((f) => NON_TRANSACTIONAL_FUNCTIONS.test(f.name.toLowerCase()));
}

/**
 * The commit point of one execution: the statements of a Query string (protocol `simple`) or the one
 * statement of a portal (`extended`), given whether the server is inside a transaction block when it
 * gets them. `undefined` statements: the analysis does not know them.
 */
export function commitPointOf(
  statements: readonly StatementAnalysis[] | undefined,
  protocol: 'simple' | 'extended',
  inBlock: boolean,
): CommitPoint {
  if (!statements || statements.length === 0) return 'unheld';
  if (statements.some(isUnheld)) return 'unheld';
  const effects = statements.map(transactionEffect);
  if (effects.some((effect) => effect !== 'none')) {
    // One statement ending the transaction commits at its own message; a Query string mixing
    // transaction control with other statements cannot be held part way.
    if (statements.length > 1) return 'unheld';
    if (effects[0] === 'ends' || effects[0] === 'ends-and-opens') return 'own-message';
    // BEGIN and START do no work of their own: what follows them commits at the block's COMMIT.
    return 'block-commit';
  }
  if (inBlock) return 'block-commit';
  return protocol === 'simple' ? 'query-end' : 'sync';
}
