import type {
  ActivityDay,
  ControlStatus,
  EffectiveScope,
  EvidenceSummary,
  IdentityActivity,
  IdentityRuleUsage,
} from '../../../core/evidence/evidence-package';
import { dayAxis, niceScale, shorten } from '../../../core/evidence/report-charts';
import { type EvidenceReportInput, evidenceReport, packageHref } from '../../../core/evidence/report-html';

const DAY = 86_400_000_000;
const FROM = Date.parse('2026-11-01T00:00:00Z') * 1000;
const HOSTILE = '<img src=x onerror="alert(1)">';
const SCRIPT = '"><script>alert(2)</script>';

function identity(subject: string, more: Partial<IdentityActivity> = {}): IdentityActivity {
  return {
    issuer: 'https://token.actions.githubusercontent.com',
    subject,
    identityRules: ['ci'],
    grants: ['read'],
    firstSeen: FROM + 3_600_000_000,
    lastSeen: FROM + 2 * DAY,
    sessions: 3,
    statements: 40,
    refusals: 2,
    approvalsRequested: 0,
    maskedStatements: 0,
    authenticationFailures: 0,
    admittedNow: true,
    ...more,
  };
}

function control(id: ControlStatus['control'], more: Partial<ControlStatus> = {}): ControlStatus {
  return { control: id, title: `Title of ${id}`, status: 'satisfied', reason: 'fine', evidence: [], ...more };
}

const CONTROLS: ControlStatus[] = [
  control('AC-2', { status: 'satisfied-with-findings', evidence: ['inventory.json'] }),
  control('AC-6', { evidence: ['scopes.json'] }),
  control('AU-2', { evidence: ['audit/records.jsonl'] }),
  control('AU-9', { evidence: ['verification.json', 'audit/records.jsonl'] }),
  control('CM-3', { evidence: ['policy-changes.jsonl', 'approvals.jsonl'] }),
  control('IA-2', { status: 'satisfied-with-findings', evidence: ['authentication-failures.jsonl'] }),
  control('SC-28', { evidence: ['masking.jsonl'] }),
];

const RULES: IdentityRuleUsage[] = [
  {
    name: 'ci',
    issuer: 'https://token.actions.githubusercontent.com',
    claims: { repository: ['acme/app'] },
    grants: ['read'],
    identitiesSeen: 2,
    unused: false,
  },
  {
    name: 'partners',
    issuer: 'https://token.actions.githubusercontent.com',
    claims: { repository: ['acme/partners'] },
    grants: ['read'],
    identitiesSeen: 0,
    unused: true,
  },
];

const SCOPE: EffectiveScope = {
  grant: 'read',
  identityRules: ['ci', 'partners'],
  databases: ['app'],
  readOnly: true,
  allow: ['read'],
  reads: ['public.*'],
  writes: [],
  denied: ['public.secrets'],
  functions: [],
  rules: [
    { name: 'no-secrets', decision: 'deny', reason: 'secrets stay in the vault' },
    {
      name: 'exports',
      decision: 'approve',
      reason: 'bulk exports need a DBA',
      approval: { approvers: ['alice', 'bob'], needed: 1, timeoutSeconds: 900, covers: 'once' },
    },
  ],
  maskedColumns: ['public.users.email'],
  limits: { rows: 10_000 },
};

