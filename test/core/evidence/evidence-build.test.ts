import type { AuditRecord } from '../../../core/audit/records';
import type { VerificationReport } from '../../../core/audit/verify';
import {
  buildEvidence,
  type EvidenceBuildInput,
  type EvidenceRenderers,
  type EvidenceRenderInput,
  packageFiles,
} from '../../../core/evidence/build-evidence';
import { PACKAGE_FILES } from '../../../core/evidence/control-map';
import type { ApprovalExtract } from '../../../core/evidence/evidence-analysis';
import type { ControlId, ControlStatus } from '../../../core/evidence/evidence-package';
import { parsePeriod } from '../../../core/evidence/evidence-period';
import { evidencePolicy } from '../../../core/evidence/evidence-policy';
import type { StoredDigest, StoredRecord } from '../../../core/evidence/stored-records';

const H = 3_600_000_000;
const D = 24 * H;
const PERIOD = parsePeriod('2026-03-02', '2026-03-05');
const FROM = PERIOD.fromMicros;
const TO = PERIOD.toMicros;
const LOCAL = 'https://issuer.gatehouse.local';
const GITHUB = 'https://token.actions.githubusercontent.com';
const WRITER = 'gw-w0';

const POLICY = `version: 1
identities:
  reporter: { issuer: local, claims: { sub: reporter } }
  deployer: { issuer: github, claims: { repository_id: "42", ref: [refs/heads/main, "refs/tags/v*"] } }
  dormant: { issuer: local, claims: { sub: dormant } }
groups:
  ci: [deployer, dormant]
approvers:
  alice: { email: alice@example.com }
  bob: { email: bob@example.com }
approverGroups:
  dba: [alice, bob]
grants:
  - name: reporting
    to: [reporter]
    databases: [orders]
    searchPath: [public]
    allow: [read, session, transaction]
    relations: { read: ["public.*"], deny: [public.secrets] }
    masking:
      rules:
        - { name: ssn, columns: [public.people.ssn], method: partial, keep: { last: 4 } }
    limits: { maxRows: 1000 }
  - name: deploys
    to: [ci]
    databases: ["orders*"]
    role: orders_migrator
    allow: [read, write, ddl, session, transaction]
    relations: { read: ["*"], write: ["public.*"] }
    rules:
      - name: drops
        decision: approve
        reason: dropping needs a DBA
        when: { commands: [DROP TABLE] }
        approval: { approvers: [dba], needed: 1, timeoutSeconds: 600, covers: { minutes: 30 } }
      - name: no-truncate
        decision: deny
        when: { commands: [TRUNCATE] }
    audit: { statements: [write, ddl, admin] }
`;

/** A policy where every rule is used, nothing is privileged and everything is audited. */
const TIDY_POLICY = `version: 1
identities:
  reporter: { issuer: local, claims: { sub: reporter } }
  deployer: { issuer: github, claims: { repository_id: "42" } }
  leaver: { issuer: local, claims: { sub: leaver } }
grants:
  - name: reporting
    to: [reporter, leaver]
    databases: [orders]
    allow: [read]
    relations: { read: ["public.*"] }
  - name: deploys
    to: [deployer]
    allow: [read, write]
    relations: { read: ["*"], write: ["public.*"] }
`;

const PRIVILEGED_POLICY = `version: 1
identities:
  reporter: { issuer: local, claims: { sub: reporter } }
grants:
  - name: everything
    to: [reporter]
    allow: [read, write, ddl, admin]
    relations: { read: ["*"], write: ["*"] }
    functions: ["*"]
`;

/** Builds stored records session by session, chaining seq numbers (hashes are placeholders). */
class Store {
  readonly records: StoredRecord[] = [];
  private readonly seqs = new Map<string, number>();

  /** The policy digest admitted sessions name. */
  constructor(private readonly policyDigest = 'd'.repeat(64)) {}

  add(
    session: string,
    body: Record<string, unknown> & { type: string; time: number },
    chunk = 'chunk-0.jsonl',
    writer = WRITER,
  ) {
    const seq = this.seqs.get(session) ?? 0;
    this.seqs.set(session, seq + 1);
    const record = {
      v: 1,
      session,
      seq,
      writer,
      prev: 'p'.repeat(64),
      hash: `${session}-${seq}`.padEnd(64, '0'),
      ...body,
    } as unknown as AuditRecord;
    this.records.push({ record, line: JSON.stringify(record), writer, chunk });
    return record;
  }

  start(
    session: string,
    time: number,
    identity: { issuer: string; subject: string; claims?: object } | undefined,
    more = {},
  ) {
    return this.add(session, {
      type: 'session-start',
      time,
      source: { address: '10.0.0.7' },
      database: 'orders',
      authentication: 'accepted',
      policyDigest: this.policyDigest,
      ...(identity ? { identity: { claims: {}, ...identity } } : {}),
      ...more,
    });
  }

  statement(session: string, time: number, text: string, more = {}) {
    return this.add(session, {
      type: 'statement',
      time,
      start: time - 5,
      end: time,
      protocol: 'simple',
      text,
      textSha256: 'a'.repeat(64),
      decision: 'allowed',
      outcome: { tag: 'SELECT 1', rows: 1 },
      bytesIn: 10,
      bytesOut: 20,
      ...more,
    });
  }

