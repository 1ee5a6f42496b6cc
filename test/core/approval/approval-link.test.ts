import { randomBytes } from 'node:crypto';
import {
  type ApprovalLinkFields,
  approvalLink,
  hmacLinkMac,
  linkFields,
  verifyApprovalLink,
} from '../../../core/approval/approval-link';

const mac = hmacLinkMac(Buffer.from('link-key-for-tests-0123456789abcdef'));
const NOW = 1_800_000_000;
const EXPIRES = NOW + 900;

async function fieldsOf(link: string): Promise<ApprovalLinkFields> {
  const url = new URL(link);
  const parsed = linkFields(decodeURIComponent(url.pathname.replace(/^\/a\//, '')), url.searchParams);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
}

describe('approval links', () => {
  it('have the documented shape and verify for their approver before expiry', async () => {
    const link = await approvalLink(
      'https://approve.example/',
      { requestId: 'apr-0a1b2c', approver: 'alice', expires: EXPIRES },
      mac,
    );
    expect(link).toMatch(
      new RegExp(`^https://approve\\.example/a/apr-0a1b2c\\?as=alice&e=${EXPIRES}&sig=[A-Za-z0-9_-]{43}$`),
    );
    expect(await verifyApprovalLink(await fieldsOf(link), mac, NOW)).toEqual({ ok: true, value: true });
  });

  it('encode approver names with URL characters (a@b:c) and verify them', async () => {
    const link = await approvalLink(
      'https://approve.example',
      { requestId: 'apr-1', approver: 'a@b:c', expires: EXPIRES },
      mac,
    );
    const fields = await fieldsOf(link);
    expect(fields.approver).toBe('a@b:c');
    expect((await verifyApprovalLink(fields, mac, NOW)).ok).toBe(true);
  });

  describe('are refused when', () => {
    let fields: ApprovalLinkFields;
    beforeAll(async () => {
      fields = await fieldsOf(
        await approvalLink(
          'https://approve.example',
          { requestId: 'apr-1', approver: 'alice', expires: EXPIRES },
          mac,
        ),
      );
    });

    it.each([
      ['the request id is changed', { requestId: 'apr-2' }],
      ['the approver is changed', { approver: 'bob' }],
      ['the expiry is extended', { expires: EXPIRES + 1 }],
    ])('%s', async (_what, change) => {
      expect(await verifyApprovalLink({ ...fields, ...change }, mac, NOW)).toEqual({
        ok: false,
        reason: 'the link is not valid (it was changed, or made with another key)',
      });
    });

    it('the signature is changed in one character', async () => {
      const sig = `${fields.sig.slice(0, 10)}${fields.sig[10] === 'A' ? 'B' : 'A'}${fields.sig.slice(11)}`;
      expect((await verifyApprovalLink({ ...fields, sig }, mac, NOW)).ok).toBe(false);
    });

    it('it was made with another key', async () => {
      expect((await verifyApprovalLink(fields, hmacLinkMac(randomBytes(32)), NOW)).ok).toBe(false);
    });

    it('it has expired (from its expiry second on)', async () => {
      expect((await verifyApprovalLink(fields, mac, EXPIRES - 1)).ok).toBe(true);
      expect(await verifyApprovalLink(fields, mac, EXPIRES)).toEqual({
        ok: false,
        reason: 'the link has expired',
      });
    });
  });

  it.each([
    ['no approver', 'apr-1', `e=1&sig=${'A'.repeat(43)}`],
    ['an approver with markup', 'apr-1', `as=%3Cb%3E&e=1&sig=${'A'.repeat(43)}`],
    ['a non-numeric expiry', 'apr-1', `as=alice&e=soon&sig=${'A'.repeat(43)}`],
    ['a short signature', 'apr-1', 'as=alice&e=1&sig=AAAA'],
    ['a request id with a slash', 'apr/1', `as=alice&e=1&sig=${'A'.repeat(43)}`],
  ])('are refused by shape with %s', (_what, id, query) => {
    expect(linkFields(id, new URLSearchParams(query)).ok).toBe(false);
  });
});
