import { grantFor } from '../../../core/policy/admission';
import { withinAllowedHours } from '../../../core/policy/allowed-hours';
import type { CompiledPolicy, Grant, Identity } from '../../../core/policy/compiled-policy';
import { decide } from '../../../core/policy/decide';
import { loadPolicy } from '../../../core/policy/load-policy';
import { startupSettings } from '../../../core/policy/session-settings';
import { analyse } from '../../../core/sql/analyse';
import type { StatementAnalysis } from '../../../core/sql/analysis';
import { loadParser } from '../../../core/sql/parser';

beforeAll(() => loadParser());

const POLICY = `
version: 1
identities:
  release:
    issuer: https://token.actions.githubusercontent.com
    claims:
      repository_id: "123456"
      ref: [refs/heads/main, refs/tags/v*]
  reports:
    issuer: local
    claims: { sub: "report-*" }
  admins:
    issuer: local
    claims: { groups: dba }
groups:
  ci: [release, reports]
grants:
  - name: dba
    to: [admins]
    searchPath: any
    allow: [read, write, ddl, admin, session, transaction]
    relations: { read: ["*"], write: ["*"] }
    functions: ["*"]
  - name: reporting
    to: [ci]
    databases: [demo, "analytics_*"]
    role: reporting_ro
    readOnly: true
    allow: [read, session, transaction]
    relations:
      read: ["public.*", "pg_catalog.*"]
      deny: [public.secrets]
    functions: [public.safe_*]
    rules:
      - name: no-huge-scans
        decision: deny
        reason: the events table is too large to scan
        when: { relations: [public.events], commands: [SELECT] }
    limits:
      statementTimeoutMs: 5000
      allowedHours: { days: [mon, tue, wed, thu, fri], from: "22:00", to: "06:00", timezone: Europe/Paris }
  - name: writers
    to: [release]
    databases: [billing]
    allow: [read, write, transaction]
    relations: { read: ["public.*"], write: ["public.*"] }
    rules:
      - name: bulk-changes
        decision: approve
        when: { commands: [DELETE, UPDATE], unbounded: true }
`;

function compiled(source = POLICY): CompiledPolicy {
  const loaded = loadPolicy(source);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  return loaded.policy;
}

const reportJob: Identity = {
  issuer: 'https://issuer.gatehouse.local',
  issuerName: 'local',
  subject: 'report-7',
  claims: { sub: 'report-7' },
};

/** The release pipeline's job, as its GitHub token names it: grant `writers` on `billing`. */
const releaseJob: Identity = {
  issuer: 'https://token.actions.githubusercontent.com',
  subject: 's',
  claims: { repository_id: '123456', ref: 'refs/heads/main' },
};

/** The writers grant's rules, with one more: DROP TABLE needs approval. */
const withDropRule = (source: string) =>
  source.replace(
    '        when: { commands: [DELETE, UPDATE], unbounded: true }\n',
    '        when: { commands: [DELETE, UPDATE], unbounded: true }\n      - name: drops\n        decision: approve\n        when: { commands: [DROP TABLE] }\n',
  );

function grant(policy: CompiledPolicy, identity: Identity, database: string): Grant {
  const found = grantFor(policy, identity, database);
  if (!found) throw new Error('no grant');
  return found;
}

function decision(policy: CompiledPolicy, g: Grant, sql: string, prepared?: Map<string, StatementAnalysis>) {
  const result = analyse(sql);
  if (!result.ok) throw new Error(result.failure.message);
  const d = decide(policy, g, result.analysis, prepared);
  return { outcome: d.outcome, rule: d.rule, reason: d.reason };
}

describe('loading a policy', () => {
  it('reports unknown keys, wrong types and bad references with their line and column', () => {
    const result = loadPolicy(
      [
        'version: 1',
        'grants:',
        '  - name: a',
        '    to: [nobody]',
        '    alow: [read]',
        '    readOnly: maybe',
      ].join('\n'),
    );
    expect(result.ok).toBe(false);
    const problems = result.ok ? [] : result.problems.map((p) => `${p.line}:${p.column} ${p.message}`);
    expect(problems).toEqual(['6:15 Expected boolean, received string', '5:5 unknown key "alow"']);
    const references = loadPolicy('version: 1\ngrants:\n  - name: a\n    to: [nobody]\n');
    expect(references).toMatchObject({
      ok: false,
      problems: [{ line: 4, column: 10, message: 'unknown identity or group "nobody"' }],
    });
  });

  it('reports YAML syntax errors and a missing version', () => {
    expect(loadPolicy('version: 1\ngrants: [\n')).toMatchObject({ ok: false, problems: [{ line: 3 }] });
    expect(loadPolicy('grants: []\n')).toMatchObject({ ok: false, problems: [{ path: 'version' }] });
  });

  it('compiles, with a digest of the exact text', () => {
    expect(compiled().digest).toMatch(/^[0-9a-f]{64}$/);
    expect(compiled().digest).not.toBe(compiled(`${POLICY}\n`).digest);
  });
});

