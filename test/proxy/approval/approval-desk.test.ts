import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type ApprovalCase, ApprovalDesk } from '../../../fargate-proxy/src/approval/approval-desk';
import { LocalApprovalStore } from '../../../fargate-proxy/src/approval/local-approval-store';

const CASE: ApprovalCase = {
  issuer: 'local',
  subject: 'migrator',
  database: 'prod',
  text: 'DROP TABLE sessions',
  parameters: [],
  grant: 'migrations',
  rule: 'drops',
  reason: 'dropping a table needs a DBA',
  shown: 'DROP TABLE sessions',
  approval: { approvers: ['alice'], needed: 1, timeoutMs: 60_000, coverage: { kind: 'once' }, wait: true },
  excluded: [],
  contacts: {},
};

function setUp() {
  const store = new LocalApprovalStore(mkdtempSync(path.join(os.tmpdir(), 'gh-desk-')));
  const approve = (id: string, time = Date.now() * 1000) =>
    store.decide({ request: id, approver: 'alice', verdict: 'approved', channel: 'cli', time });
  return { store, desk: new ApprovalDesk(store, undefined, 10), approve };
}

describe('ApprovalDesk', () => {
  it("keeps a held statement's approval for that statement: another session, or the same after a crash, asks anew", async () => {
    // GIVEN a request opened by a statement held in session A, then approved (A's process died meanwhile)
    const { desk, approve } = setUp();
    const held = await desk.decide({ ...CASE, holder: 'session-a' });
    expect(held).toMatchObject({ allowed: false, pending: true, opened: true });
    expect(approve(held.request.id)).toEqual({ ok: true });
    // WHEN the same statement comes from session B
    const other = await desk.decide({ ...CASE, holder: 'session-b' });
    // THEN it does not run under A's approval: a request of its own is opened
    expect(other).toMatchObject({ allowed: false, opened: true });
    expect(other.request.id).not.toBe(held.request.id);
    // And the held statement itself still can, once.
    expect(await desk.decideHeld(held.request.id)).toMatchObject({ allowed: true });
    expect(await desk.decideHeld(held.request.id)).toBeUndefined();
  });

  it('names only the approvers who may answer: not the person behind the job', async () => {
    const { desk } = setUp();
    const approval = { ...CASE.approval, approvers: ['alice', 'bob', 'carol'], wait: false };
    const outcome = await desk.decide({ ...CASE, approval, excluded: ['carol'] });
    expect(desk.notice(outcome.request)).toMatch(/was sent to alice, bob;/);
    expect(outcome).toMatchObject({
      refusal: { message: expect.stringMatching(/waits for alice, bob until/) },
    });
  });

  it('lets a non-interactive request (no holder) be used by the first identical retry', async () => {
    const { desk, approve } = setUp();
    const first = await desk.decide({ ...CASE, approval: { ...CASE.approval, wait: false } });
    approve(first.request.id);
    expect(await desk.decide({ ...CASE, approval: { ...CASE.approval, wait: false } })).toMatchObject({
      allowed: true,
      request: { id: first.request.id },
    });
  });

  it('refuses a decision on a request that is no longer pending: withdrawn, already decided, used', async () => {
    const { desk, store, approve } = setUp();
    const withdrawn = await desk.decide(CASE);
    await desk.cancel(withdrawn.request.id);
    expect(approve(withdrawn.request.id)).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/withdrawn/),
    });
    const decided = await desk.decide({
      ...CASE,
      text: 'DROP TABLE other',
      approval: { ...CASE.approval, approvers: ['alice', 'bob'] },
    });
    approve(decided.request.id);
    const second = store.decide({
      request: decided.request.id,
      approver: 'bob',
      verdict: 'approved',
      channel: 'cli',
      time: Date.now() * 1000,
    });
    expect(second).toEqual({ ok: false, problem: 'the request is already approved' });
  });
});
