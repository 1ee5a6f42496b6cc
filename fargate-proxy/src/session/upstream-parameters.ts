import type { Grant } from '../../../core/policy/compiled-policy';
import { allowedValue, pinnedSettings } from '../../../core/policy/session-settings';
import { SessionError } from './session-errors';

/** Whether a libpq `options` value (`-c name=value`, `--name=value`) sets one of the pinned settings. */
function optionsTouch(options: string, pinned: ReadonlyMap<string, unknown>): boolean {
  const names = options.match(/(?:-c\s*|--)([A-Za-z_.]+)\s*=/g) ?? [];
  return names.some((match) =>
    pinned.has(
      match
        .replace(/^(-c\s*|--)/, '')
        .replace(/\s*=$/, '')
        .toLowerCase(),
    ),
  );
}

/** Startup parameters that describe the gateway's own connection and are never passed upstream. */
const NOT_FORWARDED = new Set(['user', 'database', 'replication']);

/**
 * The startup parameters the upstream session is opened with: the client's, less those that describe
 * the gateway's own connection, refused (42501) when one would set what the grant pins (directly or
 * through libpq's `options`). The grant's own settings are added by the caller.
 */
export function forwardedParameters(
  requested: ReadonlyMap<string, string>,
  database: string,
  grant: Grant,
): Record<string, string> {
  const pinned = pinnedSettings(grant);
  const parameters: Record<string, string> = { database };
  for (const [name, value] of requested) {
    if (NOT_FORWARDED.has(name)) continue;
    const pin = pinned.get(name);
    if ((pin && !allowedValue(pin, value)) || (name === 'options' && optionsTouch(value, pinned))) {
      throw new SessionError(
        '42501',
        `startup parameter "${name}" may not set what the gateway sets for this session`,
      );
    }
    parameters[name] = value;
  }
  return parameters;
}