  end(session: string, time: number, reason = 'client closed') {
    return this.add(session, { type: 'session-end', time, reason, statements: 1, bytesIn: 1, bytesOut: 1 });
  }

  refused(session: string, time: number, check: string, identity?: { issuer: string; subject: string }) {
    this.start(session, time, identity, {
      authentication: check,
      grant: undefined,
      policyDigest: undefined,
      error: { sqlstate: '28000', message: `token rejected: ${check}` },
    });
    this.end(session, time + 1, 'refused');
  }
}

const reporter = { issuer: LOCAL, subject: 'reporter', claims: { repository: 'acme/reports' } };
const deployer = {
  issuer: GITHUB,
  subject: 'repo:acme/app:ref:refs/heads/main',
  claims: { repository_id: '42', ref: 'refs/heads/main' },
};
const leaver = { issuer: LOCAL, subject: 'leaver' };

/**
 * Three days (2026-03-02 to 03-05): the reporter reads with masked results in a session that started
 * the day before and ends within; the deployer (a GitHub identity, named `github` by the policy)
 * drops a table under approval and is refused a TRUNCATE; a leaver, admitted by an earlier policy, is
 * no longer admitted; tokens are refused; the policy is reloaded twice; a session is still open at
 * the end, and one starts after it.
 */
function scenario(): Store {
  const s = new Store();
  s.add('policy-gw-w0', {
    type: 'policy-reload',
    time: FROM - 2 * D,
    digest: 'c'.repeat(64),
    previous: 'b'.repeat(64),
    outcome: 'applied',
  });
  // Started before the period: its statement in the period counts, its start stays outside.
  s.start('s-reporter', FROM - H, reporter, { grant: 'reporting' });
  s.statement('s-reporter', FROM - H + 10, 'SELECT 0');
  s.statement('s-reporter', FROM, 'SELECT name, ssn FROM people', {
    command: 'SELECT',
    class: 'read',
    masking: { columns: [{ name: 'ssn', rule: 'ssn', values: 2 }] },
  });
  s.statement('s-reporter', FROM + 2 * H, 'SELECT * FROM secrets', {
    decision: 'refused',
    rule: 'relations',
    outcome: { sqlstate: '42501' },
  });
  s.end('s-reporter', FROM + 3 * H);

  s.start('s-deploy', FROM + D, deployer, { grant: 'deploys' });
  s.statement('s-deploy', FROM + D + 1, 'DROP TABLE old', {
    decision: 'refused',
    rule: 'drops',
    approval: { id: 'apr-1' },
    outcome: { sqlstate: '42501' },
  });
  s.add('s-deploy', {
    type: 'approval',
    time: FROM + D + 2,
    id: 'apr-1',
    event: 'requested',
    rule: 'drops',
    grant: 'deploys',
    reason: 'dropping needs a DBA',
    binding: 'b'.repeat(64),
    approvers: ['alice', 'bob'],
    needed: 1,
    expires: FROM + D + 600e6,
  });
  s.add('s-deploy', {
    type: 'approval',
    time: FROM + D + 3,
    id: 'apr-1',
    event: 'approved',
    grant: 'deploys',
    rule: 'drops',
    notifications: [{ channel: 'webhook', to: 'slack', time: FROM + D + 2 }],
    decisions: [{ approver: 'alice', verdict: 'approved', channel: 'cli', time: FROM + D + 3 }],
  });
  s.statement('s-deploy', FROM + D + 4, 'DROP TABLE old', {
    decision: 'approved',
    rule: 'drops',
    approval: { id: 'apr-1', by: ['alice'] },
    outcome: { tag: 'DROP TABLE' },
  });
  s.statement('s-deploy', FROM + D + 5, 'TRUNCATE t', {
    decision: 'refused',
    rule: 'no-truncate',
    outcome: { sqlstate: '42501' },
  });
  // A request made near the end, approved after it: pending as the period saw it.
  s.statement('s-deploy', TO - 10, 'DROP TABLE later', {
    decision: 'refused',
    rule: 'drops',
    approval: { id: 'apr-2' },
    outcome: { sqlstate: '42501' },
  });
  s.add('s-deploy', {
    type: 'approval',
    time: TO - 9,
    id: 'apr-2',
    event: 'requested',
    rule: 'drops',
    grant: 'deploys',
    approvers: ['alice', 'bob'],
    needed: 1,
    expires: TO + H,
  });
  s.add('s-deploy', {
    type: 'approval',
    time: TO + 5,
    id: 'apr-2',
    event: 'approved',
    decisions: [{ approver: 'bob', verdict: 'approved', channel: 'cli', time: TO + 5 }],
  });
  s.end('s-deploy', TO + 10);

  s.start('s-leaver', FROM + 2 * D, leaver, { grant: 'old-grant' });
  s.statement('s-leaver', FROM + 2 * D + 1, 'SELECT 1');
  s.end('s-leaver', FROM + 2 * D + 2);

  s.refused('s-bad-1', FROM + 4 * H, 'malformed');
  s.refused('s-bad-2', FROM + D + 4 * H, 'expired');
  s.refused('s-stranger', FROM + D + 5 * H, 'refused', { issuer: LOCAL, subject: 'stranger' });

  s.add('policy-gw-w0', {
    type: 'policy-reload',
    time: FROM + 6 * H,
    digest: 'e'.repeat(64),
    previous: 'c'.repeat(64),
    outcome: 'rejected',
    error: 'policy.yaml:3:1: unknown key',
  });
  s.add('policy-gw-w0', {
    type: 'policy-reload',
    time: FROM + 7 * H,
    digest: 'f'.repeat(64),
    previous: 'c'.repeat(64),
    outcome: 'applied',
    version: 'v7',
    changedBy: 'ops@example.com',
  });

  // Exactly at `to`: the next period's.
  s.start('s-next', TO, reporter, { grant: 'reporting' });
  return s;
}

