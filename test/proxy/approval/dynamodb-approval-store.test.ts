import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { type ApprovalRequest, approvalBinding } from '../../../core/approval/approval';
import { decisionItem, notificationItem, outcomeItem } from '../../../core/approval/approval-items';
import { ApprovalDesk } from '../../../fargate-proxy/src/approval/approval-desk';
import { DynamoDbApprovalStore } from '../../../fargate-proxy/src/approval/dynamodb-approval-store';
import { WorkflowNotifier } from '../../../fargate-proxy/src/approval/workflow-notifier';
import { startDynalite, type TestDynamoDb } from '../../support/dynalite';

const RULE = {
  approvers: ['alice', 'bob'],
  needed: 1,
  timeoutMs: 60_000,
  coverage: { kind: 'once' as const },
  wait: true,
};

const CASE = {
  issuer: 'https://token.actions.githubusercontent.com',
  subject: 'repo:acme/app:ref:refs/heads/main',
  database: 'prod',
  text: 'DROP TABLE sessions',
  parameters: [],
  grant: 'migrations',
  rule: 'drops',
  reason: 'dropping a table needs a DBA',
  shown: 'DROP TABLE sessions',
  approval: RULE,
  excluded: [],
  contacts: { alice: { email: 'alice@example.com' }, bob: { slack: 'U0BOB' } },
};

/**
 * The approvals table as the gateway uses it on AWS, against dynalite: a request and its binding, the
 * decisions and notifications the approval functions write, once-only use and cancellation; and the
 * desk over it, starting the workflow once per request.
 */
describe('DynamoDbApprovalStore', () => {
  let dynamo: TestDynamoDb;
  let table: string;
  let store: DynamoDbApprovalStore;
  const sfn = mockClient(SFNClient);

  beforeAll(async () => {
    dynamo = await startDynalite();
    table = await dynamo.createTable(undefined, { sortKey: 'sk' });
    store = new DynamoDbApprovalStore(dynamo.client, table);
  });

  afterAll(async () => {
    sfn.restore();
    await dynamo.stop();
  });

  beforeEach(() => sfn.reset());

  async function write(item: { pk: string; sk: string; body?: string; expiresAt: number }): Promise<void> {
    await dynamo.client.send(
      new PutItemCommand({
        TableName: table,
        Item: {
          pk: { S: item.pk },
          sk: { S: item.sk },
          expiresAt: { N: String(item.expiresAt) },
          ...(item.body ? { body: { S: item.body } } : {}),
        },
      }),
    );
  }

  function desk(now = Date.now): ApprovalDesk {
    return new ApprovalDesk(
      store,
      new WorkflowNotifier(
        new SFNClient({ region: 'us-east-1' }),
        'arn:aws:states:us-east-1:111111111111:stateMachine:approvals',
      ),
      10,
      now,
    );
  }

  it('opens a request, starts its workflow once, and finds it by its exact statement', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:x' });
    const outcome = await desk().decide(CASE);
    expect(outcome).toMatchObject({ allowed: false, pending: true, opened: true });
    const request = outcome.request;
    const start = sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input;
    expect(start).toMatchObject({ name: request.id });
    expect(JSON.parse(start.input!)).toEqual({ requestId: request.id, timeoutSeconds: 60 });
    // The same statement again names the same request and starts nothing.
    const again = await desk().decide(CASE);
    expect(again.request.id).toBe(request.id);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
    expect((await store.recordsFor(request.binding)).map((r) => r.request.id)).toEqual([request.id]);
  });

  it('sees the decisions and notifications the functions write, and uses a once-only approval once', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:x' });
    const statement = { ...CASE, text: 'DROP TABLE audit_old', shown: 'DROP TABLE audit_old' };
    const { request } = await desk().decide(statement);
    await write(notificationItem(request, { request: request.id, channel: 'email', to: 'alice', time: 1 }));
    await write(
      decisionItem(request, {
        request: request.id,
        approver: 'bob',
        verdict: 'approved',
        channel: 'slack',
        time: request.requested + 1,
      }),
    );
    const record = await store.record(request.id);
    expect(record?.notifications).toEqual([{ request: request.id, channel: 'email', to: 'alice', time: 1 }]);
    expect(record?.decisions.map((d) => d.approver)).toEqual(['bob']);
    const allowed = await desk().decide(statement);
    expect(allowed).toMatchObject({ allowed: true, by: ['bob'] });
    // Used: the next run of the same statement needs a new approval.
    const next = await desk().decide(statement);
    expect(next).toMatchObject({ allowed: false, opened: true });
    expect(next.request.id).not.toBe(request.id);
    expect(await store.use(request)).toBe(false);
  });

  it('withdraws a request once, and refuses a denied statement naming who denied', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:x' });
    const statement = { ...CASE, text: 'DROP TABLE cache', shown: 'DROP TABLE cache' };
    const { request } = await desk().decide(statement);
    await desk().cancel(request.id);
    expect((await store.record(request.id))?.cancelled).toEqual(expect.any(Number));
    const held = await desk().decideHeld(request.id);
    expect(held).toMatchObject({ allowed: false, state: 'cancelled' });
    const denied = await desk().decide({ ...statement, text: 'DROP TABLE cache2', shown: 'x' });
    await write(
      decisionItem(denied.request as ApprovalRequest, {
        request: denied.request.id,
        approver: 'alice',
        verdict: 'denied',
        channel: 'email',
        time: denied.request.requested + 1,
      }),
    );
    const refused = await desk().decideHeld(denied.request.id);
    expect(refused).toMatchObject({ allowed: false, state: 'denied' });
    expect(refused && !refused.allowed && refused.refusal.message).toMatch(/^approval denied by alice/);
  });

  it('withdraws the request when its workflow cannot start, and tolerates a start that already happened', async () => {
    sfn.on(StartExecutionCommand).rejects(new Error('ServiceUnavailable'));
    const statement = { ...CASE, text: 'DROP TABLE orphan', shown: 'DROP TABLE orphan' };
    await expect(desk().decide(statement)).rejects.toThrow('ServiceUnavailable');
    const [record] = await store.recordsFor(approvalBinding(statement));
    expect(record?.cancelled).toEqual(expect.any(Number));
    sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));
    await expect(desk().decide({ ...statement, text: 'DROP TABLE twice' })).resolves.toMatchObject({
      opened: true,
    });
  });

  it('gives up on a request whose workflow failed to notify anyone, and asks anew on a retry', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:x' });
    const statement = { ...CASE, text: 'DROP TABLE unheard', shown: 'DROP TABLE unheard' };
    const { request } = await desk().decide(statement);
    await write(
      outcomeItem(request, { request: request.id, state: 'failed', time: '2026-11-23T10:00:00.000Z' }),
    );
    const held = await desk().decideHeld(request.id);
    expect(held).toMatchObject({ allowed: false, pending: false, refusal: { sqlstate: '58000' } });
    await expect(desk().decided(request.id, () => false)).resolves.toBeUndefined();
    const retried = await desk().decide(statement);
    expect(retried).toMatchObject({ opened: true });
    expect(retried.request.id).not.toBe(request.id);
  });
});
