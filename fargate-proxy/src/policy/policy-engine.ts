import { grantFor } from '../../../core/policy/admission';
import { withinAllowedHours } from '../../../core/policy/allowed-hours';
import type { CompiledPolicy, Grant, Identity } from '../../../core/policy/compiled-policy';
import { startupSettings } from '../../../core/policy/session-settings';
import { SessionError } from '../session/session-errors';
import type { PolicySource } from './policy-source';
import { SessionPolicy, type SessionPolicyContext } from './session-policy';

/** A session the engine admitted; `end` is how a reload that no longer admits it ends it. */
export interface AdmittedSession {
  readonly policy: SessionPolicy;
  /** Settings to send in the upstream startup packet (role, read-only, timeout, search path). */
  readonly settings: Readonly<Record<string, string>>;
  /** Gives back the session's connection slots; call once when the session ends. */
  release(): void;
}

interface Registered {
  policy: SessionPolicy;
  settings: string;
  end: (sqlstate: string, message: string) => void;
}

function identityKey(grant: Grant, identity: Identity): string {
  return `${grant.name}\u0000${identity.issuer}\u0000${identity.subject}`;
}

/**
 * The policy of one gateway process: admits sessions (grant, hours, connection limits), gives each its
 * SessionPolicy, and applies reloads to live sessions. Connection limits count this process's sessions.
 */
export class PolicyEngine {
  private readonly sessions = new Set<Registered>();
  private readonly perIdentity = new Map<string, number>();
  private readonly perDatabase = new Map<string, number>();

  constructor(
    private readonly source: PolicySource,
    private readonly context: SessionPolicyContext,
  ) {
    source.onChange(({ current }) => this.reapply(current));
  }

  get policy(): CompiledPolicy {
    return this.source.current;
  }

  /**
   * Admits a verified identity to a database, or throws the SessionError the client gets.
   * `end` is called if a later policy no longer admits the session.
   */
  admit(
    identity: Identity,
    database: string,
    end: (sqlstate: string, message: string) => void,
  ): AdmittedSession {
    const policy = this.source.current;
    const grant = grantFor(policy, identity, database);
    if (!grant) {
      throw new SessionError(
        '28000',
        `no grant of the policy admits identity "${identity.subject}" to database "${database}"`,
      );
    }
    const hours = grant.limits.allowedHours;
    if (hours && !withinAllowedHours(hours, this.context.now())) {
      throw new SessionError('28000', `grant "${grant.name}" does not allow connections at this time`);
    }
    const key = identityKey(grant, identity);
    const max = grant.limits.maxConnections;
    if (max !== undefined && (this.perIdentity.get(key) ?? 0) >= max) {
      throw new SessionError(
        '53300',
        `identity "${identity.subject}" already has ${max} sessions, the limit of grant "${grant.name}"`,
      );
    }
    const cap = policy.databases[database]?.maxUpstreamConnections;
    if (cap !== undefined && (this.perDatabase.get(database) ?? 0) >= cap) {
      throw new SessionError(
        '53300',
        `database "${database}" already has ${cap} sessions through this gateway, its limit`,
      );
    }
    this.perIdentity.set(key, (this.perIdentity.get(key) ?? 0) + 1);
    this.perDatabase.set(database, (this.perDatabase.get(database) ?? 0) + 1);
    const settings = startupSettings(grant);
    const sessionPolicy = new SessionPolicy(this.context, identity, database, policy, grant);
    const registered: Registered = { policy: sessionPolicy, settings: JSON.stringify(settings), end };
    this.sessions.add(registered);
    let released = false;
    return {
      policy: sessionPolicy,
      settings,
      release: () => {
        if (released) return;
        released = true;
        void sessionPolicy.close();
        this.sessions.delete(registered);
        this.decrement(this.perIdentity, key);
        this.decrement(this.perDatabase, database);
      },
    };
  }

  private decrement(counts: Map<string, number>, key: string): void {
    const left = (counts.get(key) ?? 1) - 1;
    if (left <= 0) counts.delete(key);
    else counts.set(key, left);
  }

  /**
   * Applies a new policy to live sessions: a session still admitted under the same session settings
   * continues under its new grant; any other is ended (its role or pinned settings would differ, or
   * masking would start or stop: its results are followed from the start of the session).
   */
  private reapply(policy: CompiledPolicy): void {
    for (const session of [...this.sessions]) {
      const { identity, database } = session.policy;
      const grant = grantFor(policy, identity, database);
      if (!grant) {
        session.end(
          '57P01',
          `terminating connection: the policy no longer admits identity "${identity.subject}" to database "${database}"`,
        );
      } else if (
        JSON.stringify(startupSettings(grant)) !== session.settings ||
        (grant.masking !== undefined) !== (session.policy.masking !== undefined)
      ) {
        session.end(
          '57P01',
          `terminating connection: the policy changed the session settings of grant "${grant.name}"; reconnect`,
        );
      } else {
        session.policy.update(policy, grant);
      }
    }
  }
}
