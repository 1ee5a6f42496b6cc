import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Slack's v0 request signature (docs: "Verifying requests from Slack"): `v0=` + hex HMAC-SHA256 of
 * `v0:{timestamp}:{raw body}` under the app's signing secret. It proves a request came from Slack and
 * when; it does not make a request unique, so whatever it triggers must be idempotent (decisions are
 * conditional writes). Pure: the caller passes the clock and the raw bytes.
 */

/** How far a request's timestamp may be from now, either way, in seconds (Slack's and Bolt's 5 minutes). */
export const SLACK_SIGNATURE_WINDOW_SECONDS = 300;

export interface SignedSlackRequest {
  /** Header names in any case, as the platform passed them. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The body exactly as received: already base64-decoded when Lambda said it was encoded, never re-serialised. */
  readonly body: Uint8Array;
}

export type SlackSignatureCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const refuse = (reason: string): SlackSignatureCheck => ({ ok: false, reason });

/** Accepts the request only with a v0 signature over these very bytes, made within the window of `nowSeconds`. */
export function verifySlackSignature(
  request: SignedSlackRequest,
  signingSecret: string,
  nowSeconds: number,
): SlackSignatureCheck {
  if (signingSecret.length === 0) return refuse('no signing secret is configured');
  const timestamp = header(request.headers, 'x-slack-request-timestamp');
  const signature = header(request.headers, 'x-slack-signature');
  if (timestamp === undefined || signature === undefined) return refuse('the request is not signed');
  if (!/^\d{1,12}$/.test(timestamp)) return refuse('the request timestamp is not a number of seconds');
  const age = nowSeconds - Number(timestamp);
  if (age > SLACK_SIGNATURE_WINDOW_SECONDS) return refuse('the request timestamp is too old (a replay?)');
  if (age < -SLACK_SIGNATURE_WINDOW_SECONDS) return refuse('the request timestamp is in the future');
  const [version, hex] = splitOnce(signature, '=');
  if (version !== 'v0') return refuse('the signature version is not v0');
  if (!/^[0-9a-f]{64}$/.test(hex)) return refuse('the signature is not 64 hex digits');
  const expected = createHmac('sha256', signingSecret)
    .update(`v0:${timestamp}:`)
    .update(request.body)
    .digest();
  // Both sides are 32 bytes here, which timingSafeEqual requires; it compares in constant time.
  if (!timingSafeEqual(expected, Buffer.from(hex, 'hex'))) return refuse('the signature does not match');
  return { ok: true };
}

/**
 * The one value of a header, whatever its case. Two differing values under names that differ only in
 * case are refused (undefined) rather than one picked: a proxy could have added either.
 */
function header(headers: SignedSlackRequest['headers'], name: string): string | undefined {
  const values = Object.entries(headers)
    .filter((entry): entry is [string, string] => entry[0].toLowerCase() === name && entry[1] !== undefined)
    .map(([, value]) => value);
  const [first] = values;
  return first !== undefined && values.every((v) => v === first) ? first : undefined;
}

function splitOnce(text: string, separator: string): [string, string] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, ''] : [text.slice(0, at), text.slice(at + 1)];
}
