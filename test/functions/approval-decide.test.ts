import { createHmac } from 'node:crypto';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendTaskSuccessCommand, TaskTimedOut } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import type { ApprovalRequest } from '../../core/approval/approval';
import { markerItem, taskItem } from '../../core/approval/approval-items';
import { approvalLink } from '../../core/approval/approval-link';
import { SLACK_APPROVE_ACTION, SLACK_DENY_ACTION } from '../../core/approval/approval-slack';
import { createDecideHandler } from '../../functions/approval-decide/handler';
import { ApprovalTable } from '../../functions/shared/approval-table';
import { createLogger } from '../../functions/shared/logger';
import { startDynalite, type TestDynamoDb } from '../support/dynalite';
import {
  capturedLog,
  fakeKms,
  fakeStepFunctions,
  formEvent,
  functionUrlEvent,
  getEvent,
  LINK_BASE,
  localMac,
  partition,
  recordingServer,
  sampleRequest,
  seedRequest,
} from './approval-fixtures';

const SIGNING_SECRET = 'slack-signing-secret-for-tests';
const TASK_TOKEN = `AQCEAAAAKgAAAA${'x'.repeat(900)}`;

let db: TestDynamoDb;
let tableName: string;
let table: ApprovalTable;
let slackReplies: Awaited<ReturnType<typeof recordingServer>>;
const kms = fakeKms();
const { sfn, failNext } = fakeStepFunctions();
const secrets = mockClient(SecretsManagerClient);
let log: ReturnType<typeof capturedLog>;
let handler: ReturnType<typeof createDecideHandler>;

beforeAll(async () => {
  db = await startDynalite();
  tableName = await db.createTable(undefined, { sortKey: 'sk' });
  table = new ApprovalTable(db.client, tableName);
  slackReplies = await recordingServer(() => ({ status: 200, body: 'ok' }));
});

afterAll(async () => {
  await slackReplies.close();
  await db.stop();
  kms.restore();
  sfn.restore();
  secrets.restore();
});

beforeEach(() => {
  sfn.resetHistory();
  kms.resetHistory();
  slackReplies.requests.length = 0;
  secrets.reset();
  secrets
    .on(GetSecretValueCommand)
    .resolves({ SecretString: JSON.stringify({ botToken: 'xoxb-test', signingSecret: SIGNING_SECRET }) });
  log = capturedLog();
  // The real adapters over mocked KMS, Step Functions and Secrets Manager; the table is dynalite.
  handler = createDecideHandler({
    config: {
      table: tableName,
      linkKeyId: 'alias/gatehouse-links',
      slackSecretId: 'gatehouse/slack',
      slackTeamId: 'T0ACME',
      slackResponseUrlPrefix: `${slackReplies.url}/`,
      logLevel: 'debug',
    },
    store: table,
    logger: createLogger('debug', {}, log.write),
  });
});

/** A request in the table with the workflow's task token stored, as after the notify step. */
async function openRequest(overrides: Partial<ApprovalRequest> = {}): Promise<ApprovalRequest> {
  const request = sampleRequest(overrides);
  await seedRequest(table, request);
  await table.putOnce(taskItem(request, TASK_TOKEN));
  return request;
}

function linkFor(
  request: ApprovalRequest,
  approver: string,
  expires = Math.ceil(request.expires / 1_000_000),
) {
  return approvalLink(LINK_BASE, { requestId: request.id, approver, expires }, localMac);
}

const snapshot = (request: ApprovalRequest) => partition(db, tableName, request.id);
const decisionsIn = async (request: ApprovalRequest) => (await table.record(request.id))?.decisions ?? [];
const taskSuccesses = () => sfn.commandCalls(SendTaskSuccessCommand).map((c) => c.args[0].input);

