import { existsSync, mkdirSync, mkdtempSync, statSync } from 'node:fs';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import type {
  ActivityDay,
  ControlStatus,
  EffectiveScope,
  EvidenceSummary,
  IdentityActivity,
  IdentityRuleUsage,
} from '../../core/evidence/evidence-package';
import { type EvidenceReportInput, evidenceReport } from '../../core/evidence/report-html';
import { requireClient, testHome } from '../support/environment';

/** Debian's chromium (CI installs it); CHROMIUM_PATH points elsewhere. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Set to a directory to keep the screenshot there. */
const SCREENSHOTS = process.env.GATEHOUSE_SCREENSHOT_DIR;
const available = requireClient('Chromium', existsSync(CHROMIUM));
const describeIfChromium = available ? describe : describe.skip;

const GITHUB = 'https://token.actions.githubusercontent.com';
const EKS = 'https://oidc.eks.eu-west-1.amazonaws.com/id/5C1F0E8A92B4D7A3';
const MARKUP = '<img src=x onerror="document.title=1">';
const DAY_MS = 86_400_000;
const FROM_MS = Date.parse('2026-11-01T00:00:00Z');
const DAYS = 14;

/** Two weeks of a small deployment: CI jobs and services, one identity gone, one rule unused, a gap in the trail. */
function fixture(): EvidenceReportInput {
  const people: [string, string, string, string, number, number, number, boolean][] = [
    [GITHUB, 'repo:acme/billing:environment:production', 'billing-deploys', 'migrations', 212, 4, 6, true],
    [GITHUB, 'repo:acme/billing:ref:refs/heads/main', 'billing-ci', 'ci-read', 1_830, 22, 0, true],
    [GITHUB, 'repo:acme/billing:pull_request', 'billing-ci', 'ci-read', 990, 57, 0, true],
    [
      EKS,
      'system:serviceaccount:analytics:report-builder',
      'analytics-pods',
      'analytics-read',
      8_120,
      1,
      0,
      true,
    ],
    [EKS, 'system:serviceaccount:payments:reconciler', 'payments-pods', 'payments', 2_704, 9, 2, true],
    [GITHUB, 'repo:acme/warehouse:environment:production', 'warehouse-etl', 'etl', 4_410, 0, 1, true],
    [GITHUB, 'repo:acme/legacy-export:ref:refs/heads/main', 'legacy-export', 'support-read', 48, 6, 0, false],
    [GITHUB, `repo:acme/${MARKUP}:ref:refs/heads/main`, 'billing-ci', 'ci-read', 12, 12, 0, true],
  ];
  const identities: IdentityActivity[] = people.map(
    ([issuer, subject, rule, grant, statements, refusals, approvals, admittedNow], index) => ({
      issuer,
      subject,
      identityRules: [rule],
      grants: [grant],
      firstSeen: (FROM_MS + (index % 3) * DAY_MS + 8 * 3_600_000) * 1000,
      lastSeen: (FROM_MS + (DAYS - 1 - (admittedNow ? 0 : 9)) * DAY_MS + 17 * 3_600_000) * 1000,
      sessions: Math.max(1, Math.round(statements / 20)),
      statements,
      refusals,
      approvalsRequested: approvals,
      maskedStatements: Math.round(statements / 3),
      authenticationFailures: index % 4 === 1 ? 2 : 0,
      admittedNow,
    }),
  );
  const total = (pick: (i: IdentityActivity) => number) => identities.reduce((sum, i) => sum + pick(i), 0);
  const timeline: ActivityDay[] = [];
  const spread = (value: number, day: number) => Math.floor(value / DAYS) + (day < value % DAYS ? 1 : 0);
  for (let day = 0; day < DAYS; day++) {
    // A quiet Sunday: no records at all that day, so no timeline entry.
    if (day === 7) continue;
    timeline.push({
      day: new Date(FROM_MS + day * DAY_MS).toISOString().slice(0, 10),
      statements: spread(
        total((i) => i.statements),
        day,
      ),
      refusals: spread(
        total((i) => i.refusals),
        day,
      ),
      approvals: spread(
        total((i) => i.approvalsRequested),
        day,
      ),
      authenticationFailures: day % 5 === 2 ? 2 : 0,
    });
  }
  const rules: IdentityRuleUsage[] = [
    ...new Set(identities.flatMap((i) => i.identityRules)),
    'partner-sync',
  ].map((name) => {
    const seen = identities.filter((i) => i.identityRules.includes(name)).length;
    return {
      name,
      issuer: name.endsWith('-pods') ? EKS : GITHUB,
      claims: { repository: [`acme/${name}`] },
      grants: identities.find((i) => i.identityRules.includes(name))?.grants ?? ['etl'],
      identitiesSeen: seen,
      unused: seen === 0,
    };
  });
  const control = (
    id: ControlStatus['control'],
    title: string,
    status: ControlStatus['status'],
    reason: string,
    evidence: string[],
  ): ControlStatus => ({ control: id, title, status, reason, evidence });
  const controls: ControlStatus[] = [
    control('AC-2', 'Account Management', 'satisfied-with-findings', '1 identity no longer admitted', [
      'inventory.json',
    ]),
    control('AC-6', 'Least Privilege', 'satisfied', 'every grant states its scope', ['scopes.json']),
    control('AU-2', 'Event Logging', 'satisfied', 'every event recorded', ['audit/records.jsonl']),
    control('AU-3', 'Content of Audit Records', 'satisfied', 'records are complete', ['audit/records.jsonl']),
    control('AU-9', 'Protection of Audit Information', 'not-satisfied', 'verification found a gap', [
      'verification.json',
      'audit/records.jsonl',
    ]),
    control('AU-10', 'Non-repudiation', 'satisfied', 'digests signed', [
      'verification.json',
      'manifest.json',
    ]),
    control('AU-12', 'Audit Record Generation', 'satisfied', '2 writers', ['audit/records.jsonl']),
    control('CM-3', 'Configuration Change Control', 'satisfied', '1 policy change', [
      'policy-changes.jsonl',
      'approvals.jsonl',
    ]),
    control('CM-5', 'Access Restrictions for Change', 'satisfied', 'changes approved', ['approvals.jsonl']),
    {
      ...control(
        'IA-2',
        'Identification and Authentication',
        'satisfied-with-findings',
        'failures to review',
        ['authentication-failures.jsonl'],
      ),
      records: [{ file: 'authentication-failures.jsonl', select: 'authentication ≠ accepted', count: 4 }],
    },
    control('IA-5', 'Authenticator Management', 'satisfied', 'short-lived tokens', ['inventory.json']),
    control('SC-28', 'Protection of Information at Rest', 'satisfied', 'results masked', ['masking.jsonl']),
  ];
  const summary: EvidenceSummary = {
    version: 1,
    period: {
      from: '2026-11-01T00:00:00Z',
      to: '2026-11-15T00:00:00Z',
      fromMicros: FROM_MS * 1000,
      toMicros: (FROM_MS + DAYS * DAY_MS) * 1000,
    },
    generatedAt: '2026-11-15T06:00:00Z',
    policyDigests: ['9f2c4e51b7d80a3c6e1f5b2d48a97c03e6d1f4a2b8c05e79d3a6f1b4c2e8d705'],
    counts: {
      sessions: total((i) => i.sessions),
      statements: total((i) => i.statements),
      refusals: total((i) => i.refusals),
      approvals: { requested: 9, approved: 7, denied: 1, timedOut: 1, cancelled: 0 },
      maskedStatements: total((i) => i.maskedStatements),
      authenticationFailures: total((i) => i.authenticationFailures),
      policyChanges: 1,
    },
    identities,
    identityRules: rules,
    timeline,
    verification: {
      ok: false,
      writers: 2,
      digests: 672,
      chunks: 1_904,
      sessions: total((i) => i.sessions),
      records: 19_000,
      problems: [
        {
          writer: 'task-7f3a',
          kind: 'gap',
          session: 'c0ffee00-1',
          detail: 'chunk 12 of the session is missing from the store',
        },
      ],
    },
    controls,
    policy: { digest: '9f2c4e51b7d80a3c6e1f5b2d48a97c03e6d1f4a2b8c05e79d3a6f1b4c2e8d705' },
  };
  const scope = (grant: string, more: Partial<EffectiveScope>): EffectiveScope => ({
    grant,
    identityRules: [],
    databases: ['billing'],
    readOnly: true,
    allow: ['read'],
    reads: ['public.*'],
    writes: [],
    denied: [],
    functions: [],
    rules: [],
    maskedColumns: [],
    limits: {},
    ...more,
  });
  const scopes = [
    scope('migrations', {
      identityRules: ['billing-deploys'],
      readOnly: false,
      allow: ['read', 'write', 'ddl'],
      writes: ['*'],
      rules: [
        {
          name: 'drops-need-a-dba',
          decision: 'approve',
          reason: 'dropping a table needs a DBA',
          approval: { approvers: ['alice', 'bob'], needed: 1, timeoutSeconds: 900, covers: 'once' },
        },
      ],
    }),
    scope('ci-read', { identityRules: ['billing-ci'], maskedColumns: ['public.customers.email'] }),
    scope('analytics-read', { identityRules: ['analytics-pods'], databases: ['warehouse'] }),
    scope('payments', { identityRules: ['payments-pods'], databases: ['payments'], readOnly: false }),
    scope('etl', { identityRules: ['warehouse-etl', 'partner-sync'], databases: ['warehouse'] }),
    scope('support-read', { identityRules: ['legacy-export'], denied: ['public.cards'] }),
  ];
  return { summary, scopes, inventory: { identities, identityRules: rules } };
}

