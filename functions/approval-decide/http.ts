import { z } from 'zod';

/**
 * Lambda function URL events (payload format 2.0) in, responses out. The body is kept as bytes, since
 * Slack's signature covers the raw body; header names are lower-cased (HTTP names are case-insensitive).
 */

const functionUrlEvent = z.object({
  requestContext: z.object({ http: z.object({ method: z.string() }) }),
  rawPath: z.string(),
  rawQueryString: z.string().default(''),
  headers: z.record(z.string()).default({}),
  body: z.string().optional(),
  isBase64Encoded: z.boolean().default(false),
});

export interface HttpRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  /** Lower-cased names. */
  readonly headers: Readonly<Record<string, string>>;
  /** The body's bytes as the client sent them. */
  readonly body: Buffer;
}

export interface HttpResponse {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export function parseFunctionUrlEvent(event: unknown): HttpRequest | undefined {
  const parsed = functionUrlEvent.safeParse(event);
  if (!parsed.success) return undefined;
  const e = parsed.data;
  return {
    method: e.requestContext.http.method.toUpperCase(),
    path: e.rawPath,
    query: new URLSearchParams(e.rawQueryString),
    headers: Object.fromEntries(Object.entries(e.headers).map(([k, v]) => [k.toLowerCase(), v])),
    body: Buffer.from(e.body ?? '', e.isBase64Encoded ? 'base64' : 'utf8'),
  };
}

/**
 * Headers on every page: never cached or indexed (a link's page is for one person), no Referer
 * leaking the link to anything it points at, no framing (clickjacking the buttons), and a policy that
 * allows the page's inline style and its own forms, nothing else.
 */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-robots-tag': 'noindex, nofollow',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
};

export function htmlResponse(
  statusCode: number,
  html: string,
  headers: Record<string, string> = {},
): HttpResponse {
  return { statusCode, headers: { ...PAGE_HEADERS, ...headers }, body: html };
}

export function textResponse(
  statusCode: number,
  text: string,
  headers: Record<string, string> = {},
): HttpResponse {
  return {
    statusCode,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers },
    body: text,
  };
}