function input(
  overrides: Partial<EvidenceSummary> = {},
  identities: readonly IdentityActivity[] = [identity('repo:acme/app:ref:refs/heads/main')],
  scopes: readonly EffectiveScope[] = [SCOPE],
): EvidenceReportInput {
  const timeline: ActivityDay[] = [
    { day: '2026-11-01', statements: 30, refusals: 1, approvals: 0, authenticationFailures: 0 },
    { day: '2026-11-03', statements: 10, refusals: 1, approvals: 2, authenticationFailures: 3 },
  ];
  const summary: EvidenceSummary = {
    version: 1,
    period: {
      from: '2026-11-01T00:00:00Z',
      to: '2026-11-08T00:00:00Z',
      fromMicros: FROM,
      toMicros: FROM + 7 * DAY,
    },
    generatedAt: '2026-11-08T06:00:00Z',
    policyDigests: ['a'.repeat(64)],
    counts: {
      sessions: 3,
      statements: 40,
      refusals: 2,
      approvals: { requested: 2, approved: 1, denied: 1, timedOut: 0, cancelled: 0 },
      maskedStatements: 0,
      authenticationFailures: 3,
      policyChanges: 1,
    },
    identities,
    identityRules: RULES,
    timeline,
    verification: { ok: true, writers: 2, digests: 168, chunks: 40, sessions: 3, records: 48, problems: [] },
    controls: CONTROLS,
    ...overrides,
  };
  return { summary, scopes, inventory: { identities, identityRules: summary.identityRules } };
}

/** The chart with this id, as its SVG source. */
function chart(html: string, id: string): string {
  const match = html.match(new RegExp(`<svg class="chart" id="${id}"[\\s\\S]*?</svg>`));
  return match?.[0] ?? '';
}

function bars(svg: string, series: string): { width: number; height: number; title: string }[] {
  return [
    ...svg.matchAll(new RegExp(`<rect class="bar ${series}"[^>]*>(?:<title>([^<]*)</title>)?`, 'g')),
  ].map((m) => ({
    width: Number(m[0].match(/ width="([\d.]+)"/)?.[1]),
    height: Number(m[0].match(/ height="([\d.]+)"/)?.[1]),
    title: m[1] ?? '',
  }));
}