const VERIFIED: VerificationReport = {
  writers: 1,
  digests: 4,
  chunks: 4,
  sessions: 8,
  records: 30,
  recordings: 0,
  problems: [],
  notes: [],
  ok: true,
};

const DIGESTS: StoredDigest[] = [
  { writer: WRITER, seq: 0, from: FROM - 3 * D, to: FROM, chunks: ['chunk-0.jsonl'] },
  { writer: WRITER, seq: 1, from: FROM, to: TO + D, chunks: ['chunk-1.jsonl'] },
];

function input(store: Store, more: Partial<EvidenceBuildInput> = {}): EvidenceBuildInput {
  return {
    period: PERIOD,
    generatedAt: '2026-03-06T09:00:00.000Z',
    records: store.records,
    verification: VERIFIED,
    digests: DIGESTS,
    policy: evidencePolicy(POLICY),
    store: '/var/audit',
    ...more,
  };
}

function status(controls: readonly ControlStatus[], id: ControlId): ControlStatus {
  const found = controls.find((c) => c.control === id);
  if (!found) throw new Error(`no ${id}`);
  return found;
}

const fakeRenderers: EvidenceRenderers = {
  assessmentResults: (i: EvidenceRenderInput) => ({
    'assessment-results': { controls: i.summary.controls.length },
  }),
  systemSecurityPlan: (i: EvidenceRenderInput) => ({ 'system-security-plan': { grants: i.scopes.length } }),
  evidenceReport: (i: EvidenceRenderInput) => `<html>${i.inventory.identities.length}</html>`,
};

