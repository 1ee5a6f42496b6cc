import type { CompiledPolicy } from '../../../core/policy/compiled-policy';
import { loadPolicy } from '../../../core/policy/load-policy';
import type { Logger } from '../observability/logger';
import {
  type PolicyRevision,
  type RejectionListener,
  ReloadingPolicySource,
  sha256Hex,
} from './policy-source';
import type { PolicyObject, PolicyObjectStore } from './s3-policy-object-store';

/** The policy could not be had at start: the gateway must not serve without one (fail closed). */
export class PolicyUnavailableError extends Error {
  override readonly name = 'PolicyUnavailableError';
}

function revisionOf(object: PolicyObject): PolicyRevision {
  return { version: object.version, changedBy: object.changedBy };
}

/** What identifies a stored version: its VersionId, else (an unversioned bucket) its ETag. */
function versionKey(object: { version?: string; etag?: string }): string | undefined {
  return object.version ?? object.etag;
}

/** Fetches and compiles the current version, or throws PolicyUnavailableError saying why. */
export async function fetchPolicyObject(
  store: PolicyObjectStore,
): Promise<{ policy: CompiledPolicy; object: PolicyObject }> {
  let object: PolicyObject;
  try {
    object = await store.get();
  } catch (error) {
    throw new PolicyUnavailableError(
      `the gateway does not start without its policy: cannot fetch ${store.location}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const loaded = loadPolicy(object.body);
  if (!loaded.ok) {
    const version = object.version ? ` (version ${object.version})` : '';
    const problems = loaded.problems.map((p) => `  ${store.location}:${p.line}:${p.column}: ${p.message}`);
    throw new PolicyUnavailableError(
      `the gateway does not start without its policy: ${store.location}${version} does not load:\n${problems.join('\n')}`,
    );
  }
  return { policy: loaded.policy, object };
}

export interface S3PolicySourceOptions {
  /** How often the object's version is looked at (one HeadObject each time). */
  checkMs: number;
  log: Logger;
  /** Told of every version that did not take effect, and of the store becoming unreadable. */
  onReject?: RejectionListener;
}

/**
 * The policy from one object of a versioned S3 bucket. Every `checkMs` a HeadObject compares the
 * current VersionId (or ETag) with the last one seen; only a new version is fetched (GetObject) and
 * compiled. A version that does not load leaves the policy in force and is reported once, with its
 * version and uploader; so is the object becoming unreadable (until it is readable again).
 */
export class S3PolicySource extends ReloadingPolicySource {
  private readonly timer: NodeJS.Timeout;
  private lastSeen: { key?: string; digest: string };
  private checking: Promise<void> | undefined;
  private unreadable = false;
  private closed = false;

  private constructor(
    private readonly store: PolicyObjectStore,
    initial: { policy: CompiledPolicy; object: PolicyObject },
    options: S3PolicySourceOptions,
  ) {
    super(initial.policy, store.location, options.log, options.onReject ?? (() => undefined));
    this.lastSeen = { key: versionKey(initial.object), digest: initial.policy.digest };
    this.timer = setInterval(() => void this.check(), options.checkMs);
    this.timer.unref();
  }

  /** Fetches the current version (PolicyUnavailableError if it cannot be had or does not load), then polls. */
  static async open(store: PolicyObjectStore, options: S3PolicySourceOptions): Promise<S3PolicySource> {
    const initial = await fetchPolicyObject(store);
    options.log.info('policy loaded', {
      location: store.location,
      digest: initial.policy.digest,
      ...revisionOf(initial.object),
    });
    return new S3PolicySource(store, initial, options);
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
  }

  /** Looks for a new version now (the timer calls this; tests may too). One check runs at a time. */
  check(): Promise<void> {
    this.checking ??= this.poll().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  private async poll(): Promise<void> {
    let object: PolicyObject;
    try {
      const head = await this.store.head();
      const key = versionKey(head);
      if (key !== undefined && key === this.lastSeen.key) {
        this.unreadable = false;
        return;
      }
      object = await this.store.get();
    } catch (error) {
      if (this.closed || this.unreadable) return;
      this.unreadable = true;
      this.reject(`cannot read the policy object: ${(error as Error).message}`, this.lastSeen.digest);
      return;
    }
    this.unreadable = false;
    if (this.closed) return;
    const digest = sha256Hex(object.body);
    const key = versionKey(object);
    // Without a version or ETag (not S3's behaviour), the content itself tells versions apart.
    if (key === undefined ? digest === this.lastSeen.digest : key === this.lastSeen.key) return;
    this.lastSeen = { key, digest };
    this.offer(object.body, revisionOf(object));
  }
}
