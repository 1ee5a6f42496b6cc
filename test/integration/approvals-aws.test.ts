import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { SendTaskSuccessCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { Client } from 'pg';
import type { ApprovalEmail } from '../../core/approval/approval-email';
import type { ApprovalEventRecord } from '../../core/audit/records';
import { createDecideHandler } from '../../functions/approval-decide/handler';
import { createNotifyHandler } from '../../functions/approval-notify/handler';
import { ApprovalTable } from '../../functions/shared/approval-table';
import { createLogger } from '../../functions/shared/logger';
import { formEvent, getEvent, LINK_BASE, localMac } from '../functions/approval-fixtures';
import { storedRecords } from '../support/audit-records';
import { startDynalite, type TestDynamoDb } from '../support/dynalite';
import { testHome, testIssuer } from '../support/environment';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { writeTestPolicy } from '../support/test-policy';

const ssl = { rejectUnauthorized: false };
const STATE_MACHINE = 'arn:aws:states:us-east-1:111111111111:stateMachine:gatehouse-approvals';

const POLICY = `version: 1
identities:
  migrator: { issuer: local, claims: { sub: migrator } }
approvers:
  alice: { email: alice@example.com }
  bob: { email: bob@example.com }
grants:
  - name: migrations
    to: [migrator]
    searchPath: any
    allow: [read, write, ddl, session, transaction]
    relations: { read: ["*"], write: ["*"] }
    rules:
      - name: drops-need-a-dba
        decision: approve
        reason: dropping a table needs a DBA
        when: { commands: [DROP TABLE] }
        approval: { approvers: [alice, bob], timeoutSeconds: 60 }
`;

/**
 * The AWS approval flow end to end, with everything real that can run here: the gateway holds a
 * statement and opens its request in the approvals table (dynalite) and starts the workflow; the
 * notify function (the workflow's `.waitForTaskToken` step) stores the token and e-mails each
 * approver their own link; the decide function shows the link's page (changing nothing) and records
 * the POSTed decision, then answers the workflow; the gateway sees the decision and runs the
 * statement. Step Functions and SES, which have no emulator, are mocked clients.
 */
describe('approvals on AWS: gateway, table, notify and decide functions', () => {
  let dynamo: TestDynamoDb;
  let gateway: TestGateway;
  let auditDirectory: string;
  const sfn = mockClient(SFNClient);
  const emails: { to: string; email: ApprovalEmail }[] = [];
  let table: ApprovalTable;
  let notify: ReturnType<typeof createNotifyHandler>;
  let decide: ReturnType<typeof createDecideHandler>;
  const quiet = createLogger('error', {}, () => undefined);

  beforeAll(async () => {
    // The gateway's SDK credential chain: the emulator takes any.
    process.env.AWS_ACCESS_KEY_ID ??= 'test';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
    dynamo = await startDynalite();
    const tableName = await dynamo.createTable(undefined, { sortKey: 'sk' });
    table = new ApprovalTable(dynamo.client, tableName);
    notify = createNotifyHandler({
      config: {
        table: tableName,
        linkBase: LINK_BASE,
        linkKeyId: 'alias/links',
        emailFrom: 'gatehouse@example.com',
        slackApiUrl: 'https://slack.invalid/api',
        logLevel: 'error',
      },
      store: table,
      mac: localMac,
      email: { send: async (to, email) => void emails.push({ to, email }) },
      logger: quiet,
    });
    decide = createDecideHandler({
      config: {
        table: tableName,
        linkKeyId: 'alias/links',
        slackResponseUrlPrefix: 'https://hooks.slack.com/',
        logLevel: 'error',
      },
      store: table,
      mac: localMac,
      logger: quiet,
    });
    // The workflow's first step: notify, with the task token Step Functions made for it.
    sfn.on(StartExecutionCommand).callsFake(async (input: { input: string }) => {
      const { requestId } = JSON.parse(input.input);
      await notify({ taskToken: `token-for-${requestId}`, requestId });
      return { executionArn: `${STATE_MACHINE}:${requestId}` };
    });
    sfn.on(SendTaskSuccessCommand).resolves({});
    auditDirectory = mkdtempSync(path.join(testHome(), 'approvals-aws-audit-'));
    gateway = await startTestGateway({
      policy: { file: writeTestPolicy(POLICY) },
      approvals: {
        dynamodb: { table: tableName, endpoint: dynamo.endpoint, region: 'us-east-1' },
        workflow: { stateMachineArn: STATE_MACHINE, region: 'us-east-1' },
        pollMs: 50,
      },
      audit: { directory: auditDirectory },
    });
  });

  afterAll(async () => {
    await gateway?.stop();
    sfn.restore();
    await dynamo?.stop();
  });

  it('holds a DROP TABLE until an approver decides through their e-mailed link', async () => {
    const client = new Client({
      ...gateway.connection('migrator'),
      password: testIssuer().sign({ sub: 'migrator' }, 600),
      ssl,
    });
    client.on('error', () => undefined);
    await client.connect();
    try {
      await client.query('CREATE TABLE aws_held (id int)');
      const running = client.query('DROP TABLE aws_held');
      for (let i = 0; i < 100 && emails.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
      // One message per approver, each with a link only that approver's name is signed into.
      expect(emails.map((e) => e.to).sort()).toEqual(['alice@example.com', 'bob@example.com']);
      const alice = emails.find((e) => e.to === 'alice@example.com')!.email;
      expect(alice.text).toContain('DROP TABLE aws_held');
      const link = /https:\/\/approve\.example\.test\/a\/\S+/.exec(alice.text)![0];
      expect(new URL(link).searchParams.get('as')).toBe('alice');
      const id = decodeURIComponent(new URL(link).pathname.split('/')[2]!);
      // The start named the execution after the request, with the request's own timeout.
      expect(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input).toMatchObject({
        stateMachineArn: STATE_MACHINE,
        name: id,
      });
      // Opening the link (or a scanner fetching it) changes nothing; the statement still waits.
      const page = (await decide(getEvent(link))) as { statusCode: number; body: string };
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('DROP TABLE aws_held');
      expect((await table.record(id))?.decisions).toEqual([]);
      // The POST decides; the workflow is told; the gateway sees the decision and runs the statement.
      const decided = (await decide(formEvent(link, { verdict: 'approve' }))) as { statusCode: number };
      expect(decided.statusCode).toBe(200);
      await expect(running).resolves.toMatchObject({ command: 'DROP' });
      expect(sfn.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input).toEqual({
        taskToken: `token-for-${id}`,
        output: JSON.stringify({ verdict: 'approved', by: ['alice'] }),
      });
      // The audit trail: requested, then approved with the notifications sent and alice's decision.
      const events = storedRecords(auditDirectory).filter(
        (r): r is ApprovalEventRecord => r.type === 'approval' && r.id === id,
      );
      expect(events.map((e) => e.event)).toEqual(['requested', 'approved']);
      expect(events[1]!.notifications?.map((n) => `${n.channel}:${n.to}`).sort()).toEqual([
        'email:alice',
        'email:bob',
      ]);
      expect(events[1]!.decisions).toEqual([
        { approver: 'alice', verdict: 'approved', channel: 'page', time: expect.any(Number) },
      ]);
    } finally {
      await client.end();
    }
  });
});