describe('the evidence of a period', () => {
  const built = buildEvidence(input(scenario()));
  const { summary, analysis } = built;

  it('keeps the records whose time is in [from, to), as stored, and counts what happened', () => {
    const times = analysis.periodRecords.map((r) => r.record.time);
    expect(Math.min(...times)).toBe(FROM);
    expect(Math.max(...times)).toBeLessThan(TO);
    // The reporter's session started before the period: its start and first statement stay out.
    expect(analysis.periodRecords.some((r) => r.record.session === 's-reporter' && r.record.seq === 0)).toBe(
      false,
    );
    expect(analysis.periodRecords.some((r) => r.record.session === 's-next')).toBe(false);
    expect(summary.counts).toEqual({
      sessions: 3,
      statements: 7,
      refusals: 4,
      approvals: { requested: 2, approved: 1, denied: 0, timedOut: 0, cancelled: 0 },
      maskedStatements: 1,
      authenticationFailures: 3,
      policyChanges: 2,
    });
    expect(summary.boundaries).toEqual({
      sessionsStartedBefore: 1,
      sessionsOpenAtEnd: 1,
      unattributedRecords: 0,
    });
    expect(summary.timeline).toEqual([
      { day: '2026-03-02', statements: 2, refusals: 1, approvals: 0, authenticationFailures: 1 },
      { day: '2026-03-03', statements: 3, refusals: 2, approvals: 1, authenticationFailures: 2 },
      { day: '2026-03-04', statements: 2, refusals: 1, approvals: 1, authenticationFailures: 0 },
    ]);
    // In force at `from` (the reload before it, and the sessions' digest), then applied in the period.
    expect(summary.policyDigests).toEqual(['d'.repeat(64), 'f'.repeat(64)]);
    expect(summary.policy).toEqual({
      digest: evidencePolicy(POLICY).compiled.digest,
      inForceAtEnd: 'd'.repeat(64),
    });
  });

  it('attributes a session started before the period to its identity, and matches names the policy gives issuers', () => {
    const bySubject = Object.fromEntries(summary.identities.map((i) => [i.subject, i]));
    expect(bySubject.reporter).toEqual({
      issuer: LOCAL,
      subject: 'reporter',
      identityRules: ['reporter'],
      grants: ['reporting'],
      firstSeen: FROM,
      lastSeen: FROM + 3 * H,
      sessions: 1,
      statements: 2,
      refusals: 1,
      approvalsRequested: 0,
      maskedStatements: 1,
      authenticationFailures: 0,
      admittedNow: true,
    });
    // `github` is learned from the admitted session (grant deploys, rule deployer, issuer github).
    expect(bySubject[deployer.subject]).toMatchObject({
      identityRules: ['deployer'],
      grants: ['deploys'],
      sessions: 1,
      statements: 4,
      refusals: 3,
      approvalsRequested: 2,
      admittedNow: true,
    });
    expect(bySubject.leaver).toMatchObject({
      identityRules: [],
      grants: ['old-grant'],
      sessions: 1,
      admittedNow: false,
    });
    expect(bySubject.stranger).toMatchObject({ sessions: 0, authenticationFailures: 1, admittedNow: false });
    expect(built.analysis.issuerNames).toEqual({ github: GITHUB, local: LOCAL });
    expect(analysis.noLongerAdmitted.map((i) => i.subject)).toEqual(['leaver']);
  });

  it('lists every identity rule with whom it admitted, flagging rules that admitted nobody', () => {
    expect(summary.identityRules).toEqual([
      {
        name: 'reporter',
        issuer: 'local',
        claims: { sub: ['reporter'] },
        grants: ['reporting'],
        identitiesSeen: 1,
        unused: false,
      },
      {
        name: 'deployer',
        issuer: 'github',
        claims: { repository_id: ['42'], ref: ['refs/heads/main', 'refs/tags/v*'] },
        grants: ['deploys'],
        identitiesSeen: 1,
        unused: false,
      },
      {
        name: 'dormant',
        issuer: 'local',
        claims: { sub: ['dormant'] },
        grants: ['deploys'],
        identitiesSeen: 0,
        unused: true,
      },
    ]);
  });

  it('uses issuer names given to it, and without them a name it cannot learn does not match', () => {
    const s = new Store();
    // Refused only (no admitted session to learn from): the given name is what matches it.
    s.refused('s-1', FROM + 1, 'refused', { issuer: GITHUB, subject: 'repo:acme/app' });
    const without = buildEvidence(input(s)).summary.identities[0]!;
    expect(without.identityRules).toEqual([]);
    const s2 = new Store();
    s2.start(
      's-2',
      FROM + 1,
      { ...deployer, claims: { repository_id: '42', ref: 'refs/heads/main' } },
      { authentication: 'refused', grant: undefined, database: 'elsewhere' },
    );
    const named = buildEvidence(input(s2, { issuers: { github: GITHUB } })).summary.identities[0]!;
    expect(named.identityRules).toEqual(['deployer']);
    // Matched by the rule, but no grant admits it to that database.
    expect(named.admittedNow).toBe(false);
  });

  it("renders each grant's effective scope from the policy", () => {
    expect(built.scopes).toEqual([
      {
        grant: 'reporting',
        identityRules: ['reporter'],
        databases: ['orders'],
        readOnly: false,
        allow: ['read', 'session', 'transaction'],
        reads: ['public.*'],
        writes: [],
        denied: ['public.secrets'],
        functions: [],
        rules: [],
        maskedColumns: ['public.people.ssn (rule ssn: partial keeping first 0, last 4)'],
        limits: { maxRows: 1000 },
        searchPath: ['public'],
        audit: {
          statements: ['read', 'write', 'ddl', 'admin', 'session', 'transaction', 'unknown'],
          record: true,
          strict: ['write', 'ddl', 'admin'],
        },
      },
      {
        grant: 'deploys',
        identityRules: ['deployer', 'dormant'],
        databases: ['orders*'],
        role: 'orders_migrator',
        readOnly: false,
        allow: ['read', 'write', 'ddl', 'session', 'transaction'],
        reads: ['*'],
        writes: ['public.*'],
        denied: [],
        functions: [],
        rules: [
          {
            name: 'drops',
            decision: 'approve',
            reason: 'dropping needs a DBA',
            when: { commands: ['DROP TABLE'] },
            approval: {
              approvers: ['alice', 'bob'],
              needed: 1,
              timeoutSeconds: 600,
              covers: 'the same statement for 30 minutes',
            },
          },
          { name: 'no-truncate', decision: 'deny', when: { commands: ['TRUNCATE'] } },
        ],
        maskedColumns: [],
        limits: {},
        searchPath: ['public'],
        audit: { statements: ['write', 'ddl', 'admin'], record: true, strict: ['write', 'ddl', 'admin'] },
      },
    ]);
  });

  it('extracts approvals with their approvers as they stood at the end of the period', () => {
    const approvals = analysis.approvals as ApprovalExtract[];
    expect(approvals.map((a) => [a.id, a.outcome, a.decisions.map((d) => d.approver)])).toEqual([
      ['apr-1', 'approved', ['alice']],
      // Approved only after `to`.
      ['apr-2', 'pending', []],
    ]);
    expect(approvals[0]).toMatchObject({
      session: 's-deploy',
      identity: { issuer: GITHUB, subject: deployer.subject },
      database: 'orders',
      grant: 'deploys',
      rule: 'drops',
      approvers: ['alice', 'bob'],
      needed: 1,
      statements: [
        { text: 'DROP TABLE old', decision: 'refused' },
        { text: 'DROP TABLE old', decision: 'approved', by: ['alice'] },
      ],
    });
    expect(approvals[0]!.records).toHaveLength(4);
  });

  it('extracts masking events, authentication failures and policy changes with references to their records', () => {
    expect(analysis.masking).toEqual([
      expect.objectContaining({
        session: 's-reporter',
        seq: 2,
        identity: { issuer: LOCAL, subject: 'reporter' },
        grant: 'reporting',
        columns: [{ name: 'ssn', rule: 'ssn', values: 2 }],
        values: 2,
      }),
    ]);
    expect(analysis.authenticationFailures.map((f) => [f.session, f.check, f.category])).toEqual([
      ['s-bad-1', 'malformed', 'token'],
      ['s-bad-2', 'expired', 'token'],
      ['s-stranger', 'refused', 'admission'],
    ]);
    expect(analysis.policyChanges.map((c) => [c.outcome, c.changedBy])).toEqual([
      ['rejected', undefined],
      ['applied', 'ops@example.com'],
    ]);
  });

  it('computes the control map from the data, and every evidence path is a file of the package', () => {
    const statuses = Object.fromEntries(summary.controls.map((c) => [c.control, c.status]));
    expect(statuses).toEqual({
      'AC-2': 'satisfied-with-findings',
      'AC-6': 'satisfied-with-findings',
      'AU-2': 'satisfied-with-findings',
      'AU-3': 'satisfied',
      'AU-9': 'satisfied',
      'AU-10': 'satisfied',
      'AU-12': 'satisfied',
      'CM-3': 'satisfied-with-findings',
      'CM-5': 'satisfied-with-findings',
      'IA-2': 'satisfied-with-findings',
      'IA-5': 'satisfied-with-findings',
      'SC-28': 'satisfied',
    });
    expect(status(summary.controls, 'AC-2').reason).toMatch(
      /no longer admitted: leaver.*admitted nobody in the period: dormant/,
    );
    expect(status(summary.controls, 'IA-2').reason).toMatch(
      /3 connections refused at authentication \(malformed 1, expired 1, refused 1\)/,
    );
    expect(status(summary.controls, 'IA-5').reason).toMatch(/2 tokens refused/);
    expect(status(summary.controls, 'CM-5').reason).toMatch(/still pending at the end of the period: apr-2/);
    expect(status(summary.controls, 'CM-3').reason).toMatch(/1 policy version rejected/);
    const files = packageFiles(built, fakeRenderers).map((f) => f.path);
    for (const control of summary.controls) {
      expect(control.evidence.length).toBeGreaterThan(0);
      for (const file of [...control.evidence, ...(control.records ?? []).map((r) => r.file)])
        expect(files).toContain(file);
    }
  });

  it('writes every file of the contract, the records as stored, and hands the renderers the summary, scopes and inventory', () => {
    const seen: EvidenceRenderInput[] = [];
    const files = packageFiles(built, {
      assessmentResults: (i) => {
        seen.push(i);
        return { a: 1 };
      },
      systemSecurityPlan: (i) => {
        seen.push(i);
        return { s: 1 };
      },
      evidenceReport: (i) => {
        seen.push(i);
        return '<html></html>';
      },
    });
    expect(files.map((f) => f.path).sort()).toEqual(Object.values(PACKAGE_FILES).sort());
    const records = files.find((f) => f.path === 'audit/records.jsonl')!.content.toString('utf8');
    expect(records).toBe(analysis.periodRecords.map((r) => `${r.line}\n`).join(''));
    expect(seen).toHaveLength(3);
    expect(seen[0]).toEqual({ summary, scopes: built.scopes, inventory: built.inventory });
    const inventory = JSON.parse(files.find((f) => f.path === 'inventory.json')!.content.toString('utf8'));
    expect(inventory.identities).toEqual(summary.identities);
    expect(files.find((f) => f.path === 'policy.yaml')!.content.toString('utf8')).toBe(POLICY);
    // An empty extract is an empty file, still there.
    const empty = packageFiles(buildEvidence(input(new Store())), fakeRenderers);
    expect(empty.find((f) => f.path === 'masking.jsonl')!.content.length).toBe(0);
  });
});

