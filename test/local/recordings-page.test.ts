import { existsSync, mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import path from 'node:path';
import { Client } from 'pg';
import { type Browser, chromium } from 'playwright-core';
import { type RecordingsPage, startRecordingsPage } from '../../local/recordings-page/server';
import { testHome } from '../support/environment';
import { startTestGateway } from '../support/gateway';

const ssl = { rejectUnauthorized: false };
/** Debian's chromium (CI installs it); CHROMIUM_PATH points elsewhere. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const REPLAY_PAUSE_MS = 1500;
const MARKUP = '<img src=x onerror="document.title=1">';

function get(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
}

describe('the recordings page (headless Chromium)', () => {
  let page: RecordingsPage;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH`);
    const directory = mkdtempSync(path.join(testHome(), 'recordings-page-'));
    const gateway = await startTestGateway({ audit: { directory } });
    try {
      const client = new Client({ ...gateway.connection('page-viewer'), ssl });
      await client.connect();
      await client.query("SELECT 'first' AS word, 1 AS n");
      await client.query('SELECT $1::text AS markup', [MARKUP]);
      // A real pause in the session, so replay at real speed visibly takes time (the replay
      // check below would race a session recorded in a few milliseconds).
      await new Promise((resolve) => setTimeout(resolve, REPLAY_PAUSE_MS));
      await expect(client.query('SELECT 1/0')).rejects.toMatchObject({ code: '22012' });
      await client.end();
    } finally {
      await gateway.stop();
    }
    page = await startRecordingsPage({ store: directory, port: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await page?.close();
  });

  it('answers only with the secret, and only on the loopback name', async () => {
    const origin = `http://127.0.0.1:${page.port}`;
    expect(await get(`${origin}/`)).toBe(401);
    expect(await get(`${origin}/api/sessions`)).toBe(401);
    expect(await get(`${origin}/?secret=wrong`)).toBe(401);
    expect(await get(page.url)).toBe(303);
    // A name that resolves here but is not ours (DNS rebinding) is refused whatever it carries.
    expect(await get(page.url, { host: `attacker.example:${page.port}` })).toBe(403);
  });

  it('lists the sessions and replays one, showing statements and results as text', async () => {
    const tab = await browser.newPage();
    const problems: string[] = [];
    tab.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    tab.on('pageerror', (error) => problems.push(error.message));
    await tab.goto(page.url);
    // The secret left the address bar.
    expect(new URL(tab.url()).search).toBe('');
    const rows = tab.locator('tr.session');
    await expect(rows.count()).resolves.toBeGreaterThanOrEqual(1);
    await expect(rows.first().textContent()).resolves.toContain('page-viewer');
    await rows.first().click();
    const events = tab.locator('#events');
    await events.locator('.event-end').waitFor();
    const text = await events.textContent();
    expect(text).toContain(`=> SELECT 'first' AS word, 1 AS n`);
    expect(text).toContain('first | 1');
    expect(text).toContain('<= SELECT 1');
    expect(text).toContain('<= ERROR 22012: division by zero');
    // A value that looks like markup is shown as text, and nothing it says runs.
    expect(text).toContain(MARKUP);
    await expect(events.locator('img').count()).resolves.toBe(0);
    expect(await tab.title()).toBe('Gatehouse: session recordings');

    // Replay at real speed: the events come back over time, in order, ending with the session's end.
    const total = await events.locator('.event').count();
    await tab.click('#play');
    await expect(events.locator('.event').count()).resolves.toBeLessThan(total);
    await events.locator('.event-end').waitFor({ timeout: 10_000 });
    expect(await events.textContent()).toBe(text);
    expect(problems).toEqual([]);
    await tab.close();
  });
});
