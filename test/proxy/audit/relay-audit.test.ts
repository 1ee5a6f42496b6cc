import type { RecordBody, StatementRecord } from '../../../core/audit/records';
import { RelayAudit, type Spool } from '../../../fargate-proxy/src/audit/relay-audit';
import { StatementTracker } from '../../../fargate-proxy/src/audit/statement-tracker';
import { BackendCode } from '../../../fargate-proxy/src/protocol/codes';
import { typed } from '../../support/wire';

/** A spool that counts what it is asked to do; records are "pending" until flushed. */
class CountingSpool implements Spool {
  awaitingServer = 0;
  pending = 0;
  flushes = 0;
  deferred = 0;
  get hasPending(): boolean {
    return this.pending > 0;
  }
  flush(): void {
    this.flushes++;
    this.pending = 0;
  }
  afterFlush(): void {
    this.deferred++;
  }
}

const commandComplete = typed('C', Buffer.from('SELECT 1\0'));
const readyForQuery = typed('Z', Buffer.from('I'));

function session(spool: CountingSpool): RelayAudit {
  const tracker = new StatementTracker((_record: RecordBody<StatementRecord>) => {
    spool.pending++;
  });
  return new RelayAudit(tracker, spool);
}

/** The session sends a query and the server completes it: its record is made when the result goes out. */
function runQuery(audit: RelayAudit): void {
  audit.query('SELECT 1', { decision: 'allowed' }, 14);
  audit.serverMessage(BackendCode.CommandComplete, commandComplete);
}

describe('RelayAudit: adaptive group commit', () => {
  it('writes the spool at once when no other session waits for the server (nobody could share the write)', () => {
    const spool = new CountingSpool();
    const alone = session(spool);
    runQuery(alone);
    expect(spool.awaitingServer).toBe(1);
    // The result may go out now: its record was written before toClient returned.
    expect(alone.toClient(commandComplete)).toBe(false);
    expect(spool.flushes).toBe(1);
    expect(spool.pending).toBe(0);
    alone.serverMessage(BackendCode.ReadyForQuery, readyForQuery);
    expect(spool.awaitingServer).toBe(0);
  });

  it('waits for the group commit when another session has a statement at the server', () => {
    const spool = new CountingSpool();
    const first = session(spool);
    const second = session(spool);
    second.query('SELECT 2', { decision: 'allowed' }, 14);
    runQuery(first);
    expect(spool.awaitingServer).toBe(2);
    expect(first.toClient(commandComplete)).toBe(true);
    expect(spool.flushes).toBe(0);
    expect(spool.pending).toBe(1);
    // Once the other session is answered and closed, the first one is alone again.
    second.close('client closed');
    expect(spool.awaitingServer).toBe(1);
  });

  it('stops counting a session once it closes, even with a batch still open', () => {
    const spool = new CountingSpool();
    const audit = session(spool);
    audit.query('SELECT pg_sleep(10)', { decision: 'allowed' }, 30);
    expect(spool.awaitingServer).toBe(1);
    audit.close('killed');
    expect(spool.awaitingServer).toBe(0);
    audit.serverMessage(BackendCode.ReadyForQuery, readyForQuery);
    expect(spool.awaitingServer).toBe(0);
  });
});
