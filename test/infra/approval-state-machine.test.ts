import aslValidator from 'asl-validator';
import { Template } from 'aws-cdk-lib/assertions';
import { ApprovalErrors, ApprovalStates } from '../../infra/approvals/approval-definition';
import { approvalTestStack, MAX_TIMEOUT } from './support/approval-stack';
import { ENTERED_TIME, LocalApprovalExecution, TASK_TOKEN } from './support/local-approval-execution';
import { type SynthesizedTemplate, stateMachineDefinition } from './support/state-machine-definition';

// Synthesized once for the whole file; every execution below runs this very definition.
const test = approvalTestStack();
const template = Template.fromStack(test.stack).toJSON() as SynthesizedTemplate;
const definition = stateMachineDefinition(template);
const tableName = test.stack.resolve(test.workflow.table.tableName) as { Ref: string };

type State = Record<string, unknown>;
const states = definition.States as Record<string, State>;
function state(name: string): State {
  const found = states[name];
  if (!found) throw new Error(`no state ${name}`);
  return found;
}

const REQUEST = 'apr-0123456789abcdef';
const EXPIRES_AT = '1893456000';

/** The outcome item PutItem would write, as DynamoDB JSON. */
function outcomeItem(state: string): Record<string, unknown> {
  return {
    TableName: tableName.Ref,
    Item: {
      pk: { S: `request#${REQUEST}` },
      sk: { S: 'outcome' },
      body: { S: JSON.stringify({ request: REQUEST, state, time: ENTERED_TIME }) },
      expiresAt: { N: EXPIRES_AT },
    },
    ConditionExpression: 'attribute_not_exists(pk)',
  };
}

function start(options: Partial<ConstructorParameters<typeof LocalApprovalExecution>[1]> = {}) {
  return new LocalApprovalExecution(definition, {
    input: { requestId: REQUEST, timeoutSeconds: 60 },
    storedExpiresAt: EXPIRES_AT,
    ...options,
  });
}

describe('approval state machine definition', () => {
  it('is valid Amazon States Language', () => {
    const { isValid, errorsText } = aslValidator(definition);
    expect(errorsText('\n')).toBe('');
    expect(isValid).toBe(true);
  });

  it('is written in JSONPath throughout, so it runs locally', () => {
    expect(JSON.stringify(definition)).not.toContain('JSONata');
    expect(definition.QueryLanguage ?? 'JSONPath').toBe('JSONPath');
  });

  it('waits for the task token with the timeout from the input and no heartbeat', () => {
    const notify = state(ApprovalStates.notify);
    expect(notify.Resource).toBe('arn:aws:states:::lambda:invoke.waitForTaskToken');
    expect(notify.Parameters).toEqual({
      FunctionName: expect.stringMatching(/^arn:aws:lambda:.*:function:ApprovalsNotifyFunction/),
      Payload: { 'taskToken.$': '$$.Task.Token', 'requestId.$': '$.requestId' },
    });
    expect(notify.TimeoutSecondsPath).toBe('$.timeoutSeconds');
    expect(notify).not.toHaveProperty('TimeoutSeconds');
    expect(notify).not.toHaveProperty('HeartbeatSeconds');
    expect(notify.Catch).toEqual([
      { ErrorEquals: ['States.Timeout'], ResultPath: '$.error', Next: ApprovalStates.timedOut },
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: ApprovalStates.failed },
    ]);
  });

  it('refuses timeouts above maxTimeout before notifying anyone', () => {
    const check = JSON.stringify(state(ApprovalStates.check));
    expect(check).toContain(`"NumericLessThanEquals":${MAX_TIMEOUT.toSeconds()}`);
  });
});

