import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { CompiledPolicy } from '../../../core/policy/compiled-policy';
import { loadPolicy, PolicyError } from '../../../core/policy/load-policy';
import type { Logger } from '../observability/logger';

/** Which stored version a policy came from, when its store keeps versions (S3). */
export interface PolicyRevision {
  /** The store's version id (S3 VersionId). */
  version?: string;
  /** Who uploaded it, as the uploader declared it (S3 object metadata `changed-by`). */
  changedBy?: string;
}

export interface PolicyChange {
  previous: CompiledPolicy;
  current: CompiledPolicy;
  revision?: PolicyRevision;
}

/** A new policy that did not take effect: the previous one stays in force. */
export interface PolicyRejection {
  error: string;
  /** SHA-256 of the content that was refused (or of the last content seen, when none could be read). */
  digest: string;
  revision?: PolicyRevision;
}

export interface PolicySource {
  readonly current: CompiledPolicy;
  /** Called after a new policy has taken effect. */
  onChange(listener: (change: PolicyChange) => void): void;
  close(): void;
}

export type RejectionListener = (rejection: PolicyRejection) => void;

/** Reads and compiles a policy file; a file that does not load throws PolicyError naming file:line. */
export function readPolicyFile(file: string): CompiledPolicy {
  const loaded = loadPolicy(readFileSync(file, 'utf8'));
  if (!loaded.ok) throw new PolicyError(file, loaded.problems);
  return loaded.policy;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * What every reloading source shares: the policy in force, its listeners, and the one way a new
 * content is offered (compiled; applied if it loads and differs, refused otherwise).
 */
export abstract class ReloadingPolicySource implements PolicySource {
  private readonly listeners: ((change: PolicyChange) => void)[] = [];

  protected constructor(
    private policy: CompiledPolicy,
    /** Where the policy comes from, in messages (`file:line:column` or `s3://bucket/key:line:column`). */
    protected readonly location: string,
    protected readonly log: Logger,
    private readonly onReject: RejectionListener,
  ) {}

  get current(): CompiledPolicy {
    return this.policy;
  }

  onChange(listener: (change: PolicyChange) => void): void {
    this.listeners.push(listener);
  }

  abstract close(): void;

  /** A new content: applied when it loads and differs from the policy in force, refused when it does not load. */
  protected offer(source: string, revision?: PolicyRevision): void {
    const loaded = loadPolicy(source);
    if (!loaded.ok) {
      this.reject(new PolicyError(this.location, loaded.problems).message, sha256Hex(source), revision);
      return;
    }
    if (loaded.policy.digest === this.policy.digest) return;
    const previous = this.policy;
    this.policy = loaded.policy;
    this.log.info('policy reloaded', {
      location: this.location,
      digest: loaded.policy.digest,
      previous: previous.digest,
      ...revision,
    });
    for (const listener of this.listeners) listener({ previous, current: loaded.policy, revision });
  }

  protected reject(error: string, digest: string, revision?: PolicyRevision): void {
    this.onReject({ error, digest, revision });
    this.log.error('policy reload failed; the previous policy stays in force', {
      location: this.location,
      error,
      digest: this.policy.digest,
      ...revision,
    });
  }
}

/**
 * The policy from a file, reloaded when its content changes (read every `checkMs` and compared by
 * digest: policy files are small, and this works on every file system, with atomic renames and with
 * edits that keep size and timestamp). A file that no longer loads leaves the policy in force
 * unchanged; the error is logged and counted once per distinct content.
 */
export class FilePolicySource extends ReloadingPolicySource {
  private readonly timer: NodeJS.Timeout;
  /** Digest of the content last looked at, loaded or not. */
  private lastSeen: string;

  constructor(
    private readonly file: string,
    checkMs: number,
    log: Logger,
    onReject: RejectionListener = () => undefined,
  ) {
    super(readPolicyFile(file), file, log, onReject);
    this.lastSeen = this.current.digest;
    this.timer = setInterval(() => this.check(), checkMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** Looks for a change now (the timer calls this; tests may too). */
  check(): void {
    let source: string;
    try {
      source = readFileSync(this.file, 'utf8');
    } catch (error) {
      if (this.lastSeen !== 'unreadable')
        this.reject(`cannot read the policy file: ${(error as Error).message}`, this.lastSeen);
      this.lastSeen = 'unreadable';
      return;
    }
    const digest = sha256Hex(source);
    if (digest === this.lastSeen) return;
    this.lastSeen = digest;
    this.offer(source);
  }
}
