import { createHmac } from 'node:crypto';
import { verifySlackSignature } from '../../../core/approval/slack-signature';

const SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const NOW = 1_531_420_618;
const BODY = Buffer.from('payload=%7B%22type%22%3A%22block_actions%22%7D', 'utf8');

/** The documented algorithm, computed here independently of the code under test. */
function sign(body: Buffer, timestamp: number | string, secret = SECRET): string {
  return `v0=${createHmac('sha256', secret)
    .update(`v0:${timestamp}:${body.toString('utf8')}`)
    .digest('hex')}`;
}

function headers(timestamp: number | string, signature: string): Record<string, string> {
  return { 'x-slack-request-timestamp': String(timestamp), 'x-slack-signature': signature };
}

describe('verifySlackSignature', () => {
  it('accepts a request signed with the signing secret over its raw body', () => {
    // GIVEN a request signed now WHEN it is verified THEN it passes
    expect(verifySlackSignature({ headers: headers(NOW, sign(BODY, NOW)), body: BODY }, SECRET, NOW)).toEqual(
      { ok: true },
    );
  });

  it('accepts the header names in any case', () => {
    const request = {
      headers: { 'X-Slack-Request-Timestamp': String(NOW), 'X-SLACK-SIGNATURE': sign(BODY, NOW) },
      body: BODY,
    };
    expect(verifySlackSignature(request, SECRET, NOW).ok).toBe(true);
  });

  it('refuses conflicting values under names that differ only in case', () => {
    const request = {
      headers: { ...headers(NOW, sign(BODY, NOW)), 'X-Slack-Signature': sign(BODY, NOW, 'other') },
      body: BODY,
    };
    expect(verifySlackSignature(request, SECRET, NOW)).toEqual({
      ok: false,
      reason: 'the request is not signed',
    });
  });

  it('refuses a forged signature (another secret)', () => {
    const request = { headers: headers(NOW, sign(BODY, NOW, 'not-the-secret')), body: BODY };
    expect(verifySlackSignature(request, SECRET, NOW)).toEqual({
      ok: false,
      reason: 'the signature does not match',
    });
  });

  it('refuses a body changed after signing, by one byte', () => {
    const tampered = Buffer.concat([BODY.subarray(0, -1), Buffer.from([(BODY.at(-1) ?? 0) ^ 1])]);
    expect(
      verifySlackSignature({ headers: headers(NOW, sign(BODY, NOW)), body: tampered }, SECRET, NOW).ok,
    ).toBe(false);
  });

  it('refuses a timestamp changed after signing', () => {
    const request = { headers: headers(NOW + 1, sign(BODY, NOW)), body: BODY };
    expect(verifySlackSignature(request, SECRET, NOW).ok).toBe(false);
  });

  it('keeps the 300 s window in both directions', () => {
    const at = (timestamp: number) =>
      verifySlackSignature({ headers: headers(timestamp, sign(BODY, timestamp)), body: BODY }, SECRET, NOW);
    expect(at(NOW - 300).ok).toBe(true);
    expect(at(NOW + 300).ok).toBe(true);
    expect(at(NOW - 301)).toEqual({ ok: false, reason: 'the request timestamp is too old (a replay?)' });
    expect(at(NOW + 301)).toEqual({ ok: false, reason: 'the request timestamp is in the future' });
  });

  it('refuses another signature version', () => {
    const v1 = sign(BODY, NOW).replace(/^v0=/, 'v1=');
    expect(verifySlackSignature({ headers: headers(NOW, v1), body: BODY }, SECRET, NOW)).toEqual({
      ok: false,
      reason: 'the signature version is not v0',
    });
  });

  it.each([
    ['a missing signature', { 'x-slack-request-timestamp': String(NOW) }],
    ['a missing timestamp', { 'x-slack-signature': sign(BODY, NOW) }],
    ['a timestamp that is not a number', headers('1e9', sign(BODY, '1e9'))],
    ['a truncated signature', headers(NOW, sign(BODY, NOW).slice(0, 40))],
    ['an upper-case signature', headers(NOW, sign(BODY, NOW).toUpperCase().replace('V0=', 'v0='))],
  ])('refuses %s', (_what, given) => {
    expect(verifySlackSignature({ headers: given, body: BODY }, SECRET, NOW).ok).toBe(false);
  });

  it('refuses everything without a signing secret', () => {
    expect(verifySlackSignature({ headers: headers(NOW, sign(BODY, NOW, '')), body: BODY }, '', NOW).ok).toBe(
      false,
    );
  });

  it('hashes bytes, not text: a body that is not valid UTF-8 is verified as sent', () => {
    const body = Buffer.from([0x70, 0x3d, 0xff, 0xfe]);
    const signature = `v0=${createHmac('sha256', SECRET)
      .update(Buffer.concat([Buffer.from(`v0:${NOW}:`), body]))
      .digest('hex')}`;
    expect(verifySlackSignature({ headers: headers(NOW, signature), body }, SECRET, NOW).ok).toBe(true);
  });
});
