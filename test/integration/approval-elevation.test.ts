import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import type { StatementRecord } from '../../core/audit/records';
import { LocalApprovalStore } from '../../fargate-proxy/src/approval/local-approval-store';
import { storedRecords } from '../support/audit-records';
import { testHome, testUpstream } from '../support/environment';
import { connectThrough, startTestGateway, type TestGateway } from '../support/gateway';
import { writeTestPolicy } from '../support/test-policy';

const POLICY = `version: 1
identities:
  deployer: { issuer: local, claims: { sub: deployer } }
  other-job: { issuer: local, claims: { sub: other-job } }
  nobody: { issuer: local, claims: { sub: nobody-at-all } }
approvers:
  alice: { email: alice@example.com }
grants:
  - name: ci
    to: [deployer, other-job]
    searchPath: any
    allow: [read, write, session, transaction]
    relations: { read: ["*"], write: ["*"] }
    rules:
      - name: writes-need-an-elevation
        decision: approve
        reason: this job writes only with a DBA's elevation
        when: { classes: [write] }
        approval: { approvers: [alice], timeoutSeconds: 60, covers: { elevate: ci-writes, minutes: 10 } }
  - name: ci-writes
    to: [nobody]
    searchPath: any
    allow: [read, write, session, transaction]
    relations: { read: ["*"], write: ["*"] }
`;

/**
 * A time-boxed elevation: the first write of a job that may write only with approval waits for it;
 * once approved, the job's statements on that database are decided by the elevated grant for the
 * approval's window, in this session and in its other sessions, each naming the approval in the
 * audit trail; another identity gets nothing from it.
 */
describe('approval covering a time-boxed elevation of the grant', () => {
  let gateway: TestGateway;
  let directory: string;
  let auditDirectory: string;

  const connect = (subject: string): Promise<Client> => connectThrough(gateway, subject);

  beforeAll(async () => {
    directory = mkdtempSync(path.join(testHome(), 'elevation-'));
    auditDirectory = mkdtempSync(path.join(testHome(), 'elevation-audit-'));
    gateway = await startTestGateway({
      policy: { file: writeTestPolicy(POLICY) },
      approvals: { directory, pollMs: 50 },
      audit: { directory: auditDirectory },
    });
    const setup = new Client({ ...testUpstream(), database: 'postgres' });
    await setup.connect();
    await setup.query(
      'CREATE TABLE IF NOT EXISTS elevated_a (id int); CREATE TABLE IF NOT EXISTS elevated_b (id int)',
    );
    await setup.end();
  });

  afterAll(async () => {
    await gateway?.stop();
  });

  it('runs the held write on approval, then decides by the elevated grant for its window', async () => {
    const store = new LocalApprovalStore(directory);
    const first = await connect('deployer');
    const second = await connect('deployer');
    const other = await connect('other-job');
    try {
      const held = first.query('INSERT INTO elevated_a VALUES (1)');
      let request = store.requests()[0];
      for (let i = 0; i < 100 && !request; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        request = store.requests()[0];
      }
      expect(request).toMatchObject({
        coverage: { kind: 'elevation', grant: 'ci-writes', minutes: 10 },
        text: 'INSERT INTO elevated_a VALUES (1)',
      });
      store.decide({
        request: request!.id,
        approver: 'alice',
        verdict: 'approved',
        channel: 'cli',
        time: Date.now() * 1000,
      });
      await expect(held).resolves.toMatchObject({ rowCount: 1 });
      // Other writes pass now, without a new request: in this session and in another of the same job.
      await first.query('INSERT INTO elevated_b VALUES (2)');
      await expect(second.query('DELETE FROM elevated_a WHERE id = 1')).resolves.toMatchObject({
        rowCount: 1,
      });
      expect(store.requests()).toHaveLength(1);
      // Another identity under the same grant still needs its own approval.
      const otherHeld = other.query('INSERT INTO elevated_b VALUES (3)').catch((error: Error) => error);
      let otherRequest = store.requests().find((r) => r.subject === 'other-job');
      for (let i = 0; i < 100 && !otherRequest; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        otherRequest = store.requests().find((r) => r.subject === 'other-job');
      }
      store.decide({
        request: otherRequest!.id,
        approver: 'alice',
        verdict: 'denied',
        channel: 'cli',
        time: Date.now() * 1000,
      });
      expect(await otherHeld).toMatchObject({
        code: '42501',
        message: expect.stringMatching(/^approval denied/),
      });
      const records = storedRecords(auditDirectory).filter(
        (r): r is StatementRecord => r.type === 'statement' && r.text === 'INSERT INTO elevated_b VALUES (2)',
      );
      expect(records.map((r) => [r.decision, r.approval])).toEqual([
        ['allowed', { id: request!.id, by: ['alice'] }],
      ]);
    } finally {
      await Promise.all([first.end(), second.end(), other.end()]);
    }
  });
});