describe('evidenceReport', () => {
  it('is one document with no script, no external resource and no absolute link', () => {
    const html = evidenceReport(input());
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/\bsrc=/i);
    expect(html).not.toMatch(/href="(https?:)?\/\//i);
    expect(html).not.toMatch(/url\(|@import/i);
    expect(html).toContain(`default-src 'none'`);
    // Every link is either to a section of the page or to a file of the package.
    for (const [, href] of html.matchAll(/href="([^"]*)"/g))
      expect(href).toMatch(/^#[a-z]+$|^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/);
  });

  it('states the period, when it was generated, the policies in force and how to verify the package', () => {
    const html = evidenceReport(input());
    expect(html).toContain('2026-11-01T00:00:00Z');
    expect(html).toContain('2026-11-08T00:00:00Z');
    expect(html).toContain('2026-11-08T06:00:00Z');
    expect(html).toContain('a'.repeat(64));
    expect(html).toContain('verify with <code>gatehouse export --check</code>');
  });

  it('shows the counts at a glance, approvals by outcome', () => {
    const html = evidenceReport(input());
    const glance = html.slice(html.indexOf('id="glance"'), html.indexOf('id="controls"'));
    for (const [value, name] of [
      ['3', 'sessions'],
      ['40', 'statements'],
      ['2', 'refusals'],
      ['2', 'approvals requested'],
      ['0', 'masked statements'],
      ['3', 'authentication failures'],
      ['1', 'policy changes'],
    ])
      expect(glance).toContain(`<span class="value">${value}</span><span class="name">${name}</span>`);
    expect(glance).toContain('1 approved · 1 denied · 0 timed out · 0 cancelled');
  });

  it('escapes every value that comes from a client or a policy', () => {
    const hostile = identity(HOSTILE, {
      issuer: SCRIPT,
      identityRules: [HOSTILE],
      grants: [SCRIPT],
      admittedNow: false,
    });
    const html = evidenceReport(
      input(
        {
          period: {
            from: HOSTILE,
            to: SCRIPT,
            fromMicros: FROM,
            toMicros: FROM + DAY,
          },
          generatedAt: SCRIPT,
          policyDigests: [HOSTILE],
          identityRules: [{ ...RULES[0]!, name: HOSTILE, issuer: SCRIPT, claims: { [HOSTILE]: [SCRIPT] } }],
          timeline: [{ day: HOSTILE, statements: 1, refusals: 1, approvals: 1, authenticationFailures: 1 }],
          controls: [control('AU-3', { title: HOSTILE, reason: SCRIPT, evidence: [HOSTILE] })],
          verification: {
            ok: false,
            writers: 1,
            digests: 1,
            chunks: 1,
            sessions: 1,
            records: 1,
            problems: [{ writer: HOSTILE, kind: SCRIPT, session: HOSTILE, detail: SCRIPT }],
          },
        },
        [hostile],
        [
          {
            ...SCOPE,
            grant: HOSTILE,
            identityRules: [SCRIPT],
            databases: [HOSTILE],
            role: SCRIPT,
            reads: [HOSTILE],
            rules: [
              {
                name: HOSTILE,
                decision: 'approve',
                reason: SCRIPT,
                approval: { approvers: [HOSTILE], needed: 1, timeoutSeconds: 60, covers: SCRIPT },
              },
            ],
            maskedColumns: [SCRIPT],
            limits: { [HOSTILE]: SCRIPT },
          },
        ],
      ),
    );
    expect(html).not.toMatch(/<img/i);
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;');
    expect(html).toContain('&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;');
    // Escaped in the chart too: the subject is the bar's label and its title.
    expect(chart(html, 'chart-identities')).toContain('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;');
    // A file name that is no plain package path is shown, not linked.
    expect(html).not.toContain('class="evidence-file"');
  });

  it('renders an empty period without charts or tables of nothing', () => {
    const zero = { requested: 0, approved: 0, denied: 0, timedOut: 0, cancelled: 0 };
    const html = evidenceReport(
      input(
        {
          counts: {
            sessions: 0,
            statements: 0,
            refusals: 0,
            approvals: zero,
            maskedStatements: 0,
            authenticationFailures: 0,
            policyChanges: 0,
          },
          timeline: [],
          policyDigests: [],
          identityRules: RULES.map((r) => ({ ...r, identitiesSeen: 0, unused: true })),
          verification: {
            ok: true,
            writers: 0,
            digests: 0,
            chunks: 0,
            sessions: 0,
            records: 0,
            problems: [],
          },
        },
        [],
      ),
    );
    expect(html).toContain('No records in this period');
    expect(html).toContain('No identity ran a statement in this period.');
    expect(html).toContain('No refusals and no approval requests in this period.');
    expect(html).toContain('No authentication failures in this period.');
    expect(html).toContain('No identity was seen in this period.');
    expect(html).toContain('none recorded in the period');
    expect(html).not.toContain('<svg');
    // The policy's rules are still listed: in an empty period each admitted nobody.
    expect(html.match(/<span class="flag">admitted nobody<\/span>/g)).toHaveLength(2);
  });

  it('renders a package with nothing at all in it, even a period of no length', () => {
    const html = evidenceReport(
      input(
        {
          period: {
            from: '2026-11-01T00:00:00Z',
            to: '2026-11-01T00:00:00Z',
            fromMicros: FROM,
            toMicros: FROM,
          },
          identityRules: [],
          controls: [],
          timeline: [],
        },
        [],
        [],
      ),
    );
    expect(html).toContain('The package assesses no controls.');
    expect(html).toContain('The policy has no identity rules.');
    expect(html).toContain('The policy states no grants.');
    expect(html).toContain('no controls assessed');
  });

  it('shows a not-satisfied AU-9 with the problems verification found', () => {
    const problems = [
      { writer: 'task-1', kind: 'gap', session: 's-42', detail: 'chunk 7 of session s-42 is missing' },
      { writer: 'task-2', kind: 'tampered', detail: 'digest 2026-11-02T10 does not match its records' },
    ];
    const html = evidenceReport(
      input({
        verification: { ok: false, writers: 2, digests: 168, chunks: 40, sessions: 3, records: 48, problems },
        controls: [
          ...CONTROLS.filter((c) => c.control !== 'AU-9'),
          control('AU-9', {
            status: 'not-satisfied',
            reason: 'verification found 2 problems',
            evidence: ['verification.json'],
          }),
        ],
      }),
    );
    const au9 = html.match(/<tr class="control" data-control="AU-9">[\s\S]*?<\/tr>/)?.[0] ?? '';
    expect(au9).toContain('<span class="badge not-satisfied">&#10005; not satisfied</span>');
    expect(au9).toContain('verification found 2 problems');
    expect(html).toContain('Verification failed: 2 problems.');
    const rows = html.match(/<tr class="verification-problem">[\s\S]*?<\/tr>/g) ?? [];
    expect(rows).toHaveLength(2);
    expect(rows[0]).toContain('chunk 7 of session s-42 is missing');
    expect(rows[0]).toContain('<code>s-42</code>');
    expect(rows[1]).toContain('digest 2026-11-02T10 does not match its records');
    // The header says so before anything else.
    expect(html).toMatch(
      /<header class="top">.*<span class="badge not-satisfied">1 control not satisfied<\/span>/,
    );
    expect(html).not.toContain('<p class="ok">');
  });

  it('gives each control its status badge and links its evidence files by their package paths', () => {
    const html = evidenceReport(input());
    const rows = html.match(/<tr class="control" data-control="[^"]+">[\s\S]*?<\/tr>/g) ?? [];
    expect(rows).toHaveLength(CONTROLS.length);
    rows.forEach((row, index) => {
      const c = CONTROLS[index]!;
      expect(row).toContain(`data-control="${c.control}"`);
      expect(row).toContain(`<span class="badge ${c.status}">`);
      const hrefs = [...row.matchAll(/<a class="evidence-file" href="([^"]*)">/g)].map((m) => m[1]);
      expect(hrefs).toEqual(c.evidence);
    });
    expect(html).toContain('&#10003; satisfied</span>');
    expect(html).toContain('! satisfied with findings</span>');
    expect(html).toContain('<p class="ok"><strong>Verified.</strong> Checked 48 records');
  });

  it('links only plain relative package paths', () => {
    expect(packageHref('audit/records.jsonl')).toBe('audit/records.jsonl');
    expect(packageHref('oscal/assessment-results.json')).toBe('oscal/assessment-results.json');
    for (const path of [
      'javascript:alert(1)',
      'http://evil.example/x',
      '//evil.example/x',
      '/etc/passwd',
      '../outside.json',
      'a/./b',
      'a b.json',
      '',
    ])
      expect(packageHref(path)).toBeUndefined();
    const html = evidenceReport(
      input({ controls: [control('AU-2', { evidence: ['audit/records.jsonl', 'http://evil.example/x'] })] }),
    );
    expect(html).toContain('<a class="evidence-file" href="audit/records.jsonl">');
    expect(html).toContain('<li><code>http://evil.example/x</code></li>');
    expect(html).not.toContain('href="http');
  });

  it('draws one statements bar and one refusals bar per identity, most active first, widths to scale', () => {
    const identities = [
      identity('small', { statements: 10, refusals: 0 }),
      identity('large', { statements: 400, refusals: 20 }),
      identity('medium', { statements: 200, refusals: 5 }),
      identity('idle', { statements: 0, refusals: 0, authenticationFailures: 4 }),
    ];
    const svg = chart(evidenceReport(input({}, identities)), 'chart-identities');
    const statements = bars(svg, 'statements');
    const refusals = bars(svg, 'refusals');
    // The identity that ran nothing has no bar (it is in the inventory).
    expect(statements).toHaveLength(3);
    expect(refusals).toHaveLength(3);
    expect(statements.map((b) => b.title)).toEqual([
      'large (https://token.actions.githubusercontent.com): 400 statements',
      'medium (https://token.actions.githubusercontent.com): 200 statements',
      'small (https://token.actions.githubusercontent.com): 10 statements',
    ]);
    expect(statements[0]!.width).toBeCloseTo(2 * statements[1]!.width, 0);
    expect(refusals[2]!.width).toBe(0);
  });

  it('shows only the most active identities when there are many, and says so', () => {
    const identities = Array.from({ length: 30 }, (_, i) => identity(`job-${i}`, { statements: i + 1 }));
    const html = evidenceReport(input({}, identities), { topIdentities: 10 });
    const svg = chart(html, 'chart-identities');
    expect(bars(svg, 'statements')).toHaveLength(10);
    expect(bars(svg, 'statements')[0]!.title).toContain('job-29');
    expect(html).toContain('The 10 most active of 30 identities');
    // The inventory lists them all.
    expect(html.match(/<tr class="identity[ "]/g)).toHaveLength(30);
  });

  it('draws one bar per day of the period for each series, quiet days included', () => {
    const html = evidenceReport(input());
    const decisions = chart(html, 'chart-decisions');
    const refusals = bars(decisions, 'refusals');
    const approvals = bars(decisions, 'approvals');
    expect(refusals).toHaveLength(7);
    expect(approvals).toHaveLength(7);
    expect(refusals.map((b) => b.title)).toEqual([
      '2026-11-01: 1 refusals',
      '2026-11-02: 0 refusals',
      '2026-11-03: 1 refusals',
      '2026-11-04: 0 refusals',
      '2026-11-05: 0 refusals',
      '2026-11-06: 0 refusals',
      '2026-11-07: 0 refusals',
    ]);
    expect(approvals[2]!.height).toBeGreaterThan(refusals[2]!.height);
    expect(refusals[1]!.height).toBe(0);
    const failures = bars(chart(html, 'chart-authentication'), 'authentication-failures');
    expect(failures).toHaveLength(7);
    expect(failures[2]!.title).toBe('2026-11-03: 3 authentication failures');
  });

  it('lists every identity seen, flagging those no longer admitted, and the rules that admitted nobody', () => {
    const html = evidenceReport(
      input({}, [
        identity('repo:acme/app:ref:refs/heads/main'),
        identity('repo:acme/old', { admittedNow: false }),
      ]),
    );
    const rows = html.match(/<tr class="identity( flagged)?">[\s\S]*?<\/tr>/g) ?? [];
    expect(rows).toHaveLength(2);
    const flagged = rows.filter((r) => r.includes('no longer admitted'));
    expect(flagged).toHaveLength(1);
    expect(flagged[0]).toContain('repo:acme/old');
    expect(flagged[0]).toContain('<tr class="identity flagged">');
    expect(rows[0]).toContain('2026-11-01 01:00<br>2026-11-03 00:00');
    expect(html).toContain('1 identity seen in the period is no longer admitted');
    const unused = html.match(/<tr class="identity-rule flagged">[\s\S]*?<\/tr>/g) ?? [];
    expect(unused).toHaveLength(1);
    expect(unused[0]).toContain('partners');
    expect(unused[0]).toContain('admitted nobody');
  });

  it('states each grant’s effective scope', () => {
    const html = evidenceReport(input());
    const scopes = html.slice(html.indexOf('id="scopes"'));
    expect(scopes).toContain('<h3>read <span class="flag">read-only</span></h3>');
    expect(scopes).toContain('<code>public.secrets</code>');
    expect(scopes).toContain('<code>public.users.email</code>');
    expect(scopes).toContain(
      '<strong>no-secrets</strong> <span class="badge deny">deny</span>: secrets stay in the vault',
    );
    expect(scopes).toContain('1 of alice, bob; times out after 900 s; covers once');
    expect(scopes).toContain('<code>rows</code> 10000');
  });

  it('shows what the builder adds when it is there: records per file, the policy, the edges, conditions', () => {
    const html = evidenceReport(
      input(
        {
          controls: [
            control('IA-2', {
              evidence: ['authentication-failures.jsonl'],
              records: [
                {
                  file: 'authentication-failures.jsonl',
                  select: 'type = session-start, authentication ≠ accepted',
                  count: 3,
                },
              ],
            }),
          ],
          policy: { digest: 'b'.repeat(64), inForceAtEnd: 'c'.repeat(64) },
          boundaries: { sessionsStartedBefore: 2, sessionsOpenAtEnd: 1, unattributedRecords: 0 },
        },
        undefined,
        [
          {
            ...SCOPE,
            searchPath: 'any',
            audit: { statements: ['all'], record: true, strict: ['ddl'] },
            rules: [{ name: 'drops', decision: 'approve', when: { commands: ['DROP TABLE'] } }],
          },
        ],
      ),
    );
    expect(html).toContain(
      '<li><a class="evidence-file" href="authentication-failures.jsonl"><code>authentication-failures.jsonl</code></a><span class="selection">type = session-start, authentication ≠ accepted: 3 records</span></li>',
    );
    expect(html).toContain(`<code>${'b'.repeat(64)}</code> (<a class="evidence-file" href="policy.yaml">`);
    expect(html).toContain('differs from the policy in force at the end');
    expect(html).toContain(
      'At the period’s edges: 2 sessions started before it (counted with what they did in it); 1 session still open at its end.</p>',
    );
    expect(html).toContain(
      '<dt>Search path</dt><dd><span class="muted">any (left to the client)</span></dd>',
    );
    expect(html).toContain('statements: all; sessions recorded; strict: ddl');
    expect(html).toContain('when <code>commands</code> [&quot;DROP TABLE&quot;]');
    // Without them, nothing of it shows.
    const plain = evidenceReport(input());
    expect(plain).not.toContain('class="selection"');
    expect(plain).not.toContain('policy.yaml');
    expect(plain).not.toContain('At the period’s edges');
    expect(plain).not.toContain('Search path');
  });

  it('prints on A4', () => {
    const html = evidenceReport(input());
    expect(html).toContain('@page{size:A4');
    expect(html).toContain('@media print{');
  });
});

describe('report charts', () => {
  it('fills the period’s quiet days in, and keeps timeline days outside it', () => {
    expect(dayAxis(FROM, FROM + 3 * DAY, ['2026-11-02'])).toEqual(['2026-11-01', '2026-11-02', '2026-11-03']);
    expect(dayAxis(FROM, FROM + DAY, ['2026-10-31'])).toEqual(['2026-10-31', '2026-11-01']);
    // `to` is exclusive; a period of no length still has its day.
    expect(dayAxis(FROM, FROM + DAY + 1, [])).toEqual(['2026-11-01', '2026-11-02']);
    expect(dayAxis(FROM, FROM, [])).toEqual(['2026-11-01']);
  });

  it('shows only the timeline’s days for a very long period or no valid one', () => {
    expect(dayAxis(FROM, FROM + 1000 * DAY, ['2027-01-05', '2026-12-01'])).toEqual([
      '2026-12-01',
      '2027-01-05',
    ]);
    expect(dayAxis(Number.NaN, Number.NaN, ['2026-12-01'])).toEqual(['2026-12-01']);
  });

  it('scales axes to round numbers', () => {
    expect(niceScale(0)).toEqual({ step: 1, top: 1 });
    expect(niceScale(3)).toEqual({ step: 1, top: 3 });
    expect(niceScale(18_240)).toEqual({ step: 5000, top: 20_000 });
    expect(niceScale(69)).toEqual({ step: 20, top: 80 });
  });

  it('shortens labels in the middle without splitting a character', () => {
    expect(shorten('short', 10)).toBe('short');
    expect(shorten('repo:acme/billing:environment:production', 20)).toBe('repo:acme…production');
    expect(Array.from(shorten('😀'.repeat(30), 9))).toHaveLength(9);
  });
});
