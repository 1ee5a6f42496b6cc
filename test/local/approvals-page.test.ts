import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import path from 'node:path';
import { Client } from 'pg';
import { type Browser, chromium, type Page } from 'playwright-core';
import { startApprovalsPage } from '../../local/approvals-page/server';
import type { LoopbackPage } from '../../local/loopback-page';
import { libpqEnvironment, requireClient, testHome, testIssuer } from '../support/environment';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { writeTestPolicy } from '../support/test-policy';

const ssl = { rejectUnauthorized: false };
/** Debian's chromium (CI installs it); CHROMIUM_PATH points elsewhere. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PSQL = '/usr/bin/psql';
/** Set to a directory to keep screenshots of the page (the README's come from here). */
const SCREENSHOTS = process.env.GATEHOUSE_SCREENSHOT_DIR;

const POLICY = `version: 1
identities:
  migrator: { issuer: local, claims: { sub: migrator } }
approvers:
  alice: { email: alice@example.com }
  bob: { slack: U0BOB }
  carol:
    email: carol@example.com
    identities: [{ issuer: local, claims: { actor: carol } }]
approverGroups:
  dba: [alice, bob, carol]
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
        approval: { approvers: [dba], timeoutSeconds: 60 }
      - name: alters-need-a-dba
        decision: approve
        reason: altering a table needs a DBA
        when: { commands: [ALTER TABLE] }
        approval: { approvers: [dba], timeoutSeconds: 2 }
`;

interface Psql {
  child: ChildProcess;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { headers, method }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
}

/**
 * The whole local approval flow with real parts: psql sends a statement the policy holds, the
 * approver decides on the local approval page in headless Chromium, and psql gets the statement's
 * result, the denial, or the timeout; a psql that is killed while waiting withdraws its request.
 */