describe('GET /a/{id}: the confirmation page', () => {
  it('shows the request and two POST forms, with headers that keep it private', async () => {
    // GIVEN a request with a statement holding markup
    const request = await openRequest({ text: "SELECT '<script>alert(1)</script>' FROM t" });
    const link = await linkFor(request, 'alice');
    // WHEN alice opens her link
    const response = await handler(getEvent(link));
    // THEN the page shows the escaped statement and two forms carrying the link's fields
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(response.body).not.toContain('<script>');
    expect(response.body.match(/<form method="post"/g)).toHaveLength(2);
    expect(response.body).toContain(`value="${new URL(link).searchParams.get('sig')}"`);
    expect(response.headers).toMatchObject({
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
      'x-robots-tag': expect.stringContaining('noindex'),
      'content-security-policy': expect.stringContaining("default-src 'none'"),
    });
  });

  it.each([
    ['a browser', 'Mozilla/5.0 (X11; Linux x86_64)'],
    ['Slack’s unfurler', 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)'],
    ['a mail scanner', 'Mozilla/4.0 (compatible; ms-office; MSOffice 16) Safe Links'],
  ])('changes nothing when %s fetches it, even repeatedly', async (_who, userAgent) => {
    const request = await openRequest();
    const link = await linkFor(request, 'alice');
    const before = await snapshot(request);
    for (let i = 0; i < 3; i++)
      expect((await handler(getEvent(link, { 'user-agent': userAgent }))).statusCode).toBe(200);
    for (const method of ['GET', 'HEAD']) {
      const url = new URL(link);
      await handler(functionUrlEvent({ method, path: url.pathname, query: url.search.slice(1) }));
    }
    expect(await snapshot(request)).toBe(before);
    expect(taskSuccesses()).toHaveLength(0);
  });

  it.each<[string, (u: URL) => void]>([
    ['request id', (u) => (u.pathname = u.pathname.replace(/apr-\w+/, 'apr-000000000000'))],
    ['approver', (u) => u.searchParams.set('as', 'bob')],
    ['expiry', (u) => u.searchParams.set('e', String(Number(u.searchParams.get('e')) + 3600))],
    ['signature', (u) => u.searchParams.set('sig', flipFirst(u.searchParams.get('sig') ?? ''))],
  ])('refuses a link whose %s was changed, and changes nothing', async (_what, tamper) => {
    const request = await openRequest();
    const url = new URL(await linkFor(request, 'alice'));
    const before = await snapshot(request);
    tamper(url);
    const response = await handler(getEvent(url.toString()));
    expect(response.statusCode).toBe(403);
    expect(response.body).toContain('This link is not valid');
    expect(await snapshot(request)).toBe(before);
  });

  it('refuses an expired link', async () => {
    const request = await openRequest();
    const link = await linkFor(request, 'alice', Math.floor(Date.now() / 1000) - 1);
    const response = await handler(getEvent(link));
    expect(response.statusCode).toBe(403);
    expect(response.body).toContain('expired');
  });

  it('shows, without buttons, why an approver who already decided cannot decide again', async () => {
    const request = await openRequest({ needed: 2 });
    const link = await linkFor(request, 'alice');
    await handler(formEvent(link, { verdict: 'approve' }));
    const response = await handler(getEvent(link));
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('alice has already decided');
    expect(response.body).not.toContain('<form');
  });
});

