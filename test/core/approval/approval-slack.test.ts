import type { ApprovalRequest } from '../../../core/approval/approval';
import {
  SLACK_APPROVE_ACTION,
  SLACK_DENY_ACTION,
  type SlackBlock,
  slackApprovalMessage,
  slackDecisionMessage,
  slackWebhookMessage,
} from '../../../core/approval/approval-slack';

const request: ApprovalRequest = {
  id: 'apr-0a1b2c3d4e5f',
  binding: 'b'.repeat(64),
  requested: 1_800_000_000_000_000,
  expires: 1_800_000_900_000_000,
  issuer: 'https://token.actions.githubusercontent.com',
  subject: 'repo:acme/app:ref:refs/heads/main',
  database: 'prod',
  grant: 'migrations',
  rule: 'drops-need-a-dba',
  reason: 'dropping a table needs a DBA <!channel> & more',
  text: "DELETE FROM t WHERE note = '<@U0BOSS> ``` &amp;'",
  approvers: ['alice', 'bob', 'carol', 'eve'],
  contacts: {
    alice: { slack: 'U0ALICE' },
    bob: { email: 'bob@example.com' },
    carol: { slack: 'U0CAROL' },
    eve: { slack: 'U1>|<!here' },
  },
  needed: 2,
  coverage: { kind: 'once' },
  excluded: ['carol'],
};

const actions = (blocks: readonly SlackBlock[]) => blocks.filter((b) => b.type === 'actions');
const allText = (blocks: readonly SlackBlock[]) => JSON.stringify(blocks);

describe('slackApprovalMessage', () => {
  const message = slackApprovalMessage(request);

  it('has Approve and Deny buttons whose value is the request id only, each with a confirmation', () => {
    const [block] = actions(message.blocks);
    expect(block?.type === 'actions' && block.elements.map((e) => [e.action_id, e.value, e.style])).toEqual([
      [SLACK_APPROVE_ACTION, request.id, 'primary'],
      [SLACK_DENY_ACTION, request.id, 'danger'],
    ]);
    for (const button of block?.type === 'actions' ? block.elements : []) {
      expect(button.confirm.confirm.text).toBe(button.text.text);
      expect(button.confirm.deny.text).toBe('Cancel');
    }
  });

  it('shows the statement in a code block, escaped, that the statement cannot close', () => {
    const section = message.blocks.find(
      (b) => b.type === 'section' && b.text?.text.startsWith('*Statement*'),
    );
    const text = section?.type === 'section' ? (section.text?.text ?? '') : '';
    expect(text).toContain('&lt;@U0BOSS&gt;');
    expect(text).toContain('&amp;amp;');
    // Exactly the two fences: the statement's own ``` is broken up.
    expect(text.match(/```/g)).toHaveLength(2);
  });

  it('escapes the reason and mentions only well-formed member ids, never the excluded approver', () => {
    const text = allText(message.blocks);
    expect(text).toContain('&lt;!channel&gt; &amp; more');
    expect(text).not.toContain('<!channel>');
    expect(text).toContain('<@U0ALICE>');
    expect(text).not.toContain('<!here');
    expect(text).toContain('eve');
    expect(text).not.toContain('U0CAROL');
    expect(message.text).not.toContain('<!channel>');
  });

  it('says who decides, how many are needed and when it expires', () => {
    const text = allText(message.blocks);
    expect(text).toContain('2 approvals of 3 asked; one denial refuses');
    expect(text).toContain('<!date^1800000900^');
    expect(text).toContain('repo:acme/app:ref:refs/heads/main');
    expect(text).toContain('migrations / drops-need-a-dba');
  });
});

describe('slackDecisionMessage', () => {
  const decision = {
    request: request.id,
    approver: 'alice',
    verdict: 'approved' as const,
    channel: 'slack',
    time: 1,
  };

  it('keeps the buttons while more approvals are needed, and says who approved', () => {
    const message = slackDecisionMessage(request, [decision], { state: 'pending' });
    expect(actions(message.blocks)).toHaveLength(1);
    expect(allText(message.blocks)).toContain('Waiting: 1 of 2 approvals so far (alice)');
  });

  it('drops the buttons once the request is decided', () => {
    const message = slackDecisionMessage(request, [decision], { state: 'denied', by: 'bob' });
    expect(actions(message.blocks)).toHaveLength(0);
    expect(allText(message.blocks)).toContain('Denied by bob');
  });
});

describe('slackWebhookMessage', () => {
  it('carries one link per approver and no buttons', () => {
    const message = slackWebhookMessage(request, [
      { approver: 'alice', url: 'https://approve.example/a/apr-1?as=alice&e=1&sig=x' },
      { approver: 'bob', url: 'https://approve.example/a/apr-1?as=bob&e=1&sig=y' },
    ]);
    expect(actions(message.blocks)).toHaveLength(0);
    const text = allText(message.blocks);
    expect(text).toContain(
      '<https://approve.example/a/apr-1?as=alice&amp;e=1&amp;sig=x|Review and decide as alice>',
    );
    expect(text).toContain('as bob>');
  });
});
