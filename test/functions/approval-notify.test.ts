import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import { mockClient } from 'aws-sdk-client-mock';
import type { ApprovalRequest } from '../../core/approval/approval';
import { linkFields, verifyApprovalLink } from '../../core/approval/approval-link';
import { SLACK_APPROVE_ACTION, SLACK_DENY_ACTION } from '../../core/approval/approval-slack';
import type { NotifyConfig } from '../../functions/approval-notify/config';
import { createNotifyHandler } from '../../functions/approval-notify/handler';
import { ApprovalTable } from '../../functions/shared/approval-table';
import { createLogger } from '../../functions/shared/logger';
import { startDynalite, type TestDynamoDb } from '../support/dynalite';
import {
  capturedLog,
  fakeKms,
  LINK_BASE,
  localMac,
  recordingServer,
  sampleRequest,
  seedRequest,
} from './approval-fixtures';

const TASK_TOKEN = `AQCEAAAAKgAAAA${'t'.repeat(1500)}`;
const BOT_TOKEN = 'xoxb-test-bot-token';

let db: TestDynamoDb;
let tableName: string;
let table: ApprovalTable;
let slack: Awaited<ReturnType<typeof recordingServer>>;
/** What the fake Slack answers chat.postMessage with. */
let slackAnswer: { status: number; body: string };
const kms = fakeKms();
const ses = mockClient(SESv2Client);
const secrets = mockClient(SecretsManagerClient);
let log: ReturnType<typeof capturedLog>;

beforeAll(async () => {
  db = await startDynalite();
  tableName = await db.createTable(undefined, { sortKey: 'sk' });
  table = new ApprovalTable(db.client, tableName);
  slack = await recordingServer(() => slackAnswer);
});

afterAll(async () => {
  await slack.close();
  await db.stop();
  kms.restore();
  ses.restore();
  secrets.restore();
});

beforeEach(() => {
  slackAnswer = { status: 200, body: '{"ok":true,"ts":"1.2"}' };
  slack.requests.length = 0;
  ses.reset();
  ses.on(SendEmailCommand).resolves({ MessageId: 'm-1' });
  useSlackSecret({ botToken: BOT_TOKEN, signingSecret: 'signing' });
  log = capturedLog();
});

function useSlackSecret(secret: object): void {
  secrets.reset();
  secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(secret) });
}

/** The handler with the real adapters over mocked AWS and a local Slack; the table is dynalite. */
function notifier(config: Partial<NotifyConfig> = {}) {
  return createNotifyHandler({
    config: {
      table: tableName,
      linkBase: LINK_BASE,
      linkKeyId: 'alias/gatehouse-links',
      slackSecretId: 'gatehouse/slack',
      slackChannel: 'C0APPROVALS',
      slackApiUrl: slack.url,
      emailFrom: 'gatehouse@example.com',
      logLevel: 'debug',
      ...config,
    },
    store: table,
    logger: createLogger('debug', {}, log.write),
  });
}

async function openRequest(overrides: Partial<ApprovalRequest> = {}): Promise<ApprovalRequest> {
  const request = sampleRequest(overrides);
  await seedRequest(table, request);
  return request;
}

const sentEmails = () => ses.commandCalls(SendEmailCommand).map((c) => c.args[0].input);
const notifiedKeys = async (request: ApprovalRequest) =>
  ((await table.record(request.id))?.notifications ?? []).map((n) => `${n.channel}#${n.to}`).sort();

