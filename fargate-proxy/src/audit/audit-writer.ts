import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { SessionChain, sha256Hex } from '../../../core/audit/chain';
import { type Digest, type DigestSigner, signDigest } from '../../../core/audit/digest';
import type { AuditRecord, RecordBody } from '../../../core/audit/records';
import type { Logger } from '../observability/logger';

export interface AuditWriterOptions {
  /** This writer's directory in the store (local mode: the store itself). */
  directory: string;
  writer: string;
  signer: DigestSigner;
  /** Records wait at most this long in memory before they are appended to the open chunk on disk. */
  flushMs: number;
  /** A signed digest closes the open chunk at least this often, even when nothing happened. */
  digestIntervalMs: number;
  log: Logger;
  now?: () => number;
}

const OPEN_CHUNK = 'open.jsonl';

function microseconds(ms: number): number {
  return Math.round(ms * 1000);
}

/**
 * Writes one writer's audit records: chained per session, appended to an open chunk file, closed into
 * a named chunk and listed in a signed digest at a fixed interval. A chunk a previous process left
 * open is closed into the first digest of the next one, so a restart loses nothing it had flushed.
 */
export class AuditWriter {
  private readonly chains = new Map<string, SessionChain>();
  /** Sessions written to since the last digest: their heads go into it. */
  private readonly touched = new Set<string>();
  private pending: string[] = [];
  /** The open chunk, kept open: a flush is one write system call. */
  private fd: number | undefined;
  private pendingRecords = 0;
  private openRecords = 0;
  private chunkSeq = 0;
  private digestSeq = 0;
  private previousSignature = '';
  private periodStart: number;
  private readonly flushTimer: NodeJS.Timeout;
  private readonly digestTimer: NodeJS.Timeout;
  private digesting: Promise<void> = Promise.resolve();
  private readonly now: () => number;

  constructor(private readonly options: AuditWriterOptions) {
    this.now = options.now ?? (() => Date.now());
    mkdirSync(options.directory, { recursive: true, mode: 0o700 });
    this.resume();
    this.periodStart = microseconds(this.now());
    this.flushTimer = setInterval(() => this.flush(), options.flushMs);
    this.flushTimer.unref();
    this.digestTimer = setInterval(() => void this.digest(), options.digestIntervalMs);
    this.digestTimer.unref();
  }

  get writer(): string {
    return this.options.writer;
  }

  /** Picks up numbering and the signature chain from what an earlier process of this writer left. */
  private resume(): void {
    const files = readdirSync(this.options.directory);
    const numbers = (prefix: string) =>
      files.filter((f) => f.startsWith(prefix)).map((f) => Number(f.slice(prefix.length).split('.')[0]));
    const chunks = numbers('chunk-');
    const digests = numbers('digest-');
    this.chunkSeq = chunks.length ? Math.max(...chunks) + 1 : 0;
    if (digests.length) {
      this.digestSeq = Math.max(...digests) + 1;
      const last = JSON.parse(
        readFileSync(path.join(this.options.directory, `digest-${this.digestSeq - 1}.json`), 'utf8'),
      ) as Digest;
      this.previousSignature = last.signature;
      this.periodStart = last.to;
    }
    if (existsSync(path.join(this.options.directory, OPEN_CHUNK))) {
      this.openRecords = readFileSync(path.join(this.options.directory, OPEN_CHUNK), 'utf8')
        .split('\n')
        .filter((line) => line !== '').length;
    }
  }

  /** Appends a record to its session's chain; it reaches disk within `flushMs`. */
  append<R extends AuditRecord>(session: string, body: RecordBody<R>): R {
    let chain = this.chains.get(session);
    if (!chain) {
      chain = new SessionChain(session, this.options.writer);
      this.chains.set(session, chain);
    }
    const { record, line } = chain.appendLine<R>(body);
    this.touched.add(session);
    this.pending.push(line);
    this.pendingRecords++;
    return record;
  }

  /** A session is over: its chain is forgotten once the next digest has signed its head. */
  endSession(session: string): void {
    this.closing.add(session);
  }

  private readonly closing = new Set<string>();

  get hasPending(): boolean {
    return this.pending.length > 0;
  }

  /**
   * Writes what is in memory to the open chunk, synchronously: it is the spool. The relay calls this
   * before it forwards a result to the client, so a record exists on disk (in the page cache) before
   * the client learns its statement ran, and a killed process loses no acknowledged statement.
   */
  flush(): void {
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    try {
      this.fd ??= openSync(path.join(this.options.directory, OPEN_CHUNK), 'a', 0o600);
      writeSync(this.fd, text);
      this.openRecords += this.pendingRecords;
      this.pendingRecords = 0;
    } catch (error) {
      // Keep the records and try again at the next flush; the metric rises with the backlog.
      this.pending.unshift(text);
      this.options.log.error('audit spool write failed', { error });
    }
  }

  /** Closes the open chunk and writes the signed digest for the period; serialised. */
  digest(): Promise<void> {
    this.digesting = this.digesting
      .then(() => this.writeDigest())
      .catch((error) => {
        this.options.log.error('audit digest failed', { error });
      });
    return this.digesting;
  }

  private async writeDigest(): Promise<void> {
    this.flush();
    const { directory } = this.options;
    const chunks: Digest['chunks'] = [];
    const open = path.join(directory, OPEN_CHUNK);
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
    if (existsSync(open)) {
      const name = `chunk-${this.chunkSeq}.jsonl`;
      renameSync(open, path.join(directory, name));
      this.chunkSeq++;
      chunks.push({
        name,
        sha256: sha256Hex(readFileSync(path.join(directory, name))),
        records: this.openRecords,
      });
      this.openRecords = 0;
    }
    const heads: Digest['heads'] = {};
    for (const session of this.touched) {
      const chain = this.chains.get(session);
      if (chain && chain.length > 0) heads[session] = { hash: chain.lastHash, seq: chain.length - 1 };
    }
    this.touched.clear();
    for (const session of this.closing) this.chains.delete(session);
    this.closing.clear();
    const to = microseconds(this.now());
    const digest = await signDigest(
      {
        type: 'digest',
        v: 1,
        writer: this.options.writer,
        seq: this.digestSeq,
        from: this.periodStart,
        to,
        chunks,
        heads,
        previousSignature: this.previousSignature,
      },
      this.options.signer,
    );
    writeFileSync(path.join(directory, `digest-${this.digestSeq}.json`), `${JSON.stringify(digest)}\n`, {
      mode: 0o600,
    });
    this.digestSeq++;
    this.previousSignature = digest.signature;
    this.periodStart = to;
  }

  /** Flushes and writes a final digest (SIGTERM, end of a test). */
  async close(): Promise<void> {
    this.detach();
    await this.digest();
  }

  /** Stops the timers without writing anything more: what a crash leaves (tests use it to stage one). */
  detach(): void {
    clearInterval(this.flushTimer);
    clearInterval(this.digestTimer);
  }
}
