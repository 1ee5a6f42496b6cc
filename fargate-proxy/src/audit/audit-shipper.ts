import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Digest } from '../../../core/audit/digest';
import type { Logger } from '../observability/logger';
import type { AuditStore, HeadRegistry } from './audit-store';

export interface AuditShipperOptions {
  /** The writer's directory: its sealed files wait here until shipped. */
  directory: string;
  writer: string;
  store: AuditStore;
  heads?: HeadRegistry;
  log: Logger;
  /** Backoff after a failure: from `retryBaseMs`, doubling, up to `retryMaxMs`; never gives up. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** Files waiting to be shipped, after each attempt (the backlog metric). */
  onBacklog?: (files: number) => void;
}

const SEALED = /^(chunk-\d+\.jsonl|recording-\d+\.gz|digest-\d+\.json)$/;
const SHIPPED = '.shipped';

function number(name: string): number {
  return Number(/-(\d+)\./.exec(name)?.[1] ?? 0);
}

/**
 * Ships a writer's sealed files to the store: chunks and recordings first, then the digests that list
 * them, in order, so a digest never arrives before what it vouches for. What is shipped is replaced by
 * an empty `.shipped` marker (numbering survives a restart; the space is freed); the latest digest
 * stays whole, as the writer continues its signature chain from it. Failures are retried with
 * backoff, forever: nothing is dropped. A new process ships whatever an earlier one left.
 */
export class AuditShipper {
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private wake: (() => void) | undefined;

  constructor(private readonly options: AuditShipperOptions) {}

  /** Ships what is waiting now (and what arrives meanwhile); resolves when nothing is left. */
  ship(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.loop().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private waiting(): string[] {
    const files = readdirSync(this.options.directory);
    const present = new Set(files);
    const sealed = files.filter((f) => SEALED.test(f));
    const data = sealed.filter((f) => !f.startsWith('digest-')).sort((a, b) => number(a) - number(b));
    const digests = sealed
      .filter((f) => f.startsWith('digest-') && !present.has(`${f}${SHIPPED}`))
      .sort((a, b) => number(a) - number(b));
    return [...data, ...digests];
  }

  private async loop(): Promise<void> {
    let delay = this.options.retryBaseMs;
    do {
      this.again = false;
      for (;;) {
        const pending = this.waiting();
        this.options.onBacklog?.(pending.length);
        const next = pending[0];
        if (next === undefined || this.stopped) break;
        try {
          await this.shipOne(next);
          delay = this.options.retryBaseMs;
        } catch (error) {
          this.options.log.warn('audit shipping failed; retrying', { file: next, retryInMs: delay, error });
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, delay);
            this.wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          this.wake = undefined;
          delay = Math.min(delay * 2, this.options.retryMaxMs);
        }
      }
    } while (this.again && !this.stopped);
  }

  private async shipOne(name: string): Promise<void> {
    const { directory, writer, store, heads } = this.options;
    const file = path.join(directory, name);
    const bytes = readFileSync(file);
    await store.put(writer, name, bytes);
    writeFileSync(`${file}${SHIPPED}`, '');
    if (name.startsWith('digest-')) {
      const digest = JSON.parse(bytes.toString('utf8')) as Digest;
      await heads?.register(writer, { seq: digest.seq, signature: digest.signature, to: digest.to });
    } else {
      rmSync(file, { force: true });
    }
    this.prune(name);
  }

  /**
   * Only the newest marker of each kind is needed (numbering), and only the newest digest (the
   * signature chain): older ones, already shipped, go.
   */
  private prune(shipped: string): void {
    const kind = shipped.slice(0, shipped.indexOf('-') + 1);
    const newest = number(shipped);
    for (const f of readdirSync(this.options.directory)) {
      if (!f.startsWith(kind) || number(f) >= newest) continue;
      if (f.endsWith(SHIPPED) || (kind === 'digest-' && SEALED.test(f))) {
        // An older digest goes only once shipped (its marker is there).
        if (
          kind === 'digest-' &&
          SEALED.test(f) &&
          !readdirSync(this.options.directory).includes(`${f}${SHIPPED}`)
        )
          continue;
        rmSync(path.join(this.options.directory, f), { force: true });
      }
    }
  }

  /** Stops after the file being shipped (SIGTERM: the caller gives it the drain period). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.running;
  }
}