describe('POST /a/{id}: deciding by link', () => {
  it('records the approval and tells the workflow {verdict, by}', async () => {
    const request = await openRequest();
    const response = await handler(formEvent(await linkFor(request, 'alice'), { verdict: 'approve' }));
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('You approved the statement');
    expect(await decisionsIn(request)).toEqual([
      expect.objectContaining({
        request: request.id,
        approver: 'alice',
        verdict: 'approved',
        channel: 'page',
      }),
    ]);
    expect(taskSuccesses()).toEqual([
      { taskToken: TASK_TOKEN, output: JSON.stringify({ verdict: 'approved', by: ['alice'] }) },
    ]);
  });

  it('refuses the same link posted again (a replay) and keeps the first decision', async () => {
    const request = await openRequest({ needed: 2 });
    const link = await linkFor(request, 'alice');
    expect((await handler(formEvent(link, { verdict: 'approve' }))).statusCode).toBe(200);
    const replay = await handler(formEvent(link, { verdict: 'deny' }));
    expect(replay.statusCode).toBe(409);
    expect(replay.body).toContain('alice has already decided');
    expect(await decisionsIn(request)).toEqual([
      expect.objectContaining({ approver: 'alice', verdict: 'approved' }),
    ]);
    expect(taskSuccesses()).toHaveLength(0);
  });

  it('lets exactly one of two concurrent POSTs of one link win', async () => {
    const request = await openRequest({ needed: 2 });
    const link = await linkFor(request, 'alice');
    const answers = await Promise.all([
      handler(formEvent(link, { verdict: 'approve' })),
      handler(formEvent(link, { verdict: 'deny' })),
      handler(formEvent(link, { verdict: 'approve' })),
    ]);
    expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 409, 409]);
    expect(await decisionsIn(request)).toHaveLength(1);
  });

  it('counts two approvers deciding at the same moment, and the workflow takes one answer', async () => {
    const request = await openRequest({ needed: 2 });
    const [alice, bob] = [await linkFor(request, 'alice'), await linkFor(request, 'bob')];
    const answers = await Promise.all([
      handler(formEvent(alice, { verdict: 'approve' })),
      handler(formEvent(bob, { verdict: 'approve' })),
    ]);
    expect(answers.map((a) => a.statusCode)).toEqual([200, 200]);
    expect((await decisionsIn(request)).map((d) => d.approver).sort()).toEqual(['alice', 'bob']);
    // Each saw the other's decision or not; at least one told the workflow, any second was "closed".
    const outputs = taskSuccesses().map((t) => JSON.parse(t.output ?? '{}'));
    expect(outputs.length).toBeGreaterThanOrEqual(1);
    for (const output of outputs)
      expect(output).toEqual({ verdict: 'approved', by: expect.arrayContaining(['alice', 'bob']) });
  });

  it('refuses a self-approval (the human behind the job), even with a valid link', async () => {
    const request = await openRequest();
    const before = await snapshot(request);
    const response = await handler(formEvent(await linkFor(request, 'carol'), { verdict: 'approve' }));
    expect(response.statusCode).toBe(409);
    expect(response.body).toContain('carol may not approve their own work');
    expect(await snapshot(request)).toBe(before);
    expect(taskSuccesses()).toHaveLength(0);
  });

  it('refuses an outsider, even with a validly signed link', async () => {
    const request = await openRequest();
    const before = await snapshot(request);
    const response = await handler(formEvent(await linkFor(request, 'mallory'), { verdict: 'approve' }));
    expect(response.statusCode).toBe(409);
    expect(response.body).toContain('mallory is not an approver of this request');
    expect(await snapshot(request)).toBe(before);
  });

  it('refuses a form whose fields were changed (another approver’s name on alice’s signature)', async () => {
    const request = await openRequest();
    const link = await linkFor(request, 'alice');
    const response = await handler(formEvent(link, { verdict: 'approve', as: 'bob' }));
    expect(response.statusCode).toBe(403);
    expect(await decisionsIn(request)).toHaveLength(0);
  });

  it('refuses a decision on a withdrawn request', async () => {
    const request = await openRequest();
    await table.putOnce(markerItem(request, 'cancelled'));
    const response = await handler(formEvent(await linkFor(request, 'alice'), { verdict: 'approve' }));
    expect(response.statusCode).toBe(409);
    expect(response.body).toContain('withdrawn');
    expect(await decisionsIn(request)).toHaveLength(0);
  });

  it('tells the workflow of a 2-of-N approval only after the second approver', async () => {
    const request = await openRequest({ needed: 2 });
    await handler(formEvent(await linkFor(request, 'alice'), { verdict: 'approve' }));
    expect(taskSuccesses()).toHaveLength(0);
    const second = await handler(formEvent(await linkFor(request, 'bob'), { verdict: 'approve' }));
    expect(second.body).toContain('Approved by alice, bob');
    expect(taskSuccesses()).toEqual([
      { taskToken: TASK_TOKEN, output: JSON.stringify({ verdict: 'approved', by: ['alice', 'bob'] }) },
    ]);
  });

  it('tells the workflow of a denial at once', async () => {
    const request = await openRequest({ needed: 2 });
    const response = await handler(formEvent(await linkFor(request, 'bob'), { verdict: 'deny' }));
    expect(response.body).toContain('You denied the statement');
    expect(taskSuccesses()).toEqual([
      { taskToken: TASK_TOKEN, output: JSON.stringify({ verdict: 'denied', by: ['bob'] }) },
    ]);
  });

  it('records the decision when the workflow task has already closed (timed out)', async () => {
    const request = await openRequest();
    failNext(new TaskTimedOut({ message: 'Task Timed Out', $metadata: {} }));
    const response = await handler(formEvent(await linkFor(request, 'alice'), { verdict: 'approve' }));
    expect(response.statusCode).toBe(200);
    expect(await decisionsIn(request)).toHaveLength(1);
    expect(log.lines.join('')).toContain('workflow task already closed');
  });

  it('tells the workflow when the approver presses again after Step Functions failed', async () => {
    const request = await openRequest();
    const link = await linkFor(request, 'alice');
    failNext(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    expect((await handler(formEvent(link, { verdict: 'approve' }))).statusCode).toBe(500);
    const again = await handler(formEvent(link, { verdict: 'approve' }));
    expect(again.statusCode).toBe(409);
    expect(taskSuccesses().at(-1)).toEqual({
      taskToken: TASK_TOKEN,
      output: JSON.stringify({ verdict: 'approved', by: ['alice'] }),
    });
  });
});