describe('admission', () => {
  const policy = compiled();

  it('matches identities by issuer (URL or configured name) and claims, and takes the first grant', () => {
    expect(grant(policy, reportJob, 'demo').name).toBe('reporting');
    expect(grant(policy, reportJob, 'analytics_eu').name).toBe('reporting');
    expect(grantFor(policy, reportJob, 'billing')).toBeUndefined();
    expect(grantFor(policy, { ...reportJob, claims: { sub: 'other' } }, 'demo')).toBeUndefined();
    const github: Identity = {
      issuer: 'https://token.actions.githubusercontent.com',
      subject: 'repo:acme/app:ref:refs/tags/v1.2',
      claims: { repository_id: 123456, ref: 'refs/tags/v1.2' },
    };
    expect(grant(policy, github, 'billing').name).toBe('writers');
    expect(
      grantFor(policy, { ...github, claims: { repository_id: 123456, ref: 'refs/heads/dev' } }, 'billing'),
    ).toBeUndefined();
    expect(grantFor(policy, { ...github, issuer: 'https://evil.example' }, 'billing')).toBeUndefined();
    // A list claim matches when any element does.
    expect(grant(policy, { ...reportJob, claims: { sub: 'x', groups: ['ops', 'dba'] } }, 'demo').name).toBe(
      'dba',
    );
  });

  it('pushes the grant’s role, read-only mode, timeout and search path at startup', () => {
    expect(startupSettings(grant(policy, reportJob, 'demo'))).toEqual({
      role: 'reporting_ro',
      default_transaction_read_only: 'on',
      statement_timeout: '5000',
      search_path: 'public',
    });
  });
});