describe('the notify function', () => {
  it('keeps the task token server-side, once; the same delivery again sends nothing twice', async () => {
    const request = await openRequest();
    const notify = notifier();
    await notify({ taskToken: TASK_TOKEN, requestId: request.id }, { awsRequestId: 'r-1' });
    expect((await table.record(request.id))?.taskToken).toBe(TASK_TOKEN);
    const again = await notify({ taskToken: TASK_TOKEN, requestId: request.id });
    expect(again.sent).toEqual([]);
    expect(again.skipped).toHaveLength(3);
    expect(sentEmails()).toHaveLength(2);
    expect(slack.requests).toHaveLength(1);
  });

  it('refuses a second workflow task for the same request', async () => {
    const request = await openRequest();
    await notifier()({ taskToken: TASK_TOKEN, requestId: request.id });
    await expect(notifier()({ taskToken: 'another-token', requestId: request.id })).rejects.toThrow(
      'another workflow task',
    );
    expect((await table.record(request.id))?.taskToken).toBe(TASK_TOKEN);
  });

  it('posts one Slack message with buttons that carry the request id, never the token, and no unfurling', async () => {
    const request = await openRequest();
    await notifier()({ taskToken: TASK_TOKEN, requestId: request.id });
    expect(slack.requests).toHaveLength(1);
    const [post] = slack.requests;
    expect(post?.path).toBe('/chat.postMessage');
    expect(post?.headers.authorization).toBe(`Bearer ${BOT_TOKEN}`);
    expect(post?.body).not.toContain(TASK_TOKEN.slice(0, 40));
    const body = JSON.parse(post?.body ?? '{}');
    expect(body).toMatchObject({ channel: 'C0APPROVALS', unfurl_links: false, unfurl_media: false });
    const buttons = body.blocks.flatMap((b: { type: string; elements?: unknown[] }) =>
      b.type === 'actions' ? b.elements : [],
    );
    expect(buttons.map((b: { action_id: string }) => b.action_id)).toEqual([
      SLACK_APPROVE_ACTION,
      SLACK_DENY_ACTION,
    ]);
    for (const button of buttons) {
      expect(button.value).toBe(request.id);
      expect(button.confirm).toBeDefined();
    }
    // Approvers are mentioned by their Slack ids; the excluded one is not asked.
    expect(post?.body).toContain('<@U0ALICE>');
    expect(post?.body).toContain('<@U0BOB>');
    expect(post?.body).not.toContain('U0CAROL');
  });

  it('sends a DM to each asked approver with a Slack id when no channel is configured', async () => {
    const request = await openRequest();
    await notifier({ slackChannel: undefined, emailFrom: undefined })({
      taskToken: TASK_TOKEN,
      requestId: request.id,
    });
    const channels = slack.requests.map((r) => JSON.parse(r.body).channel).sort();
    expect(channels).toEqual(['U0ALICE', 'U0BOB']);
    expect(await notifiedKeys(request)).toEqual(['slack#alice', 'slack#bob']);
  });

  it('e-mails each asked approver their own message with a link that works for them only', async () => {
    const request = await openRequest();
    await notifier({ slackSecretId: undefined })({ taskToken: TASK_TOKEN, requestId: request.id });
    const emails = sentEmails();
    expect(emails.map((e) => e.Destination?.ToAddresses)).toEqual([
      ['alice@example.com'],
      ['bob@example.com'],
    ]);
    const now = Math.floor(Date.now() / 1000);
    for (const [email, approver] of [
      [emails[0], 'alice'],
      [emails[1], 'bob'],
    ] as const) {
      const text = email?.Content?.Simple?.Body?.Text?.Data ?? '';
      const html = email?.Content?.Simple?.Body?.Html?.Data ?? '';
      const link = /https:\/\/approve\.example\.test\/a\/\S+/.exec(text)?.[0] ?? '';
      expect(html).toContain(link.replace(/&/g, '&amp;'));
      expect(text).not.toContain(TASK_TOKEN.slice(0, 40));
      const url = new URL(link);
      const fields = linkFields(decodeURIComponent(url.pathname.slice(3)), url.searchParams);
      if (!fields.ok) throw new Error(fields.reason);
      expect(fields.value.approver).toBe(approver);
      expect(await verifyApprovalLink(fields.value, localMac, now)).toEqual({ ok: true, value: true });
      const other = approver === 'alice' ? 'bob' : 'alice';
      expect((await verifyApprovalLink({ ...fields.value, approver: other }, localMac, now)).ok).toBe(false);
    }
    expect(await notifiedKeys(request)).toEqual(['email#alice', 'email#bob']);
  });

  it('records one notified item per notification sent', async () => {
    const request = await openRequest();
    const summary = await notifier()({ taskToken: TASK_TOKEN, requestId: request.id });
    expect([...summary.sent].sort()).toEqual(['email#alice', 'email#bob', 'slack#C0APPROVALS']);
    expect(await notifiedKeys(request)).toEqual(['email#alice', 'email#bob', 'slack#C0APPROVALS']);
  });

  it('posts per-approver links, not buttons, through an incoming webhook', async () => {
    const request = await openRequest();
    useSlackSecret({ webhookUrl: `https://hooks.slack.example/services/T/B/x` });
    const posted: { url: string; body: string }[] = [];
    const fakeFetch: typeof fetch = async (input, init) => {
      posted.push({ url: String(input), body: String(init?.body) });
      return new Response('ok', { status: 200 });
    };
    await createNotifyHandler({
      config: {
        table: tableName,
        linkBase: LINK_BASE,
        linkKeyId: 'k',
        slackSecretId: 's',
        slackApiUrl: slack.url,
        logLevel: 'info',
      },
      store: table,
      fetch: fakeFetch,
      logger: createLogger('error', {}, () => undefined),
    })({ taskToken: TASK_TOKEN, requestId: request.id });
    expect(posted).toHaveLength(1);
    expect(posted[0]?.url).toBe('https://hooks.slack.example/services/T/B/x');
    const body = JSON.parse(posted[0]?.body ?? '{}');
    expect(body).toMatchObject({ unfurl_links: false, unfurl_media: false });
    expect(JSON.stringify(body.blocks)).not.toContain('"actions"');
    expect(posted[0]?.body).toContain(`/a/${request.id}?as=alice`);
    expect(posted[0]?.body).toContain(`/a/${request.id}?as=bob`);
    expect(await notifiedKeys(request)).toEqual(['webhook#webhook']);
  });

  it('fails the invocation when a notification fails, after recording the ones sent', async () => {
    const request = await openRequest();
    ses.reset();
    ses
      .on(SendEmailCommand, { Destination: { ToAddresses: ['bob@example.com'] } })
      .rejects(Object.assign(new Error('Email address is not verified'), { name: 'MessageRejected' }));
    ses
      .on(SendEmailCommand, { Destination: { ToAddresses: ['alice@example.com'] } })
      .resolves({ MessageId: 'm-2' });
    await expect(notifier()({ taskToken: TASK_TOKEN, requestId: request.id })).rejects.toThrow(
      /email#bob: MessageRejected/,
    );
    expect(await notifiedKeys(request)).toEqual(['email#alice', 'slack#C0APPROVALS']);
  });

  it('fails when Slack refuses the message, after the e-mails went out', async () => {
    const request = await openRequest();
    slackAnswer = { status: 200, body: '{"ok":false,"error":"channel_not_found"}' };
    await expect(notifier()({ taskToken: TASK_TOKEN, requestId: request.id })).rejects.toThrow(
      'channel_not_found',
    );
    expect(await notifiedKeys(request)).toEqual(['email#alice', 'email#bob']);
    expect(log.lines.join('')).not.toContain(BOT_TOKEN);
  });

  it('fails when nobody can be reached', async () => {
    const request = await openRequest({ contacts: {} });
    await expect(
      notifier({ slackChannel: undefined })({ taskToken: TASK_TOKEN, requestId: request.id }),
    ).rejects.toThrow('none of the approvers');
  });

  it('refuses a malformed event without repeating it', async () => {
    const failure = notifier()({ taskToken: TASK_TOKEN });
    await expect(failure).rejects.toThrow('the event is not');
    await expect(failure).rejects.not.toThrow(TASK_TOKEN.slice(0, 40));
  });

  it('fails for a request that does not exist', async () => {
    await expect(notifier()({ taskToken: TASK_TOKEN, requestId: 'apr-missing' })).rejects.toThrow(
      'there is no approval request',
    );
  });
});
