import {
  type ApprovalDecision,
  type ApprovalRequest,
  approvalBinding,
  approvalState,
  boundTo,
  decisionProblem,
} from '../../../core/approval/approval';
import { loadPolicy } from '../../../core/policy/load-policy';

const statement = {
  issuer: 'https://token.actions.githubusercontent.com',
  subject: 'repo:acme/app:ref:refs/heads/main',
  database: 'prod',
  text: 'DROP TABLE public.sessions',
  parameters: [],
};

const request: ApprovalRequest = {
  id: 'apr-1',
  binding: approvalBinding(statement),
  requested: 1_000,
  expires: 1_000 + 600_000_000,
  issuer: statement.issuer,
  subject: statement.subject,
  database: 'prod',
  grant: 'migrations',
  rule: 'ddl-on-prod',
  reason: 'DDL on production needs a DBA',
  text: statement.text,
  approvers: ['alice', 'bob', 'carol'],
  contacts: { alice: { email: 'alice@example.com' }, bob: { slack: 'U0BOB' }, carol: {} },
  needed: 2,
  coverage: { kind: 'once' },
  excluded: ['carol'],
};

function decision(approver: string, verdict: 'approved' | 'denied', time: number): ApprovalDecision {
  return { request: 'apr-1', approver, verdict, channel: 'cli', time };
}

describe('approval binding', () => {
  it('is the same only for the very same statement, identity and database', () => {
    const same = approvalBinding({ ...statement });
    expect(same).toBe(request.binding);
    for (const other of [
      { ...statement, text: 'DROP TABLE public.sessions ' },
      { ...statement, text: 'DROP TABLE other.sessions' },
      { ...statement, database: 'staging' },
      { ...statement, subject: 'repo:acme/app:ref:refs/heads/feature' },
      { ...statement, parameters: ['a'.repeat(64)] },
    ]) {
      expect(approvalBinding(other)).not.toBe(same);
    }
  });
});

describe('approval state', () => {
  it('is pending until enough distinct approvers approve, then approved', () => {
    expect(approvalState(request, [], 2_000)).toEqual({ state: 'pending' });
    expect(approvalState(request, [decision('alice', 'approved', 2_000)], 3_000)).toEqual({
      state: 'pending',
    });
    expect(
      approvalState(
        request,
        [decision('alice', 'approved', 2_000), decision('bob', 'approved', 2_500)],
        3_000,
      ),
    ).toEqual({ state: 'approved', by: ['alice', 'bob'] });
  });

  it('is denied by one denial, and times out without a decision', () => {
    expect(approvalState(request, [decision('bob', 'denied', 2_000)], 3_000)).toEqual({
      state: 'denied',
      by: 'bob',
    });
    expect(approvalState(request, [], request.expires)).toEqual({ state: 'timed-out' });
  });

  it('does not count outsiders, self-approval, second votes or late decisions', () => {
    const ignored = [
      decision('mallory', 'approved', 2_000),
      decision('carol', 'approved', 2_100),
      decision('alice', 'approved', 2_200),
      decision('alice', 'approved', 2_300),
      decision('bob', 'approved', request.expires + 1),
    ];
    expect(approvalState(request, ignored, 3_000)).toEqual({ state: 'pending' });
    expect(decisionProblem(request, [], decision('carol', 'approved', 1))).toMatch(/their own work/);
    expect(decisionProblem(request, [], decision('mallory', 'approved', 1))).toMatch(/not an approver/);
  });

  it('covers a window of minutes when asked to', () => {
    const windowed = { ...request, needed: 1, coverage: { kind: 'window' as const, minutes: 30 } };
    expect(approvalState(windowed, [decision('alice', 'approved', 2_000)], 3_000)).toEqual({
      state: 'approved',
      by: ['alice'],
      until: 2_000 + 30 * 60_000_000,
    });
  });
});