describeIfChromium('the evidence report in headless Chromium', () => {
  const input = fixture();
  const html = evidenceReport(input);
  let browser: Browser;

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  /** The report in a new tab, with what it logged and what it tried to fetch. */
  async function open(width: number): Promise<{ tab: Page; problems: string[]; requests: string[] }> {
    const tab = await browser.newPage({ viewport: { width, height: 900 } });
    const problems: string[] = [];
    const requests: string[] = [];
    tab.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(message.text());
    });
    tab.on('pageerror', (error) => problems.push(error.message));
    tab.on('request', (request) => requests.push(request.url()));
    await tab.setContent(html, { waitUntil: 'load' });
    return { tab, problems, requests };
  }

  it('renders with no console errors, no requests, and every control’s status', async () => {
    const { tab, problems, requests } = await open(1100);
    const statuses = await tab
      .locator('tr.control')
      .evaluateAll((rows) =>
        rows.map((row) => [
          row.getAttribute('data-control'),
          row.querySelector('.badge')?.textContent?.trim(),
        ]),
      );
    expect(statuses).toEqual(
      input.summary.controls.map((c) => [
        c.control,
        {
          satisfied: '✓ satisfied',
          'satisfied-with-findings': '! satisfied with findings',
          'not-satisfied': '✕ not satisfied',
        }[c.status],
      ]),
    );
    await expect(tab.locator('tr[data-control="AU-9"] > td').allTextContents()).resolves.toEqual([
      'AU-9',
      'Protection of Audit Information',
      '✕ not satisfied',
      'verification found a gap',
      'verification.jsonaudit/records.jsonl',
    ]);
    const text = ((await tab.locator('body').textContent()) ?? '').replace(/\s+/g, ' ');
    expect(text).toContain('Verification failed: 1 problem.');
    expect(text).toContain('chunk 12 of the session is missing from the store');
    expect(text).toContain('verify with gatehouse export --check');
    expect(text).toContain('no longer admitted');
    expect(text).toContain('admitted nobody');
    // The subject that looks like markup is text, and nothing it says ran.
    expect(text).toContain(MARKUP);
    await expect(tab.locator('img').count()).resolves.toBe(0);
    expect(await tab.title()).toBe(
      'Evidence report 2026-11-01T00:00:00Z to 2026-11-15T00:00:00Z · Gatehouse',
    );
    // The evidence links resolve next to the report.
    const hrefs = await tab
      .locator('a.evidence-file')
      .evaluateAll((links) => links.map((a) => a.getAttribute('href')));
    expect(hrefs).toEqual(['policy.yaml', ...input.summary.controls.flatMap((c) => c.evidence)]);
    expect(text).toContain('authentication ≠ accepted: 4 records');
    expect(problems).toEqual([]);
    expect(requests).toEqual([]);
    await tab.close();
  });

  it('draws the three charts at a visible size, with a visible bar per identity and per active day', async () => {
    const { tab } = await open(1100);
    for (const id of ['chart-identities', 'chart-decisions', 'chart-authentication']) {
      const box = await tab.locator(`svg#${id}`).boundingBox();
      expect(box?.width).toBeGreaterThan(600);
      expect(box?.height).toBeGreaterThan(150);
    }
    const identityBars = await tab
      .locator('#chart-identities rect.bar.statements')
      .evaluateAll((rects) => rects.map((r) => r.getBoundingClientRect().width));
    expect(identityBars).toHaveLength(input.inventory.identities.length);
    for (const width of identityBars) expect(width).toBeGreaterThan(0);
    const dayBars = await tab
      .locator('#chart-decisions rect.bar.refusals')
      .evaluateAll((rects) => rects.map((r) => r.getBoundingClientRect().height));
    // Every day of the period, the quiet one included (with no bar to see).
    expect(dayBars).toHaveLength(DAYS);
    expect(dayBars.filter((h) => h > 0)).toHaveLength(DAYS - 1);
    await tab.close();
  });

  it('fits A4 when printed, and prints', async () => {
    // A4 at 96 dpi (794 px) less the page's margins of 11 mm.
    const { tab, problems } = await open(711);
    await tab.emulateMedia({ media: 'print' });
    const widths = await tab.locator('html').evaluate((root) => [root.scrollWidth, root.clientWidth]);
    expect(widths[0]).toBeLessThanOrEqual(widths[1]!);
    await expect(tab.locator('nav').isVisible()).resolves.toBe(false);
    const pdf = await tab.pdf({ format: 'A4' });
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    expect(problems).toEqual([]);
    await tab.close();
  });

  it('takes a full-page screenshot', async () => {
    const directory = SCREENSHOTS ?? mkdtempSync(path.join(testHome(), 'evidence-report-'));
    mkdirSync(directory, { recursive: true });
    const file = path.join(directory, 'evidence-report.png');
    const { tab } = await open(1100);
    await tab.screenshot({ path: file, fullPage: true });
    const height = await tab.locator('html').evaluate((root) => root.scrollHeight);
    expect(height).toBeGreaterThan(2000);
    expect(statSync(file).size).toBeGreaterThan(50_000);
    await tab.close();
  });
});
