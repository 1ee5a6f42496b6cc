import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Client } from 'pg';
import type { ApprovalEventRecord } from '../../core/audit/records';
import { LocalApprovalStore } from '../../fargate-proxy/src/approval/local-approval-store';
import { storedRecords } from '../support/audit-records';
import { testHome, testIssuer } from '../support/environment';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { writeTestPolicy } from '../support/test-policy';

const ssl = { rejectUnauthorized: false };
const PAGE = 'http://127.0.0.1:6491/';

const POLICY = `version: 1
identities:
  migrator: { issuer: local, claims: { sub: migrator } }
approvers:
  alice: { email: alice@example.com }
grants:
  - name: migrations
    to: [migrator]
    searchPath: any
    allow: [read, write, ddl, session, transaction]
    relations: { read: ["*"], write: ["*"] }
    rules:
      - name: truncates-need-alice
        decision: approve
        reason: truncating a table needs a DBA
        when: { commands: [TRUNCATE] }
        approval: { approvers: [alice], timeoutSeconds: 30 }
`;

/**
 * Local mode's Slack notification: a new request is posted to the incoming webhook as Block Kit with
 * a link to the approval page, the notification is in the audit trail; a webhook that fails is not
 * fatal, the statement still waits for its approver.
 */
describe('approval notifications through a Slack webhook (local mode)', () => {
  let gateway: TestGateway;
  let webhook: Server;
  let status = 200;
  const posted: { body: string; type: string | undefined }[] = [];
  let directory: string;
  let auditDirectory: string;

  beforeAll(async () => {
    webhook = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        posted.push({ body, type: request.headers['content-type'] });
        response.writeHead(status).end(status === 200 ? 'ok' : 'invalid_token');
      });
    });
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
    const home = mkdtempSync(path.join(testHome(), 'approval-webhook-'));
    const slackWebhookFile = path.join(home, 'slack-webhook-url');
    writeFileSync(
      slackWebhookFile,
      `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/services/T0/B0/x\n`,
    );
    directory = path.join(home, 'approvals');
    auditDirectory = path.join(home, 'audit');
    gateway = await startTestGateway({
      policy: { file: writeTestPolicy(POLICY) },
      approvals: { directory, pollMs: 50, slackWebhookFile, pageUrl: PAGE },
      audit: { directory: auditDirectory },
    });
  });

  afterAll(async () => {
    await gateway?.stop();
    webhook?.close();
  });

  async function heldTruncate(
    table: string,
  ): Promise<{ id: string; done: Promise<unknown>; client: Client }> {
    const client = new Client({
      ...gateway.connection('migrator'),
      password: testIssuer().sign({ sub: 'migrator' }, 600),
      ssl,
    });
    client.on('error', () => undefined);
    await client.connect();
    await client.query(`CREATE TABLE IF NOT EXISTS ${table} (id int)`);
    const before = posted.length;
    const done = client.query(`TRUNCATE ${table}`);
    const store = new LocalApprovalStore(directory);
    for (let i = 0; i < 100; i++) {
      // The request is stored before the webhook is called: wait for both.
      const request = store.requests().find((r) => r.text === `TRUNCATE ${table}`);
      if (request && posted.length > before) return { id: request.id, done, client };
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('no request');
  }

  it('posts Block Kit with a link to the approval page, and audits the notification', async () => {
    const { id, done, client } = await heldTruncate('notified_rows');
    const message = JSON.parse(posted.at(-1)!.body);
    expect(posted.at(-1)!.type).toBe('application/json');
    expect(message).toMatchObject({ unfurl_links: false, unfurl_media: false });
    const text = JSON.stringify(message.blocks);
    expect(text).toContain('TRUNCATE notified_rows');
    expect(text).toContain(`${PAGE}#${id}`);
    expect(message.text).toContain('truncating a table needs a DBA');
    new LocalApprovalStore(directory).decide({
      request: id,
      approver: 'alice',
      verdict: 'approved',
      channel: 'cli',
      time: Date.now() * 1000,
    });
    await done;
    await client.end();
    const approved = storedRecords(auditDirectory).find(
      (r): r is ApprovalEventRecord => r.type === 'approval' && r.id === id && r.event === 'approved',
    );
    expect(approved?.notifications).toEqual([{ channel: 'webhook', to: 'slack', time: expect.any(Number) }]);
  });

  it('keeps the statement waiting when the webhook fails', async () => {
    status = 500;
    const before = posted.length;
    const { id, done, client } = await heldTruncate('unnotified_rows');
    expect(posted.length).toBe(before + 1);
    new LocalApprovalStore(directory).decide({
      request: id,
      approver: 'alice',
      verdict: 'approved',
      channel: 'cli',
      time: Date.now() * 1000,
    });
    await expect(done).resolves.toMatchObject({ command: 'TRUNCATE' });
    await client.end();
    const approved = storedRecords(auditDirectory).find(
      (r): r is ApprovalEventRecord => r.type === 'approval' && r.id === id && r.event === 'approved',
    );
    expect(approved?.notifications).toEqual([]);
  });
});
