#!/usr/bin/env node
// Renders the evidence package's report.html for the README: the report the export writes, drawn by
// the report module itself from an example period (fictitious identities and counts, consistent with
// one another), in Chromium, as a full-page screenshot. The image is labelled as such.
// Usage: npm run build && node tools/evidence-report-screenshot.js [docs/images/evidence-report.png]
'use strict';
const path = require('node:path');
const { mkdirSync } = require('node:fs');
const { chromium } = require('playwright-core');
const dist = path.join(__dirname, '..', 'dist');
const { evidenceReport } = require(path.join(dist, 'core/evidence/report-html.js'));

const out = path.resolve(
  process.argv[2] ?? path.join(__dirname, '..', 'docs', 'images', 'evidence-report.png'),
);

const GITHUB = 'https://token.actions.githubusercontent.com';
const EKS = 'https://oidc.eks.eu-west-1.amazonaws.com/id/5C1F0E8A92B4D7A3';
const from = Date.parse('2026-11-01T00:00:00Z');
const to = Date.parse('2026-12-01T00:00:00Z');
const DAY = 86_400_000;
const micros = (ms) => ms * 1000;
const days = Array.from({ length: (to - from) / DAY }, (_, i) =>
  new Date(from + i * DAY).toISOString().slice(0, 10),
);
const weekday = (i) => new Date(from + i * DAY).getUTCDay() % 6 !== 0;

/** A deterministic sequence in [0, 1), so every run draws the same picture. */
let seed = 20261101;
function random() {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
}

// Who connected: [issuer, subject, rules, grants, statements, refusals, approvals, masked, auth failures, days active, admitted now]
const people = [
  [
    GITHUB,
    'repo:acme/billing:environment:production',
    ['billing-deploys'],
    ['migrations'],
    412,
    9,
    14,
    0,
    1,
    'weekdays',
    true,
  ],
  [
    GITHUB,
    'repo:acme/billing:ref:refs/heads/main',
    ['billing-ci'],
    ['ci-read'],
    3_870,
    41,
    0,
    1_204,
    3,
    'weekdays',
    true,
  ],
  [
    EKS,
    'system:serviceaccount:analytics:report-builder',
    ['analytics-pods'],
    ['analytics-read'],
    18_240,
    2,
    0,
    18_240,
    0,
    'daily',
    true,
  ],
  [
    GITHUB,
    'repo:acme/warehouse:environment:production',
    ['warehouse-etl'],
    ['etl'],
    9_615,
    0,
    3,
    2_310,
    0,
    'daily',
    true,
  ],
  [
    EKS,
    'system:serviceaccount:payments:reconciler',
    ['payments-pods'],
    ['payments'],
    6_022,
    17,
    2,
    6_022,
    0,
    'daily',
    true,
  ],
  [
    GITHUB,
    'repo:acme/support-tools:ref:refs/heads/main',
    ['support-tools'],
    ['support-read'],
    1_288,
    63,
    0,
    1_288,
    5,
    'weekdays',
    true,
  ],
  [
    GITHUB,
    'repo:acme/billing:pull_request',
    ['billing-ci'],
    ['ci-read'],
    2_104,
    118,
    0,
    640,
    2,
    'weekdays',
    true,
  ],
  [
    GITHUB,
    'repo:acme/legacy-export:ref:refs/heads/main',
    ['legacy-export'],
    ['support-read'],
    96,
    12,
    0,
    96,
    6,
    'early',
    false,
  ],
  [
    EKS,
    'system:serviceaccount:ops:backup-verifier',
    ['ops-pods'],
    ['ops-read'],
    744,
    0,
    0,
    0,
    0,
    'daily',
    true,
  ],
];

const timeline = days.map((day) => ({
  day,
  statements: 0,
  refusals: 0,
  approvals: 0,
  authenticationFailures: 0,
}));
/** Spreads `total` over the days an identity is active, returning first and last day used. */
function spread(total, field, pattern) {
  const active = days.map((_, i) =>
    pattern === 'daily' ? true : pattern === 'weekdays' ? weekday(i) : i < 11,
  );
  const weights = active.map((on) => (on ? 0.4 + random() : 0));
  const sum = weights.reduce((a, b) => a + b, 0);
  // Largest remainders: whole shares that add up to the total, in proportion to the weights.
  const exact = weights.map((w) => (total * w) / sum);
  const shares = exact.map(Math.floor);
  const order = exact.map((x, i) => [x - Math.floor(x), i]).sort((a, b) => b[0] - a[0]);
  for (let k = 0, left = total - shares.reduce((a, b) => a + b, 0); k < left; k++) shares[order[k][1]] += 1;
  const used = [];
  shares.forEach((share, i) => {
    if (share > 0) used.push(i);
    timeline[i][field] += share;
  });
  return used;
}

