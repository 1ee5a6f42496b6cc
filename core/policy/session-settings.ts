import type { Grant } from './compiled-policy';

/** A setting the gateway sets for the session; the client may only set it to `allowValue`, if any. */
export interface Pin {
  readonly allowValue?: string;
}

const cache = new WeakMap<Grant, ReadonlyMap<string, Pin>>();

/** Settings the client may not change in a session under this grant. */
export function pinnedSettings(grant: Grant): ReadonlyMap<string, Pin> {
  let pins = cache.get(grant);
  if (pins) return pins;
  const map = new Map<string, Pin>();
  const admin = grant.allow.has('admin');
  if (grant.role !== undefined || !admin) {
    // Changing the role is changing who the session is; only an admin grant that does not name a
    // role may (SET ROLE is admin class anyway).
    map.set('role', {});
    map.set('session_authorization', {});
  }
  if (!admin) {
    // The gateway must read statements as the server does: its parser assumes standard-conforming
    // strings and receives UTF-8. With backslash escapes in plain strings, or a client encoding whose
    // multibyte characters contain quote or backslash bytes, the server would see other statements.
    map.set('standard_conforming_strings', { allowValue: 'on' });
    map.set('client_encoding', { allowValue: 'UTF8' });
    map.set('backslash_quote', {});
  }
  if (grant.readOnly) {
    // Asking for read-only is always fine; READ WRITE is not.
    map.set('default_transaction_read_only', { allowValue: 'on' });
    map.set('transaction_read_only', { allowValue: 'on' });
  }
  if (grant.limits.statementTimeoutMs !== undefined) map.set('statement_timeout', {});
  if (grant.searchPath !== 'any') map.set('search_path', {});
  pins = map;
  cache.set(grant, pins);
  return pins;
}

/** Whether a pinned setting may be set to `value` (`UTF8`, `utf-8` and `utf_8` are one value). */
export function allowedValue(pin: Pin, value: string | undefined): boolean {
  const canonical = (text: string) => text.toLowerCase().replace(/[-_]/g, '');
  return (
    pin.allowValue !== undefined && value !== undefined && canonical(value) === canonical(pin.allowValue)
  );
}

function quoteIdentifier(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/**
 * The settings the gateway sends in the upstream startup packet. Values set there are the session's
 * defaults: RESET, RESET ALL and DISCARD ALL return to them, so the client cannot undo them that way.
 */
export function startupSettings(grant: Grant): Record<string, string> {
  const settings: Record<string, string> = {};
  if (grant.role !== undefined) settings.role = grant.role;
  if (grant.readOnly) settings.default_transaction_read_only = 'on';
  if (grant.limits.statementTimeoutMs !== undefined) {
    settings.statement_timeout = String(grant.limits.statementTimeoutMs);
  }
  if (grant.searchPath !== 'any') settings.search_path = grant.searchPath.map(quoteIdentifier).join(', ');
  return settings;
}
