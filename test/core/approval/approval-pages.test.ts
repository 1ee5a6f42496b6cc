import type { ApprovalRequest } from '../../../core/approval/approval';
import { confirmationPage, resultPage } from '../../../core/approval/approval-pages';

const request: ApprovalRequest = {
  id: 'apr-0a1b2c3d4e5f',
  binding: 'b'.repeat(64),
  requested: 1_800_000_000_000_000,
  expires: 1_800_000_900_000_000,
  issuer: 'https://issuer.example',
  subject: 'repo:acme/app',
  database: 'prod',
  grant: 'migrations',
  rule: 'drops',
  reason: 'needs a DBA',
  text: `DROP TABLE x; -- "><script>alert(1)</script>`,
  approvers: ['alice', 'bob'],
  contacts: {},
  needed: 2,
  coverage: { kind: 'once' },
  excluded: [],
};
const link = { requestId: request.id, approver: 'alice', expires: 1_800_000_900, sig: 'S'.repeat(43) };

describe('confirmationPage', () => {
  const html = confirmationPage({ request, link, decisions: [], state: { state: 'pending' } });

  it('escapes the statement and has no script at all', () => {
    expect(html).toContain('&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toMatch(/<script/i);
  });

  it('has an Approve and a Deny form posting the link’s fields to the page’s own path', () => {
    const forms = html.match(/<form method="post" action="apr-0a1b2c3d4e5f">.*?<\/form>/g) ?? [];
    expect(forms).toHaveLength(2);
    for (const [form, verdict] of [
      [forms[0], 'approve'],
      [forms[1], 'deny'],
    ]) {
      expect(form).toContain('<input type="hidden" name="as" value="alice">');
      expect(form).toContain('<input type="hidden" name="e" value="1800000900">');
      expect(form).toContain(`<input type="hidden" name="sig" value="${'S'.repeat(43)}">`);
      expect(form).toContain(`<input type="hidden" name="verdict" value="${verdict}">`);
    }
  });

  it('shows why the approver cannot decide instead of the forms', () => {
    const page = confirmationPage({
      request,
      link,
      decisions: [],
      state: { state: 'pending' },
      problem: 'alice has already decided',
    });
    expect(page).toContain('alice has already decided');
    expect(page).not.toContain('<form');
  });
});

describe('resultPage', () => {
  it('escapes its message', () => {
    const page = resultPage({ tone: 'refused', title: 'Nothing was recorded', message: '<b>x</b>', request });
    expect(page).toContain('&lt;b&gt;x&lt;/b&gt;');
    expect(page).toContain('Request apr-0a1b2c3d4e5f');
  });
});