describe('control statuses, each way', () => {
  function controls(store: Store, more: Partial<EvidenceBuildInput> = {}) {
    return buildEvidence(input(store, more)).summary.controls;
  }

  const tidyPolicy = evidencePolicy(TIDY_POLICY);

  /** One quiet, clean period: the reporter and deployer each ran a statement, nothing else. */
  function tidy(): Store {
    const s = new Store(tidyPolicy.compiled.digest);
    s.start('s-1', FROM + H, reporter, { grant: 'reporting' });
    s.statement('s-1', FROM + H + 1, 'SELECT 1');
    s.end('s-1', FROM + H + 2);
    s.start('s-2', FROM + 2 * H, deployer, { grant: 'deploys' });
    s.statement('s-2', FROM + 2 * H + 1, 'INSERT INTO t VALUES (1)');
    s.end('s-2', FROM + 2 * H + 2);
    s.start('s-3', FROM + 3 * H, leaver, { grant: 'reporting' });
    s.end('s-3', FROM + 3 * H + 2);
    return s;
  }

  it('AC-2: satisfied when every rule admitted someone and everyone seen is still admitted', () => {
    const c = status(controls(tidy(), { policy: tidyPolicy }), 'AC-2');
    expect([c.status, c.reason]).toEqual(['satisfied', expect.stringMatching(/every rule admitted someone/)]);
    const s = tidy();
    s.start('s-4', FROM + 4 * H, { issuer: LOCAL, subject: 'gone' }, { grant: 'reporting' });
    const flagged = status(controls(s, { policy: tidyPolicy }), 'AC-2');
    expect([flagged.status, flagged.reason]).toEqual([
      'satisfied-with-findings',
      expect.stringMatching(/no longer admitted: gone/),
    ]);
  });

  it('AC-2 and AC-6: a policy other than the one the records show in force at the end is a finding', () => {
    const s = tidy();
    s.add('policy-gw-w0', {
      type: 'policy-reload',
      time: FROM + 5 * H,
      digest: '9'.repeat(64),
      previous: 'd'.repeat(64),
      outcome: 'applied',
      changedBy: 'ops',
    });
    const c = controls(s, { policy: tidyPolicy });
    expect(status(c, 'AC-2')).toMatchObject({
      status: 'satisfied-with-findings',
      reason: expect.stringMatching(/not the one the records show in force/),
    });
    expect(status(c, 'AC-6')).toMatchObject({
      status: 'satisfied-with-findings',
      reason: expect.stringMatching(/not the one the records show in force/),
    });
  });

  it('AC-6: a finding when a grant allows admin statements or every function', () => {
    expect(status(controls(tidy(), { policy: tidyPolicy }), 'AC-6').status).toBe('satisfied');
    const c = status(controls(tidy(), { policy: evidencePolicy(PRIVILEGED_POLICY) }), 'AC-6');
    expect([c.status, c.reason]).toEqual([
      'satisfied-with-findings',
      expect.stringMatching(/admin statements: everything; grants allowing every function: everything/),
    ]);
  });

  it('AU-2: a finding when a grant records only some statement classes', () => {
    expect(status(controls(tidy(), { policy: tidyPolicy }), 'AU-2').status).toBe('satisfied');
    expect(status(controls(tidy()), 'AU-2')).toMatchObject({
      status: 'satisfied-with-findings',
      reason: expect.stringMatching(/deploys \(write, ddl, admin\)/),
    });
  });

  it('AU-3: not satisfied when a record lacks required content', () => {
    expect(status(controls(tidy()), 'AU-3').status).toBe('satisfied');
    const s = tidy();
    s.statement('s-1', FROM + H + 3, 'SELECT 2', { textSha256: undefined });
    s.start('s-5', FROM + 4 * H, undefined, { grant: 'reporting' });
    const c = status(controls(s), 'AU-3');
    expect([c.status, c.reason]).toEqual([
      'not-satisfied',
      expect.stringMatching(
        /2 records of the period lack required content \(.*textSha256 1.*identity.subject 1/,
      ),
    ]);
  });

  it('AU-9: not satisfied when verification finds tampering or a gap; a finding for undigested records', () => {
    expect(status(controls(tidy()), 'AU-9').status).toBe('satisfied');
    const tampered: VerificationReport = {
      ...VERIFIED,
      ok: false,
      problems: [
        {
          writer: WRITER,
          kind: 'record-altered',
          session: 's-1',
          detail: 'record 1 of chunk chunk-1.jsonl was changed',
        },
        { writer: 'other-w0', kind: 'time-gap', detail: 'no digest covers 2026-01-01 to 2026-01-02' },
      ],
    };
    const c = status(controls(tidy(), { verification: tampered }), 'AU-9');
    expect(c.status).toBe('not-satisfied');
    expect(c.reason).toMatch(
      /2 problems \(record-altered 1, time-gap 1\), 1 of them concerning the period.*session s-1: record 1 of chunk chunk-1.jsonl was changed/,
    );
    const gap = status(
      controls(tidy(), { verification: { ...VERIFIED, ok: false, problems: [tampered.problems[1]!] } }),
      'AU-9',
    );
    expect(gap.status).toBe('not-satisfied');
    const open = status(controls(tidy(), { digests: [DIGESTS[1]!] }), 'AU-9');
    expect([open.status, open.reason]).toEqual([
      'satisfied-with-findings',
      expect.stringMatching(/8 records of the period are not yet covered by a signed digest/),
    ]);
  });

  it('AU-10: not satisfied when a digest signature fails or no digest covers the period', () => {
    expect(status(controls(tidy()), 'AU-10').status).toBe('satisfied');
    const forged: VerificationReport = {
      ...VERIFIED,
      ok: false,
      problems: [
        { writer: WRITER, kind: 'digest-signature', detail: 'digest 1 does not carry a valid signature' },
      ],
    };
    expect(status(controls(tidy(), { verification: forged }), 'AU-10').status).toBe('not-satisfied');
    expect(status(controls(tidy(), { digests: [] }), 'AU-10')).toMatchObject({
      status: 'not-satisfied',
      reason: expect.stringMatching(/not signed/),
    });
  });

  it('AU-12: not satisfied when nothing was generated, a finding when the gateway was idle', () => {
    expect(status(controls(tidy()), 'AU-12').status).toBe('satisfied');
    expect(status(controls(new Store()), 'AU-12').status).toBe('satisfied-with-findings');
    expect(status(controls(new Store(), { digests: [] }), 'AU-12').status).toBe('not-satisfied');
    const s = tidy();
    // A session whose start record is not in the store.
    s.statement('s-orphan', FROM + 5 * H, 'SELECT 1');
    expect(status(controls(s), 'AU-12')).toMatchObject({
      status: 'satisfied-with-findings',
      reason: expect.stringMatching(/1 record belong to sessions whose start record is not in the store/),
    });
  });

  it('counts a policy change recorded by each gateway process once', () => {
    const s = tidy();
    const change = {
      type: 'policy-reload',
      digest: '9'.repeat(64),
      previous: 'd'.repeat(64),
      outcome: 'applied',
      changedBy: 'ops',
    };
    s.add('policy-gw-w0', { ...change, time: FROM + 5 * H });
    s.add('policy-gw-w1', { ...change, time: FROM + 5 * H + 7 }, 'chunk-0.jsonl', 'gw-w1');
    const { summary, analysis } = buildEvidence(input(s));
    expect(summary.counts.policyChanges).toBe(1);
    expect(analysis.policyChanges).toEqual([
      {
        time: FROM + 5 * H,
        writers: ['gw-w0', 'gw-w1'],
        records: [
          { session: 'policy-gw-w0', seq: 0, hash: expect.any(String) },
          { session: 'policy-gw-w1', seq: 0, hash: expect.any(String) },
        ],
        outcome: 'applied',
        digest: '9'.repeat(64),
        previous: 'd'.repeat(64),
        changedBy: 'ops',
      },
    ]);
  });

  it('counts approval requests by how each ended, once, however often a client asked again', () => {
    // GIVEN a request denied, and the same statement asked again twice (wait: false): three denials told
    const s = tidy();
    const common = { type: 'approval', id: 'apr-9', grant: 'deploys', rule: 'drops' };
    s.add('s-2', { ...common, time: FROM + 2 * H + 1, event: 'requested', approvers: ['alice'], needed: 1 });
    for (const offset of [2, 3, 4]) {
      s.add('s-2', {
        ...common,
        time: FROM + 2 * H + offset,
        event: 'denied',
        notifications: [],
        decisions: [{ approver: 'alice', verdict: 'denied', channel: 'cli', time: FROM + 2 * H + 2 }],
      });
    }
    // THEN the period has one request, denied once, and CM-5's text says so
    const { summary } = buildEvidence(input(s));
    expect(summary.counts.approvals).toEqual({
      requested: 1,
      approved: 0,
      denied: 1,
      timedOut: 0,
      cancelled: 0,
    });
    expect(status(controls(s, { policy: tidyPolicy }), 'CM-5').reason).toMatch(
      /^1 approval request \(0 approved, 1 denied/,
    );
  });

  it('counts a request that expired unanswered as timed out, not pending', () => {
    // GIVEN a non-interactive request nobody answered, expired before the end of the period
    const s = tidy();
    s.add('s-2', {
      type: 'approval',
      id: 'apr-7',
      grant: 'deploys',
      rule: 'drops',
      event: 'requested',
      approvers: ['alice'],
      needed: 1,
      time: FROM + 2 * H + 1,
      expires: FROM + 2 * H + 60e6,
    });
    const { summary, analysis } = buildEvidence(input(s));
    expect(analysis.approvals.map((a) => [a.id, a.outcome])).toEqual([['apr-7', 'timed-out']]);
    expect(summary.counts.approvals).toEqual({
      requested: 1,
      approved: 0,
      denied: 0,
      timedOut: 1,
      cancelled: 0,
    });
    expect(status(controls(s, { policy: tidyPolicy }), 'CM-5').reason).not.toMatch(/pending/);
  });

  it('counts a request still pending when the package is made as pending, though the period reaches past its expiry', () => {
    // GIVEN a request that expires after the package is made but before the end of the period
    const s = tidy();
    s.add('s-2', {
      type: 'approval',
      id: 'apr-8',
      grant: 'deploys',
      rule: 'drops',
      event: 'requested',
      approvers: ['alice'],
      needed: 1,
      time: FROM + 2 * H + 1,
      expires: FROM + 2 * H + 600e6,
    });
    const madeAt = new Date((FROM + 2 * H + 60e6) / 1000).toISOString();
    const { summary, analysis } = buildEvidence({ ...input(s), generatedAt: madeAt });
    // THEN it is pending, not timed out: it may still be approved
    expect(analysis.approvals.map((a) => [a.id, a.outcome])).toEqual([['apr-8', 'pending']]);
    expect(summary.counts.approvals.timedOut).toBe(0);
  });

  it('CM-3: a finding for rejected or unattributed policy changes', () => {
    const s = tidy();
    s.add('policy-gw-w0', {
      type: 'policy-reload',
      time: FROM + 5 * H,
      digest: '9'.repeat(64),
      previous: 'd'.repeat(64),
      outcome: 'applied',
      version: 'v2',
      changedBy: 'ops@example.com',
    });
    expect(status(controls(s), 'CM-3').status).toBe('satisfied');
    s.add('policy-gw-w0', {
      type: 'policy-reload',
      time: FROM + 6 * H,
      digest: '8'.repeat(64),
      previous: '9'.repeat(64),
      outcome: 'applied',
    });
    expect(status(controls(s), 'CM-3')).toMatchObject({
      status: 'satisfied-with-findings',
      reason: expect.stringMatching(/1 applied change without a recorded author/),
    });
  });

  it('CM-5: not satisfied when a statement ran as approved without approvers, or by fewer than needed', () => {
    const approved = () => {
      const s = tidy();
      s.add('s-2', {
        type: 'approval',
        time: FROM + 2 * H + 3,
        id: 'apr-9',
        event: 'requested',
        approvers: ['alice', 'bob'],
        needed: 2,
      });
      s.add('s-2', {
        type: 'approval',
        time: FROM + 2 * H + 4,
        id: 'apr-9',
        event: 'approved',
        decisions: [
          { approver: 'alice', verdict: 'approved', channel: 'cli', time: 1 },
          { approver: 'bob', verdict: 'approved', channel: 'slack', time: 2 },
        ],
      });
      return s;
    };
    const good = approved();
    good.statement('s-2', FROM + 2 * H + 5, 'DROP TABLE t', {
      decision: 'approved',
      approval: { id: 'apr-9', by: ['alice', 'bob'] },
    });
    expect(status(controls(good), 'CM-5').status).toBe('satisfied');
    const bad = approved();
    bad.statement('s-2', FROM + 2 * H + 5, 'DROP TABLE t', {
      decision: 'approved',
      approval: { id: 'apr-9' },
    });
    expect(status(controls(bad), 'CM-5')).toMatchObject({
      status: 'not-satisfied',
      reason: expect.stringMatching(/without an approver named/),
    });
    const short = tidy();
    short.add('s-2', {
      type: 'approval',
      time: FROM + 2 * H + 3,
      id: 'apr-8',
      event: 'requested',
      approvers: ['alice', 'bob'],
      needed: 2,
    });
    short.add('s-2', {
      type: 'approval',
      time: FROM + 2 * H + 4,
      id: 'apr-8',
      event: 'approved',
      decisions: [{ approver: 'mallory', verdict: 'approved', channel: 'cli', time: 1 }],
    });
    expect(status(controls(short), 'CM-5')).toMatchObject({
      status: 'not-satisfied',
      reason: expect.stringMatching(
        /approved by 1 of 2 needed; request apr-8: approved by mallory, not among its approvers/,
      ),
    });
  });

  it('IA-2 and IA-5: findings with authentication failures; IA-2 not satisfied for a session admitted without identity', () => {
    expect(status(controls(tidy()), 'IA-2').status).toBe('satisfied');
    expect(status(controls(tidy()), 'IA-5').status).toBe('satisfied');
    const s = tidy();
    s.refused('s-x', FROM + 6 * H, 'refused', { issuer: LOCAL, subject: 'stranger' });
    // Refused by the policy, not for its token: IA-2 notes it, IA-5 has nothing to say.
    expect(status(controls(s), 'IA-2').status).toBe('satisfied-with-findings');
    expect(status(controls(s), 'IA-5').status).toBe('satisfied');
    s.refused('s-y', FROM + 7 * H, 'bad-signature');
    expect(status(controls(s), 'IA-5')).toMatchObject({
      status: 'satisfied-with-findings',
      reason: expect.stringMatching(/bad-signature 1/),
    });
    const anonymous = tidy();
    anonymous.start('s-z', FROM + 8 * H, undefined, { grant: 'reporting' });
    expect(status(controls(anonymous), 'IA-2').status).toBe('not-satisfied');
  });

  it('SC-28: satisfied when grants mask stored columns, a finding when none does', () => {
    expect(status(controls(tidy()), 'SC-28')).toMatchObject({
      status: 'satisfied',
      reason: expect.stringMatching(/1 grant masks stored columns \(reporting\)/),
    });
    expect(status(controls(tidy(), { policy: tidyPolicy }), 'SC-28').status).toBe('satisfied-with-findings');
  });
});

describe('the period', () => {
  it('reads dates as midnight UTC and times with their zone, to exclusive', () => {
    expect(parsePeriod('2026-03-01', '2026-04-01')).toEqual({
      from: '2026-03-01',
      to: '2026-04-01',
      fromMicros: Date.parse('2026-03-01T00:00:00Z') * 1000,
      toMicros: Date.parse('2026-04-01T00:00:00Z') * 1000,
    });
    expect(parsePeriod('2026-03-01T08:00:00+02:00', '2026-03-01T08:00:00.000250Z').toMicros).toBe(
      Date.parse('2026-03-01T08:00:00Z') * 1000 + 250,
    );
    expect(() => parsePeriod('2026-03-01T08:00', '2026-04-01')).toThrow(/time with its zone/);
    expect(() => parsePeriod('2026-02-30', '2026-04-01')).toThrow(/not a date/);
    expect(() => parsePeriod('2026-04-01', '2026-04-01')).toThrow(/must be after/);
  });
});