describe('approval in the policy', () => {
  const base = (rule: string, extra = '') => `version: 1
identities:
  job: { issuer: local, claims: { sub: job } }
approvers:
  alice: { email: alice@example.com, slack: U012ABC }
  bob: { email: bob@example.com }
approverGroups:
  dba: [alice, bob]
${extra}
grants:
  - name: migrations
    to: [job]
    allow: [read, write, ddl]
    rules:
${rule}
`;

  it('compiles approvers (groups expanded), counts, timeouts and coverage', () => {
    const loaded = loadPolicy(
      base(`      - name: ddl
        decision: approve
        when: { classes: [ddl] }
        approval: { approvers: [dba], needed: 2, timeoutSeconds: 60, covers: { minutes: 15 } }`),
    );
    expect(loaded.ok).toBe(true);
    if (!loaded.ok) return;
    expect(loaded.policy.grants[0]!.rules[0]!.approval).toEqual({
      approvers: ['alice', 'bob'],
      needed: 2,
      timeoutMs: 60_000,
      coverage: { kind: 'window', minutes: 15 },
      wait: true,
    });
  });

  it('names the line of an unknown approver, an impossible count, or approval on a deny rule', () => {
    const problems = (source: string) =>
      (loadPolicy(source) as { problems?: { message: string }[] }).problems ?? [];
    expect(
      problems(base(`      - { name: r, decision: approve, approval: { approvers: [nobody] } }`)).map(
        (p) => p.message,
      ),
    ).toEqual(['unknown approver or approver group "nobody"']);
    expect(
      problems(
        base(`      - { name: r, decision: approve, approval: { approvers: [alice], needed: 2 } }`),
      ).map((p) => p.message),
    ).toEqual(['2 approvals needed but only 1 approver(s) named']);
    expect(
      problems(base(`      - { name: r, decision: deny, approval: { approvers: [alice] } }`)).map(
        (p) => p.message,
      ),
    ).toEqual(['approval applies to rules whose decision is approve']);
  });
});

describe('approvalBinding', () => {
  it('binds only issuer, subject, database, text and parameters', () => {
    const extra = { ...statement, grant: 'migrations', reason: 'other words', shown: 'DROP TABLE ?' };
    expect(approvalBinding(extra)).toBe(approvalBinding(statement));
    expect(approvalBinding({ ...statement, text: 'DROP TABLE  public.sessions' })).not.toBe(
      approvalBinding(statement),
    );
  });

  it('binds an elevation to the identity, database and grant, whatever statement asked', () => {
    const coverage = { kind: 'elevation' as const, grant: 'ci-writes', minutes: 10 };
    const one = boundTo({ ...statement, text: 'INSERT INTO a VALUES (1)' }, coverage);
    const two = boundTo({ ...statement, text: 'DELETE FROM b', parameters: ['x'] }, coverage);
    expect(approvalBinding(one)).toBe(approvalBinding(two));
    expect(approvalBinding(boundTo({ ...statement, subject: 'other' }, coverage))).not.toBe(
      approvalBinding(one),
    );
    expect(boundTo(statement, { kind: 'once' })).toBe(statement);
  });
});

describe('elevation in the policy', () => {
  const policy = (covers: string, elevated: string) => `version: 1
identities:
  job: { issuer: local, claims: { sub: job } }
approvers:
  alice: { email: alice@example.com }
grants:
  - name: ci
    to: [job]
    role: ci_role
    allow: [read, write]
    rules:
      - name: writes
        decision: approve
        when: { classes: [write] }
        approval: { approvers: [alice], covers: ${covers} }
  - name: ci-writes
    to: [job]
${elevated}
    allow: [read, write]
`;
  const messages = (source: string) =>
    ((loadPolicy(source) as { problems?: { message: string }[] }).problems ?? []).map((p) => p.message);

  it('compiles an elevation to a grant with the same role, search path and masking', () => {
    const loaded = loadPolicy(policy('{ elevate: ci-writes, minutes: 30 }', '    role: ci_role'));
    expect(loaded.ok && loaded.policy.grants[0]!.rules[0]!.approval!.coverage).toEqual({
      kind: 'elevation',
      grant: 'ci-writes',
      minutes: 30,
    });
  });

  it('refuses an elevation to an unknown grant, to itself, or to one a session could not switch to', () => {
    expect(messages(policy('{ elevate: nope, minutes: 30 }', '    role: ci_role'))).toEqual([
      'unknown grant "nope"',
    ]);
    expect(messages(policy('{ elevate: ci, minutes: 30 }', '    role: ci_role'))).toEqual([
      'a grant cannot elevate to itself',
    ]);
    expect(messages(policy('{ elevate: ci-writes, minutes: 30 }', '    role: admin_role'))).toEqual([
      'grant "ci-writes" has another role than "ci" (a session keeps the role it connected with)',
    ]);
  });
});
