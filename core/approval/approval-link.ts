import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Decision links sent by e-mail (or to a webhook channel): `{base}/a/{requestId}?as={approver}&e={expiry}&sig={mac}`.
 * A link is bound to one approver and expires; its MAC covers the request id, the approver and the
 * expiry, so changing any of them breaks it. It carries no task token and acts on nothing by itself:
 * a GET only shows a confirmation page, a POST of that page's form decides (aws.md §2.2, §2.3).
 * The MAC is computed by an injected `LinkMac` (KMS GenerateMac in AWS, where the key never leaves
 * KMS; a local HMAC in tests and local mode).
 */

export interface LinkMac {
  /** The MAC of `message`. */
  sign(message: Uint8Array): Promise<Uint8Array>;
  /** Whether `mac` is the MAC of `message`, compared in constant time. */
  verify(message: Uint8Array, mac: Uint8Array): Promise<boolean>;
}

/** What a link says, as read from its path and query (or the confirmation form, which repeats them). */
export interface ApprovalLinkFields {
  readonly requestId: string;
  readonly approver: string;
  /** Seconds since the epoch. */
  readonly expires: number;
  /** The MAC, base64url without padding. */
  readonly sig: string;
}

export type LinkCheck<T = true> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: string };

/** Request ids are the gateway's `apr-…`; approver names follow the policy schema's name rule. */
const REQUEST_ID = /^[A-Za-z0-9_-]{1,128}$/;
const APPROVER = /^[A-Za-z0-9_.:@-]{1,128}$/;
/** An HMAC-SHA-256 is 32 bytes: 43 base64url characters. */
const SIG = /^[A-Za-z0-9_-]{43}$/;

/**
 * The canonical string the MAC covers. A JSON array cannot be made ambiguous by separators inside a
 * field, and the leading label keeps these MACs from ever meaning anything else under the same key.
 */
export function linkMessage(requestId: string, approver: string, expires: number): Uint8Array {
  return Buffer.from(JSON.stringify(['gatehouse-approval-link/v1', requestId, approver, expires]), 'utf8');
}

/** The link for one approver. `expires` is in seconds since the epoch. */
export async function approvalLink(
  base: string,
  link: { readonly requestId: string; readonly approver: string; readonly expires: number },
  mac: LinkMac,
): Promise<string> {
  const sig = Buffer.from(await mac.sign(linkMessage(link.requestId, link.approver, link.expires))).toString(
    'base64url',
  );
  const query = new URLSearchParams({ as: link.approver, e: String(link.expires), sig });
  return `${base.replace(/\/+$/, '')}/a/${encodeURIComponent(link.requestId)}?${query.toString()}`;
}

/** The link's fields from the id in its path and its query (or form) parameters; shape checks only. */
export function linkFields(requestId: string, params: URLSearchParams): LinkCheck<ApprovalLinkFields> {
  const approver = params.get('as') ?? '';
  const expires = params.get('e') ?? '';
  const sig = params.get('sig') ?? '';
  if (!REQUEST_ID.test(requestId)) return { ok: false, reason: 'the link names no valid request' };
  if (!APPROVER.test(approver)) return { ok: false, reason: 'the link names no valid approver' };
  if (!/^\d{1,12}$/.test(expires)) return { ok: false, reason: 'the link has no valid expiry' };
  if (!SIG.test(sig)) return { ok: false, reason: 'the link has no valid signature' };
  return { ok: true, value: { requestId, approver, expires: Number(expires), sig } };
}

/**
 * Accepts a link only before its expiry and with its MAC. The expiry is checked first: it costs no
 * call to KMS, and an expired link is refused whatever its MAC.
 */
export async function verifyApprovalLink(
  fields: ApprovalLinkFields,
  mac: LinkMac,
  nowSeconds: number,
): Promise<LinkCheck> {
  if (nowSeconds >= fields.expires) return { ok: false, reason: 'the link has expired' };
  const message = linkMessage(fields.requestId, fields.approver, fields.expires);
  if (!(await mac.verify(message, Buffer.from(fields.sig, 'base64url'))))
    return { ok: false, reason: 'the link is not valid (it was changed, or made with another key)' };
  return { ok: true, value: true };
}

/** A `LinkMac` from a local key (HMAC-SHA-256): tests and local mode; AWS uses KMS. */
export function hmacLinkMac(key: Uint8Array): LinkMac {
  const sign = (message: Uint8Array) => createHmac('sha256', key).update(message).digest();
  return {
    sign: async (message) => sign(message),
    verify: async (message, mac) => {
      const expected = sign(message);
      return mac.length === expected.length && timingSafeEqual(expected, mac);
    },
  };
}