describe('POST /slack: buttons', () => {
  function slackEvent(
    payload: object,
    options: {
      secret?: string;
      timestamp?: number;
      base64?: boolean;
      tamper?: (body: string) => string;
    } = {},
  ): unknown {
    const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
    // An independent signer (the documented algorithm), not the code under test.
    const signature = `v0=${createHmac('sha256', options.secret ?? SIGNING_SECRET)
      .update(`v0:${timestamp}:${body}`)
      .digest('hex')}`;
    return functionUrlEvent({
      method: 'POST',
      path: '/slack',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': timestamp,
        'x-slack-signature': signature,
      },
      body: options.tamper ? options.tamper(body) : body,
      base64: options.base64 ?? false,
    });
  }

  const click = (request: ApprovalRequest, user: string, action = SLACK_APPROVE_ACTION, team = 'T0ACME') => ({
    type: 'block_actions',
    user: { id: user },
    team: { id: team },
    actions: [{ action_id: action, value: request.id, type: 'button' }],
    response_url: `${slackReplies.url}/actions/T0ACME/1/xyz`,
  });

  it('records alice’s click, tells the workflow and replaces the message without buttons', async () => {
    const request = await openRequest();
    const response = await handler(slackEvent(click(request, 'U0ALICE')));
    expect(response.statusCode).toBe(200);
    expect(await decisionsIn(request)).toEqual([
      expect.objectContaining({ approver: 'alice', verdict: 'approved', channel: 'slack' }),
    ]);
    expect(taskSuccesses()).toHaveLength(1);
    const reply = JSON.parse(slackReplies.requests[0]?.body ?? '{}');
    expect(reply.replace_original).toBe(true);
    expect(JSON.stringify(reply.blocks)).toContain('Approved by alice');
    expect(reply.blocks.some((b: { type: string }) => b.type === 'actions')).toBe(false);
  });

  it('accepts a body Lambda passed base64-encoded, signed over its raw bytes', async () => {
    const request = await openRequest();
    const response = await handler(slackEvent(click(request, 'U0BOB', SLACK_DENY_ACTION), { base64: true }));
    expect(response.statusCode).toBe(200);
    expect(taskSuccesses()).toEqual([
      { taskToken: TASK_TOKEN, output: JSON.stringify({ verdict: 'denied', by: ['bob'] }) },
    ]);
  });

  it.each([
    ['signed with another secret (forged)', { secret: 'not-the-signing-secret' }],
    ['signed 6 minutes ago (stale)', { timestamp: Math.floor(Date.now() / 1000) - 360 }],
    ['dated 6 minutes ahead', { timestamp: Math.floor(Date.now() / 1000) + 360 }],
    ['whose body changed after signing', { tamper: (body: string) => body.replace('U0ALICE', 'U0BOB') }],
  ])('refuses a request %s and changes nothing', async (_what, options) => {
    const request = await openRequest();
    const before = await snapshot(request);
    const response = await handler(slackEvent(click(request, 'U0ALICE'), options));
    expect(response.statusCode).toBe(401);
    expect(await snapshot(request)).toBe(before);
    expect(taskSuccesses()).toHaveLength(0);
    expect(slackReplies.requests).toHaveLength(0);
  });

  it.each([
    ['a member who is no approver', 'U0MALLORY', 'not an approver', 'T0ACME'],
    ['the human behind the job', 'U0CAROL', 'may not approve their own work', 'T0ACME'],
    ['a member of another workspace', 'U0ALICE', 'workspace may not decide', 'T0OTHER'],
  ])('refuses %s with a note only they see', async (_who, user, reason, team) => {
    const request = await openRequest();
    const before = await snapshot(request);
    const response = await handler(slackEvent(click(request, user, SLACK_APPROVE_ACTION, team)));
    expect(response.statusCode).toBe(200);
    const reply = JSON.parse(slackReplies.requests[0]?.body ?? '{}');
    expect(reply).toMatchObject({ response_type: 'ephemeral', replace_original: false });
    expect(reply.text).toContain(reason);
    expect(await snapshot(request)).toBe(before);
  });

  it('posts replies only to Slack’s own address', async () => {
    const request = await openRequest();
    const response = await handler(
      slackEvent({ ...click(request, 'U0ALICE'), response_url: 'https://attacker.example/x' }),
    );
    expect(response.statusCode).toBe(200);
    expect(slackReplies.requests).toHaveLength(0);
    expect(await decisionsIn(request)).toHaveLength(1);
  });
});