describe('the approval page with psql (headless Chromium)', () => {
  const run = requireClient('psql', existsSync(PSQL));
  let gateway: TestGateway;
  let page: LoopbackPage;
  let browser: Browser;
  let admin: Client;

  function psql(sql: string): Psql {
    const env = libpqEnvironment(
      {
        ...gateway.connection('migrator'),
        password: testIssuer().sign({ sub: 'migrator', actor: 'carol' }, 600),
      },
      { PGAPPNAME: 'approval-page-test' },
    );
    const child = spawn(PSQL, ['-X', '-v', 'ON_ERROR_STOP=1', '-c', sql], { env });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
      child.on('close', (code) => resolve({ code, stdout, stderr })),
    );
    return { child, done };
  }

  async function opened(): Promise<Page> {
    const tab = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    await tab.goto(page.url);
    return tab;
  }

  /** Waits until the page shows a pending request for `text`; returns its id. */
  async function pendingOnPage(tab: Page, text: string): Promise<string> {
    for (let i = 0; i < 100; i++) {
      await tab.goto(`http://127.0.0.1:${page.port}/`);
      const card = tab.locator('section.request', { has: tab.locator('pre', { hasText: text }) });
      if ((await card.count()) > 0 && (await card.first().locator('.state').textContent()) === 'pending') {
        return (await card.first().getAttribute('id'))!;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`no pending request for ${text} on the page`);
  }

  async function decide(tab: Page, id: string, as: string, verdict: 'Approve' | 'Deny'): Promise<string> {
    const card = tab.locator(`section.request[id="${id}"]`);
    await card.locator('select[name=as]').selectOption(as);
    await card.getByRole('button', { name: verdict }).click();
    return (await tab.locator('.notice').textContent()) ?? '';
  }

  async function exists(table: string): Promise<boolean> {
    const result = await admin.query('SELECT to_regclass($1) IS NOT NULL AS present', [table]);
    return result.rows[0].present;
  }

  beforeAll(async () => {
    if (!run) return;
    if (!existsSync(CHROMIUM))
      throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH`);
    const directory = mkdtempSync(path.join(testHome(), 'approval-page-'));
    gateway = await startTestGateway({
      policy: { file: writeTestPolicy(POLICY) },
      approvals: { directory, pollMs: 50 },
      // No reminder within a test: the notice psql prints must be the one sent at once.
      limits: { approvalNoticeMs: 600_000 },
    });
    page = await startApprovalsPage({ directory, port: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    admin = new Client({ ...gateway.connection('migrator'), ssl });
    admin.on('error', () => undefined);
    await admin.connect();
  }, 60_000);

  afterAll(async () => {
    await admin?.end();
    await browser?.close();
    await page?.close();
    await gateway?.stop();
  });

  (run ? it : it.skip)(
    'answers only with the secret, on the loopback name, and changes only from itself',
    async () => {
      const origin = `http://127.0.0.1:${page.port}`;
      expect(await get(`${origin}/`)).toBe(401);
      expect(await get(page.url)).toBe(303);
      expect(await get(page.url, { host: `attacker.example:${page.port}` })).toBe(403);
      const tab = await opened();
      const cookies = await tab.context().cookies();
      const cookie = cookies.map((c) => `${c.name}=${c.value}`).join('; ');
      // With the cookie, a POST from another origin or without the form token is refused.
      expect(await get(`${origin}/decide`, { cookie, origin: 'http://attacker.example' }, 'POST')).toBe(403);
      // A form posted from another page (the browser says so in Origin) is refused.
      const form = (token: string) =>
        `<form method="post" action="${origin}/decide"><input name="id" value="apr-00"><input name="as" value="alice">${token}<button name="verdict" value="approved">go</button></form>`;
      const token = await tab.locator('input[name=token]').count();
      expect(token).toBe(0); // nothing pending yet: no forms on the page
      await tab.goto(`data:text/html,${encodeURIComponent(form(''))}`);
      await tab.getByRole('button', { name: 'go' }).click();
      // (The SameSite cookie stays home, so the secret is missing before the origin is looked at.)
      await expect(tab.locator('body').textContent()).resolves.toMatch(
        /open the address gatehouse printed|a change must come from this page/,
      );
      // A form on the page itself but without the form token is refused too.
      await tab.goto(`${origin}/`);
      await tab
        .locator('main')
        .evaluate((main, html) => main.insertAdjacentHTML('beforeend', html), form(''));
      await tab.getByRole('button', { name: 'go' }).click();
      await expect(tab.locator('body').textContent()).resolves.toContain(
        'the form token is missing or wrong',
      );
      await tab.close();
    },
  );

  (run ? it : it.skip)(
    'holds a DROP TABLE from psql until approved on the page, then runs it',
    async () => {
      await admin.query('CREATE TABLE IF NOT EXISTS held_drop (id int)');
      const held = psql('DROP TABLE held_drop');
      const tab = await opened();
      const id = await pendingOnPage(tab, 'DROP TABLE held_drop');
      // The person behind the job is not offered as an approver.
      const card = tab.locator(`section.request[id="${id}"]`);
      await expect(card.locator('select[name=as] option').allTextContents()).resolves.toEqual([
        'alice',
        'bob',
      ]);
      if (SCREENSHOTS) {
        mkdirSync(SCREENSHOTS, { recursive: true });
        await tab.screenshot({ path: path.join(SCREENSHOTS, 'approval-page.png'), fullPage: true });
      }
      expect(await exists('held_drop')).toBe(true);
      expect(await decide(tab, id, 'alice', 'Approve')).toBe(`${id}: approved by alice`);
      const result = await held.done;
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('DROP TABLE');
      expect(result.stderr).toContain(`approval required: dropping a table needs a DBA; request ${id}`);
      expect(await exists('held_drop')).toBe(false);
      await tab.close();
    },
    30_000,
  );

  (run ? it : it.skip)(
    'refuses the held DROP TABLE when denied on the page, naming the approver',
    async () => {
      await admin.query('CREATE TABLE IF NOT EXISTS denied_drop (id int)');
      const held = psql('DROP TABLE denied_drop');
      const tab = await opened();
      const id = await pendingOnPage(tab, 'DROP TABLE denied_drop');
      // Posting the excluded approver anyway is refused by the store's rules.
      const card = tab.locator(`section.request[id="${id}"]`);
      await card.locator('select[name=as]').evaluate((select) => {
        const option = select.ownerDocument.createElement('option');
        option.textContent = 'carol';
        select.appendChild(option);
      });
      const self = await decide(tab, id, 'carol', 'Approve');
      expect(self).toMatch(/carol may not approve their own work/);
      expect(await decide(tab, id, 'bob', 'Deny')).toBe(`${id}: denied by bob`);
      const result = await held.done;
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/ERROR: {2}approval denied by bob: dropping a table needs a DBA/);
      expect(await exists('denied_drop')).toBe(true);
      await tab.close();
    },
    30_000,
  );

  (run ? it : it.skip)(
    'refuses a held statement when nobody decides in time',
    async () => {
      await admin.query('CREATE TABLE IF NOT EXISTS slow_alter (id int)');
      const result = await psql('ALTER TABLE slow_alter ADD COLUMN note text').done;
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/ERROR: {2}approval timed out: altering a table needs a DBA/);
      const tab = await opened();
      await expect(tab.locator('.state.timed-out').count()).resolves.toBeGreaterThanOrEqual(1);
      await tab.close();
    },
    30_000,
  );

  (run ? it : it.skip)(
    'withdraws the request of a psql killed while it waits',
    async () => {
      await admin.query('CREATE TABLE IF NOT EXISTS abandoned_drop (id int)');
      const held = psql('DROP TABLE abandoned_drop');
      const tab = await opened();
      const id = await pendingOnPage(tab, 'DROP TABLE abandoned_drop');
      held.child.kill('SIGKILL');
      await held.done;
      const state = tab.locator(`section.request[id="${id}"] .state`);
      for (let i = 0; i < 50; i++) {
        await tab.goto(`http://127.0.0.1:${page.port}/`);
        if ((await state.textContent()) === 'cancelled') break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await expect(state.textContent()).resolves.toBe('cancelled');
      // Nothing is left to approve, and the table is still there.
      await expect(tab.locator(`section.request[id="${id}"] form`).count()).resolves.toBe(0);
      expect(await exists('abandoned_drop')).toBe(true);
      await tab.close();
    },
    30_000,
  );
});