const identities = people.map(
  ([
    issuer,
    subject,
    identityRules,
    grants,
    statements,
    refusals,
    approvals,
    masked,
    failures,
    pattern,
    admittedNow,
  ]) => {
    const used = spread(statements, 'statements', pattern);
    spread(refusals, 'refusals', pattern);
    spread(approvals, 'approvals', pattern);
    spread(failures, 'authenticationFailures', pattern);
    const first = used[0] ?? 0;
    const last = used[used.length - 1] ?? 0;
    return {
      issuer,
      subject,
      identityRules,
      grants,
      firstSeen: micros(from + first * DAY + (7 * 3600 + Math.floor(random() * 7200)) * 1000),
      lastSeen: micros(from + last * DAY + (16 * 3600 + Math.floor(random() * 7200)) * 1000),
      sessions: Math.max(1, Math.round(statements / (8 + random() * 30))),
      statements,
      refusals,
      approvalsRequested: approvals,
      maskedStatements: masked,
      authenticationFailures: failures,
      admittedNow,
    };
  },
);

const sum = (field) => identities.reduce((total, identity) => total + identity[field], 0);
const rule = (name, issuer, claims, grants) => {
  const seen = identities.filter((i) => i.identityRules.includes(name)).length;
  return { name, issuer, claims, grants, identitiesSeen: seen, unused: seen === 0 };
};
const identityRules = [
  rule('billing-deploys', GITHUB, { repository: ['acme/billing'], environment: ['production'] }, [
    'migrations',
  ]),
  rule('billing-ci', GITHUB, { repository: ['acme/billing'] }, ['ci-read']),
  rule('warehouse-etl', GITHUB, { repository: ['acme/warehouse'], environment: ['production'] }, ['etl']),
  rule('support-tools', GITHUB, { repository: ['acme/support-tools'], ref: ['refs/heads/main'] }, [
    'support-read',
  ]),
  rule('analytics-pods', EKS, { sub: ['system:serviceaccount:analytics:report-builder'] }, [
    'analytics-read',
  ]),
  rule('payments-pods', EKS, { sub: ['system:serviceaccount:payments:reconciler'] }, ['payments']),
  rule('ops-pods', EKS, { sub: ['system:serviceaccount:ops:backup-verifier'] }, ['ops-read']),
  rule('partner-sync', GITHUB, { repository: ['acme/partner-sync'] }, ['etl']),
];

const approvalsRequested = sum('approvalsRequested');
const failures = sum('authenticationFailures');
const summary = {
  version: 1,
  period: {
    from: '2026-11-01T00:00:00Z',
    to: '2026-12-01T00:00:00Z',
    fromMicros: micros(from),
    toMicros: micros(to),
  },
  generatedAt: '2026-12-01T06:00:12Z',
  policyDigests: [
    '9f2c4e51b7d80a3c6e1f5b2d48a97c03e6d1f4a2b8c05e79d3a6f1b4c2e8d705',
    'c41e07b9a2d5f8630e4b1c97d2a5e8f0b3c6d9e2f5a8b1c4d7e0f3a6b9c2d5e8',
  ],
  counts: {
    sessions: sum('sessions'),
    statements: sum('statements'),
    refusals: sum('refusals'),
    approvals: {
      requested: approvalsRequested,
      approved: approvalsRequested - 3,
      denied: 1,
      timedOut: 1,
      cancelled: 1,
    },
    maskedStatements: sum('maskedStatements'),
    authenticationFailures: failures,
    policyChanges: 2,
  },
  identities,
  identityRules,
  timeline,
  verification: {
    ok: true,
    writers: 4,
    digests: 2_880,
    chunks: 11_604,
    sessions: sum('sessions'),
    records: 0,
    problems: [],
  },
  controls: [],
};
summary.verification.records = summary.counts.sessions * 2 + summary.counts.statements + failures + 2;