describe('approval state machine execution', () => {
  it('records approved when the decide function sends an approval', async () => {
    // GIVEN a stored request and a running execution
    const run = start();
    // WHEN notify is invoked and the decision arrives with its token
    const { taskToken, requestId } = await run.notified;
    run.sendTaskSuccess(taskToken, { verdict: 'approved', by: ['alice', 'bob'] });
    const end = await run.finished;
    // THEN the request was read, the approvers notified once, and the outcome recorded once
    expect({ taskToken, requestId }).toEqual({ taskToken: TASK_TOKEN, requestId: REQUEST });
    expect(run.reads).toEqual([
      {
        TableName: tableName.Ref,
        Key: { pk: { S: `request#${REQUEST}` }, sk: { S: 'request' } },
        ConsistentRead: true,
        ProjectionExpression: 'expiresAt',
      },
    ]);
    expect(run.notifications).toHaveLength(1);
    expect(run.writes).toEqual([outcomeItem('approved')]);
    expect(end).toEqual({
      status: 'succeeded',
      output: expect.objectContaining({
        decision: { verdict: 'approved', by: ['alice', 'bob'] },
        outcome: { request: REQUEST, state: 'approved', time: ENTERED_TIME },
      }),
    });
  });

  it('records denied when the decide function sends a denial', async () => {
    const run = start();
    run.sendTaskSuccess((await run.notified).taskToken, { verdict: 'denied', by: ['carol'] });
    const end = await run.finished;
    expect(run.writes).toEqual([outcomeItem('denied')]);
    expect(end.status).toBe('succeeded');
  });

  it('records timed-out when no decision arrives within timeoutSeconds', async () => {
    // GIVEN the shortest timeout; notify succeeds but nobody ever decides
    const run = start({ input: { requestId: REQUEST, timeoutSeconds: 1 } });
    await run.notified;
    // WHEN the task's own timeout expires
    const end = await run.finished;
    // THEN the outcome is timed-out and the execution still succeeds (it did its job)
    expect(run.writes).toEqual([outcomeItem('timed-out')]);
    expect(end).toEqual({
      status: 'succeeded',
      output: expect.objectContaining({ error: expect.objectContaining({ Error: 'States.Timeout' }) }),
    });
  });

  it('records failed and fails the execution when notify fails', async () => {
    const run = start({
      notifyError: Object.assign(new Error('nobody reachable'), { name: 'NotifyFailed' }),
    });
    const end = await run.finished;
    expect(run.writes).toEqual([outcomeItem('failed')]);
    expect(end).toEqual({ status: 'failed', error: ApprovalErrors.failed, cause: expect.any(String) });
  });

  it('retries notify while Lambda throttles it', async () => {
    const run = start({ notifyThrottles: 2 });
    run.sendTaskSuccess((await run.notified).taskToken, { verdict: 'approved', by: ['alice'] });
    await run.finished;
    expect(run.notifications).toHaveLength(3);
    expect(run.writes).toEqual([outcomeItem('approved')]);
  });

  it('records failed when the decision carries no known verdict', async () => {
    const run = start();
    run.sendTaskSuccess((await run.notified).taskToken, { by: ['mallory'] });
    const end = await run.finished;
    expect(run.writes).toEqual([outcomeItem('failed')]);
    expect(end.status).toBe('failed');
  });

  it('records failed without notifying when timeoutSeconds exceeds maxTimeout', async () => {
    const run = start({ input: { requestId: REQUEST, timeoutSeconds: MAX_TIMEOUT.toSeconds() + 1 } });
    const end = await run.finished;
    expect(run.notifications).toEqual([]);
    expect(run.writes).toEqual([outcomeItem('failed')]);
    expect(end.status).toBe('failed');
  });

  it('stops without notifying or recording when the request is not in the table', async () => {
    const run = start({ storedExpiresAt: undefined });
    const end = await run.finished;
    expect(run.notifications).toEqual([]);
    expect(run.writes).toEqual([]);
    expect(end).toEqual({
      status: 'failed',
      error: ApprovalErrors.unknownRequest,
      cause: expect.any(String),
    });
  });
});
