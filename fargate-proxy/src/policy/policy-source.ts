import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { CompiledPolicy } from '../../../core/policy/compiled-policy';
import { loadPolicy, PolicyError } from '../../../core/policy/load-policy';
import type { Logger } from '../observability/logger';

export interface PolicyChange {
  previous: CompiledPolicy;
  current: CompiledPolicy;
}

export interface PolicySource {
  readonly current: CompiledPolicy;
  /** Called after a new policy has taken effect. */
  onChange(listener: (change: PolicyChange) => void): void;
  close(): void;
}

/** Reads and compiles a policy file; a file that does not load throws PolicyError naming file:line. */
export function readPolicyFile(file: string): CompiledPolicy {
  const loaded = loadPolicy(readFileSync(file, 'utf8'));
  if (!loaded.ok) throw new PolicyError(file, loaded.problems);
  return loaded.policy;
}

/**
 * The policy from a file, reloaded when its content changes (read every `checkMs` and compared by
 * digest: policy files are small, and this works on every file system, with atomic renames and with
 * edits that keep size and timestamp). A file that no longer loads leaves the policy in force
 * unchanged; the error is logged and counted once per distinct content.
 */
export class FilePolicySource implements PolicySource {
  private policy: CompiledPolicy;
  private readonly listeners: ((change: PolicyChange) => void)[] = [];
  private readonly timer: NodeJS.Timeout;
  /** Digest of the content last looked at, loaded or not. */
  private lastSeen: string;

  constructor(
    private readonly file: string,
    checkMs: number,
    private readonly log: Logger,
    private readonly onReloadFailure: (error: string, digest: string) => void = () => undefined,
  ) {
    this.policy = readPolicyFile(file);
    this.lastSeen = this.policy.digest;
    this.timer = setInterval(() => this.check(), checkMs);
    this.timer.unref();
  }

  get current(): CompiledPolicy {
    return this.policy;
  }

  onChange(listener: (change: PolicyChange) => void): void {
    this.listeners.push(listener);
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
        this.fail(`cannot read the policy file: ${(error as Error).message}`);
      this.lastSeen = 'unreadable';
      return;
    }
    const digest = createHash('sha256').update(source).digest('hex');
    if (digest === this.lastSeen) return;
    this.lastSeen = digest;
    const loaded = loadPolicy(source);
    if (!loaded.ok) {
      this.fail(new PolicyError(this.file, loaded.problems).message);
      return;
    }
    if (loaded.policy.digest === this.policy.digest) return;
    const previous = this.policy;
    this.policy = loaded.policy;
    this.log.info('policy reloaded', {
      file: this.file,
      digest: loaded.policy.digest,
      previous: previous.digest,
    });
    for (const listener of this.listeners) listener({ previous, current: loaded.policy });
  }

  private fail(message: string): void {
    this.onReloadFailure(message, this.lastSeen);
    this.log.error('policy reload failed; the previous policy stays in force', {
      file: this.file,
      error: message,
      digest: this.policy.digest,
    });
  }
}