describe('the decide function', () => {
  it('answers unknown routes and methods without touching anything', async () => {
    expect((await handler(functionUrlEvent({ method: 'GET', path: '/' }))).statusCode).toBe(404);
    expect((await handler(functionUrlEvent({ method: 'PUT', path: '/a/apr-1' }))).statusCode).toBe(405);
    expect((await handler(functionUrlEvent({ method: 'GET', path: '/slack' }))).statusCode).toBe(405);
    expect((await handler({ not: 'an event' })).statusCode).toBe(400);
  });

  it('never logs the task token, the signing secret or a link MAC', async () => {
    const request = await openRequest({ needed: 2 });
    const link = await linkFor(request, 'alice');
    await handler(getEvent(link));
    await handler(formEvent(link, { verdict: 'approve' }));
    await handler(formEvent(await linkFor(request, 'bob'), { verdict: 'approve' }));
    const text = log.lines.join('');
    expect(text).toContain('decision recorded');
    for (const secret of [TASK_TOKEN, SIGNING_SECRET, new URL(link).searchParams.get('sig') ?? '-'])
      expect(text).not.toContain(secret);
  });
});

function flipFirst(sig: string): string {
  return `${sig.startsWith('A') ? 'B' : 'A'}${sig.slice(1)}`;
}