const control = (id, title, status, reason, evidence, records) => ({
  control: id,
  title,
  status,
  reason,
  evidence,
  ...(records ? { records } : {}),
});
summary.controls = [
  control(
    'AC-2',
    'Account Management',
    'satisfied-with-findings',
    '9 identities seen; 1 seen in the period is no longer admitted (repo:acme/legacy-export); 1 identity rule admitted nobody (partner-sync).',
    ['inventory.json'],
  ),
  control(
    'AC-6',
    'Least Privilege',
    'satisfied',
    'Every grant states its databases, relations and statement classes; 7 grants in force.',
    ['scopes.json'],
  ),
  control(
    'AU-2',
    'Event Logging',
    'satisfied',
    'Every session, statement, decision and policy change of the period has a record.',
    ['audit/records.jsonl'],
  ),
  control(
    'AU-3',
    'Content of Audit Records',
    'satisfied',
    'Records name the identity, database, statement, decision and outcome, with times.',
    ['audit/records.jsonl'],
  ),
  control(
    'AU-9',
    'Protection of Audit Information',
    'satisfied',
    'Verification found every record under a signed digest; Object Lock retains them.',
    ['verification.json', 'audit/records.jsonl'],
  ),
  control(
    'AU-10',
    'Non-repudiation',
    'satisfied',
    'Digests and this package are signed with the audit key (KMS).',
    ['verification.json', 'manifest.json'],
  ),
  control(
    'AU-12',
    'Audit Record Generation',
    'satisfied',
    '4 gateway tasks wrote records throughout the period.',
    ['audit/records.jsonl'],
  ),
  control(
    'CM-3',
    'Configuration Change Control',
    'satisfied',
    `2 policy versions applied, each recorded with its digest; ${approvalsRequested - 3} statements ran after approval.`,
    ['policy-changes.jsonl', 'approvals.jsonl'],
  ),
  control(
    'CM-5',
    'Access Restrictions for Change',
    'satisfied',
    'Schema changes ran only under the migrations grant, after approval by a DBA.',
    ['approvals.jsonl', 'scopes.json'],
  ),
  control(
    'IA-2',
    'Identification and Authentication (Organizational Users)',
    'satisfied-with-findings',
    `Every session authenticated with an OIDC token; ${failures} authentication failures to review.`,
    ['authentication-failures.jsonl'],
    [
      {
        file: 'authentication-failures.jsonl',
        select: 'type = session-start, authentication ≠ accepted',
        count: failures,
      },
    ],
  ),
  control(
    'IA-5',
    'Authenticator Management',
    'satisfied',
    'No passwords: short-lived tokens from 2 issuers, verified against their keys.',
    ['authentication-failures.jsonl', 'inventory.json'],
  ),
  control(
    'SC-28',
    'Protection of Information at Rest',
    'satisfied',
    `${summary.counts.maskedStatements.toLocaleString('en-US')} statements had results masked by policy.`,
    ['masking.jsonl'],
  ),
];

summary.policy = { digest: summary.policyDigests[1], inForceAtEnd: summary.policyDigests[1] };
summary.boundaries = { sessionsStartedBefore: 3, sessionsOpenAtEnd: 1, unattributedRecords: 0 };

const scope = (grant, identityRules, databases, more) => ({
  grant,
  identityRules,
  databases,
  readOnly: false,
  allow: ['read'],
  reads: [],
  writes: [],
  denied: [],
  functions: [],
  rules: [],
  maskedColumns: [],
  limits: {},
  ...more,
});
const scopes = [
  scope('migrations', ['billing-deploys'], ['billing'], {
    role: 'billing_owner',
    allow: ['read', 'write', 'ddl', 'transaction'],
    reads: ['*'],
    writes: ['*'],
    rules: [
      {
        name: 'drops-need-a-dba',
        decision: 'approve',
        reason: 'dropping a table needs a DBA',
        approval: { approvers: ['alice', 'bob', 'carol'], needed: 1, timeoutSeconds: 900, covers: 'once' },
      },
    ],
    limits: { statementTimeout: '5m' },
    searchPath: ['public'],
  }),
  scope('ci-read', ['billing-ci'], ['billing'], {
    readOnly: true,
    reads: ['public.*'],
    denied: ['public.cards'],
    maskedColumns: ['public.customers.email'],
    limits: { rows: 10000 },
  }),
  scope('analytics-read', ['analytics-pods'], ['billing', 'warehouse'], {
    readOnly: true,
    reads: ['reporting.*'],
    maskedColumns: ['reporting.customers.email', 'reporting.customers.phone'],
  }),
  scope('etl', ['warehouse-etl', 'partner-sync'], ['warehouse'], {
    allow: ['read', 'write', 'transaction'],
    reads: ['staging.*', 'core.*'],
    writes: ['core.*'],
    rules: [{ name: 'no-truncate', decision: 'deny', reason: 'TRUNCATE is not part of the load' }],
  }),
  scope('payments', ['payments-pods'], ['payments'], {
    allow: ['read', 'write', 'transaction'],
    reads: ['ledger.*'],
    writes: ['ledger.reconciliations'],
    functions: ['ledger.settle(bigint)'],
    maskedColumns: ['ledger.accounts.iban'],
  }),
  scope('support-read', ['support-tools', 'legacy-export'], ['billing'], {
    readOnly: true,
    reads: ['public.customers', 'public.invoices'],
    maskedColumns: ['public.customers.email', 'public.customers.phone'],
  }),
  scope('ops-read', ['ops-pods'], ['billing', 'warehouse', 'payments'], {
    readOnly: true,
    reads: ['pg_catalog.*'],
  }),
];

const LABEL = `<style>.example-label{margin:0 auto 12px;max-width:1040px;color:#57606a;font:12px/1.4 -apple-system,'Segoe UI',Helvetica,Arial,sans-serif;border-bottom:1px dashed #bbb;padding-bottom:6px}</style>
<p class="example-label">Rendering of the evidence package's report.html for an example period (November 2026; fictitious identities and counts).</p>`;

async function main() {
  const html = evidenceReport({ summary, scopes, inventory: { identities, identityRules } }).replace(
    '<body>',
    `<body>${LABEL}`,
  );
  mkdirSync(path.dirname(out), { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
  const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
  await page.setContent(html, { waitUntil: 'load' });
  await page.screenshot({ path: out, fullPage: true });
  await browser.close();
  process.stdout.write(`${out}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
