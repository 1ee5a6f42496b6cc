import type { ApprovalRequest } from '../../../core/approval/approval';
import { approvalEmail } from '../../../core/approval/approval-email';

const request: ApprovalRequest = {
  id: 'apr-0a1b2c3d4e5f',
  binding: 'b'.repeat(64),
  requested: 1_800_000_000_000_000,
  expires: 1_800_000_900_000_000,
  issuer: 'https://issuer.example',
  subject: 'job <script>',
  database: 'prod\r\nBcc: everyone@example.com',
  grant: 'migrations',
  rule: 'drops',
  reason: 'needs a "DBA" & more',
  text: 'DROP TABLE "a<b>"',
  approvers: ['alice'],
  contacts: { alice: { email: 'alice@example.com' } },
  needed: 1,
  coverage: { kind: 'window', minutes: 30 },
  excluded: [],
};
const LINK = 'https://approve.example/a/apr-0a1b2c3d4e5f?as=alice&e=1800000900&sig=abc';

describe('approvalEmail', () => {
  const email = approvalEmail(request, 'alice', LINK);

  it('has a one-line subject naming the request', () => {
    expect(email.subject).not.toMatch(/[\r\n]/);
    expect(email.subject).toContain('apr-0a1b2c3d4e5f');
  });

  it('escapes every value in the HTML part and links to the approver’s page', () => {
    expect(email.html).toContain('DROP TABLE &quot;a&lt;b&gt;&quot;');
    expect(email.html).toContain('job &lt;script&gt;');
    expect(email.html).not.toContain('<script>');
    expect(email.html).toContain(`href="${LINK.replace(/&/g, '&amp;')}"`);
  });

  it('says the same in plain text, with the link, its owner, its expiry and what the approval covers', () => {
    expect(email.text).toContain(`Review and decide: ${LINK}`);
    expect(email.text).toContain('This link is for alice only and works until 2027-01-15 08:15 UTC.');
    expect(email.text).toContain('Approval covers: this exact statement for 30 minutes');
    expect(email.text).toContain('    DROP TABLE "a<b>"');
  });
});