describe('decisions', () => {
  const policy = compiled();
  const reporting = grant(policy, reportJob, 'demo');
  const writers = grant(policy, releaseJob, 'billing');

  it.each([
    ['SELECT * FROM customers', 'allow', 'grant'],
    ['SELECT * FROM public.customers JOIN pg_class ON true', 'allow', 'grant'],
    ['SELECT lower(name), count(*) FROM customers GROUP BY 1', 'allow', 'grant'],
    ['SELECT public.safe_total(1)', 'allow', 'grant'],
    ['SELECT * FROM secrets', 'deny', 'relations'],
    ['SELECT * FROM other.customers', 'deny', 'relations'],
    ['SELECT * FROM events', 'deny', 'no-huge-scans'],
    ['DELETE FROM customers', 'deny', 'statement-classes'],
    ['WITH d AS (DELETE FROM customers RETURNING *) SELECT * FROM d', 'deny', 'statement-classes'],
    ['SELECT public.drop_everything()', 'deny', 'functions'],
    ["SELECT query_to_xml('select * from secrets', true, true, '')", 'deny', 'functions'],
    ["SELECT set_config('default_transaction_read_only', 'off', false)", 'deny', 'pinned-settings'],
    ['SET search_path = evil, public', 'deny', 'pinned-settings'],
    ['SET statement_timeout = 0', 'deny', 'pinned-settings'],
    ['BEGIN READ WRITE', 'deny', 'pinned-settings'],
    ['BEGIN READ ONLY', 'allow', 'grant'],
    ['SET ROLE postgres', 'deny', 'pinned-settings'],
    ['RESET ALL', 'allow', 'grant'],
    ['DO $$ BEGIN END $$', 'deny', 'unknown-statements'],
    ['EXECUTE unknown_one', 'deny', 'unknown-statements'],
    ['SELECT 1; DELETE FROM customers', 'deny', 'statement-classes'],
  ])('reporting: %s → %s (%s)', (sql, outcome, rule) => {
    expect(decision(policy, reporting, sql)).toMatchObject({ outcome, rule });
  });

  it('names the rule and gives its reason', () => {
    expect(decision(policy, reporting, 'SELECT * FROM public.events')).toEqual({
      outcome: 'deny',
      rule: 'no-huge-scans',
      reason: 'the events table is too large to scan',
    });
  });

  it('asks for approval, unless something else in the string is refused', () => {
    expect(decision(policy, writers, 'DELETE FROM invoices')).toMatchObject({
      outcome: 'approve',
      rule: 'bulk-changes',
    });
    expect(decision(policy, writers, 'DELETE FROM invoices WHERE id = 1')).toMatchObject({
      outcome: 'allow',
    });
    expect(decision(policy, writers, 'DELETE FROM invoices; DROP TABLE invoices')).toMatchObject({
      outcome: 'deny',
    });
  });

  it('only narrows with an approval rule: what the grant refuses is refused, never put to an approver', () => {
    // GIVEN a grant that writes public only, with a rule that drops need a DBA
    const drops = compiled(
      withDropRule(POLICY).replace(
        '    allow: [read, write, transaction]\n',
        '    allow: [read, write, ddl, transaction]\n',
      ),
    );
    const w = grant(drops, releaseJob, 'billing');
    // THEN a drop within its scope is sent for approval, one outside it is refused outright
    expect(decision(drops, w, 'DROP TABLE public.daily_totals')).toMatchObject({
      outcome: 'approve',
      rule: 'drops',
    });
    expect(decision(drops, w, 'DROP TABLE staging.daily_totals')).toMatchObject({
      outcome: 'deny',
      rule: 'relations',
      reason: 'writing staging.daily_totals is not allowed',
    });
    // And a class the grant does not allow is not made approvable by a rule about it
    const noDdl = compiled(withDropRule(POLICY));
    const n = grant(noDdl, releaseJob, 'billing');
    expect(decision(noDdl, n, 'DROP TABLE public.invoices')).toMatchObject({
      outcome: 'deny',
      rule: 'statement-classes',
    });
  });

  it('widens only by an explicit elevation, and only to what the elevated grant allows', () => {
    const elevation = compiled(`version: 1
identities:
  job: { issuer: local, claims: { sub: job } }
approvers:
  alice: { email: alice@example.com }
grants:
  - name: ci
    to: [job]
    allow: [read]
    relations: { read: ["public.*"] }
    rules:
      - name: writes
        decision: approve
        when: { classes: [write] }
        approval: { approvers: [alice], covers: { elevate: ci-writes, minutes: 30 } }
  - name: ci-writes
    to: [job]
    allow: [read, write]
    relations: { read: ["public.*"], write: ["public.*"] }
`);
    const ci = grant(
      elevation,
      {
        issuer: 'https://issuer.gatehouse.local',
        issuerName: 'local',
        subject: 'job',
        claims: { sub: 'job' },
      },
      'db',
    );
    expect(ci.name).toBe('ci');
    expect(decision(elevation, ci, 'DELETE FROM public.runs WHERE id = 1')).toMatchObject({
      outcome: 'approve',
      rule: 'writes',
    });
    // Beyond the elevated grant too: refused, as the grant says.
    expect(decision(elevation, ci, 'DELETE FROM ledger.entries WHERE id = 1')).toMatchObject({
      outcome: 'deny',
      rule: 'statement-classes',
    });
  });

  it('asks one approval for a query string only when one rule sends its statements for approval', () => {
    const twoRules = compiled(
      POLICY.replace(
        '        when: { commands: [DELETE, UPDATE], unbounded: true }\n',
        '        when: { commands: [DELETE, UPDATE], unbounded: true }\n      - name: inserts\n        decision: approve\n        when: { commands: [INSERT] }\n',
      ),
    );
    const w = grant(twoRules, releaseJob, 'billing');
    expect(decision(twoRules, w, 'DELETE FROM invoices; UPDATE invoices SET paid = true')).toMatchObject({
      outcome: 'approve',
      rule: 'bulk-changes',
    });
    expect(decision(twoRules, w, 'DELETE FROM invoices; INSERT INTO invoices VALUES (1)')).toMatchObject({
      outcome: 'deny',
      rule: 'approval-rules',
      reason: expect.stringMatching(/different rules \("bulk-changes", "inserts"\); send them one at a time/),
    });
  });

  it('applies a rule about a command wherever the statement performs it: in a CTE, under EXPLAIN ANALYZE', () => {
    for (const sql of [
      'WITH d AS (DELETE FROM invoices RETURNING 1) SELECT count(*) FROM d',
      'EXPLAIN ANALYZE DELETE FROM invoices',
      'WITH u AS (UPDATE invoices SET paid = true RETURNING id) SELECT * FROM u',
      'EXPLAIN (ANALYZE) UPDATE invoices SET paid = true',
    ]) {
      expect([sql, decision(policy, writers, sql)]).toMatchObject([
        sql,
        { outcome: 'approve', rule: 'bulk-changes' },
      ]);
    }
    // Bounded changes stay allowed, nested or not.
    expect(
      decision(policy, writers, 'WITH d AS (DELETE FROM invoices WHERE id = 1 RETURNING 1) SELECT * FROM d'),
    ).toMatchObject({
      outcome: 'allow',
    });
  });

  it('refuses writes to system catalogues unless the grant is admin and pins nothing', () => {
    expect(
      decision(policy, writers, "UPDATE pg_settings SET setting = 'off' WHERE name = 'x'"),
    ).toMatchObject({
      outcome: 'deny',
      rule: 'system-catalogs',
    });
    // A user table whose name merely starts with pg_ is not the catalogue.
    expect(decision(policy, writers, 'INSERT INTO pg_lsn_tbl VALUES (1)')).toMatchObject({
      outcome: 'allow',
    });
    const dba = grant(policy, { ...reportJob, claims: { groups: 'dba' } }, 'demo');
    expect(decision(policy, dba, "UPDATE pg_settings SET setting = 'off' WHERE name = 'x'")).toMatchObject({
      outcome: 'allow',
    });
    expect(decision(policy, dba, 'DROP TABLE whatever; SET search_path = x')).toMatchObject({
      outcome: 'allow',
    });
  });

  it('decides EXECUTE by what was prepared under that name', () => {
    const prepared = analyse('PREPARE p AS DELETE FROM customers');
    const ok = analyse('PREPARE q AS SELECT * FROM customers');
    if (!prepared.ok || !ok.ok) throw new Error('parse');
    const statements = new Map([
      ['p', prepared.analysis.statements[0]!.prepares!.statement],
      ['q', ok.analysis.statements[0]!.prepares!.statement],
    ]);
    expect(decision(policy, reporting, 'EXECUTE p', statements)).toMatchObject({ outcome: 'deny' });
    expect(decision(policy, reporting, 'EXECUTE q', statements)).toMatchObject({ outcome: 'allow' });
  });

  it('with the search path left to the client, an unqualified name only matches schema-wide globs', () => {
    const loose = compiled(
      'version: 1\nidentities: { a: { issuer: local } }\ngrants:\n  - { name: g, to: [a], searchPath: any, relations: { read: [public.*], deny: [hr.payroll] } }\n',
    );
    const g = grant(loose, reportJob, 'x');
    expect(decision(loose, g, 'SELECT * FROM public.t')).toMatchObject({ outcome: 'allow' });
    expect(decision(loose, g, 'SELECT * FROM t')).toMatchObject({ outcome: 'deny', rule: 'relations' });
  });
});

describe('allowed hours', () => {
  const hours = {
    days: new Set(['mon', 'tue', 'wed', 'thu', 'fri'] as const),
    from: 22 * 60,
    to: 6 * 60,
    timezone: 'Europe/Paris',
  };
  it('reads the wall clock of the time zone, with windows over midnight belonging to their first day', () => {
    expect(withinAllowedHours(hours, new Date('2026-11-23T21:30:00Z'))).toBe(true); // Mon 22:30 Paris
    expect(withinAllowedHours(hours, new Date('2026-11-24T04:00:00Z'))).toBe(true); // Tue 05:00, Monday's night
    expect(withinAllowedHours(hours, new Date('2026-11-23T12:00:00Z'))).toBe(false); // Mon 13:00
    expect(withinAllowedHours(hours, new Date('2026-11-28T22:00:00Z'))).toBe(false); // Sat 23:00
    expect(withinAllowedHours(hours, new Date('2026-11-30T02:00:00Z'))).toBe(false); // Mon 03:00, Sunday's night
  });
});
