import { createHash, type Hash, randomUUID } from 'node:crypto';
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
import type { RecordingWriter } from '../recording/recording-writer';
import type { RecordingCaps } from '../recording/session-recorder';
import type { StrictStore } from './strict-store';

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
  /** Called on each failed spool write (the records are kept and retried): the alarm metric. */
  onSpoolFailure?: () => void;
  /** Session recordings, sealed and listed by each digest beside the audit chunks. */
  recording?: { writer: RecordingWriter; caps: RecordingCaps };
  /** Where `strict` statements' records go before the statements run. */
  strict?: StrictStore;
  /** A digest follows a session's end within this long (absent: only the interval's digests). */
  sessionEndDigestMs?: number;
  /** Called after each digest is written (the shipper's cue). */
  onDigest?: () => void;
  /** Called with each digest as written (the self-check keeps what it signed). */
  onDigestWritten?: (name: string, bytes: Buffer, digest: Digest) => void;
  /** Called with the lines each spool write put on disk (the CloudWatch Logs copy). */
  onSpooled?: (lines: string) => void;
  /**
   * The writer's own long-lived chains (its policy log): listed in every digest and continued by the
   * writer's next process, so a restart never starts them again.
   */
  persistentChains?: readonly string[];
}

const OPEN_CHUNK = 'open.jsonl';
type Head = { hash: string; seq: number };

function chunkNumber(name: string): number {
  const match = /^chunk-(\d+)\./.exec(name);
  return match ? Number(match[1]) : -1;
}

function recordingNumber(name: string): number {
  const match = /^recording-(\d+)\./.exec(name);
  return match ? Number(match[1]) : -1;
}

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
  /** Bytes a failed write left behind; they go before anything newer. */
  private unwritten: Buffer | null = null;
  /**
   * SHA-256 of the open chunk as written, so a digest need not read it back; undefined while the open
   * chunk holds lines an earlier process wrote (then it is hashed from the disk).
   */
  private openHash: Hash | undefined = createHash('sha256');
  /** The open chunk, kept open: a flush is one write system call. */
  private fd: number | undefined;
  private pendingRecords = 0;
  private openRecords = 0;
  private chunkSeq = 0;
  private digestSeq = 0;
  private previousSignature = '';
  /** Files an earlier process sealed or left open without a digest listing them. */
  private recoveredChunks: Digest['chunks'] = [];
  private recoveredRecordings: NonNullable<Digest['recordings']> = [];
  /** The next recording number known to be unlisted (see Digest.sealed). */
  private recordingMark = 0;
  /** Names this process in its digests: a different one between two digests is a restart. */
  private readonly process = randomUUID();
  private periodStart: number;
  private readonly flushTimer: NodeJS.Timeout;
  private readonly digestTimer: NodeJS.Timeout;
  private digesting: Promise<void> = Promise.resolve();
  private readonly now: () => number;

  constructor(private readonly options: AuditWriterOptions) {
    this.now = options.now ?? (() => Date.now());
    mkdirSync(options.directory, { recursive: true, mode: 0o700 });
    // A new writer's first period starts now; one that resumes an earlier process's spool continues
    // from that process's last digest (its leftover records fall in between).
    this.periodStart = microseconds(this.now());
    this.resume();
    this.flushTimer = setInterval(() => this.flush(), options.flushMs);
    this.flushTimer.unref();
    this.digestTimer = setInterval(() => void this.digest(), options.digestIntervalMs);
    this.digestTimer.unref();
  }

  get writer(): string {
    return this.options.writer;
  }

  get recording(): AuditWriterOptions['recording'] {
    return this.options.recording;
  }

  get strictStore(): StrictStore | undefined {
    return this.options.strict;
  }

  /**
   * Picks up numbering, the signature chain and the long-lived chains from what an earlier process of
   * this writer left; what it sealed or left open without listing it in a digest (it died first) is
   * sealed now and listed, marked recovered, by this process's first digest.
   */
  private resume(): void {
    const { directory } = this.options;
    const files = readdirSync(directory);
    const numbered = (pattern: RegExp) =>
      files.flatMap((f) => {
        const match = pattern.exec(f);
        return match ? [{ file: f, n: Number(match[1]) }] : [];
      });
    const chunks = numbered(/^chunk-(\d+)\.jsonl(\.shipped)?$/);
    const digests = numbered(/^digest-(\d+)\.json(\.shipped)?$/).map((d) => d.n);
    this.chunkSeq = chunks.length ? Math.max(...chunks.map((c) => c.n)) + 1 : 0;
    const heads = new Map<string, Head>();
    let marks = { chunk: 0, recording: 0 };
    if (digests.length) {
      this.digestSeq = Math.max(...digests) + 1;
      const last = this.readDigest(this.digestSeq - 1);
      this.previousSignature = last.signature;
      this.periodStart = last.to;
      if (last.sealed) {
        marks = last.sealed;
        for (const [session, head] of Object.entries(last.chains ?? {})) heads.set(session, head);
      } else {
        marks = this.legacyMarks(digests, heads);
      }
    }
    this.recordingMark = marks.recording;
    if (existsSync(path.join(directory, OPEN_CHUNK))) {
      renameSync(path.join(directory, OPEN_CHUNK), path.join(directory, `chunk-${this.chunkSeq++}.jsonl`));
    }
    for (const name of readdirSync(directory).sort((a, b) => chunkNumber(a) - chunkNumber(b))) {
      const n = /^chunk-(\d+)\.jsonl$/.exec(name)?.[1];
      if (n === undefined || Number(n) < marks.chunk) continue;
      const bytes = readFileSync(path.join(directory, name));
      const lines = bytes.toString('utf8').split('\n');
      // The last line has no newline when the process died in the middle of writing it.
      const complete = lines.slice(0, -1);
      this.recoveredChunks.push({
        name,
        sha256: sha256Hex(bytes),
        records: complete.length,
        recovered: { bytes: bytes.length },
      });
      this.followPersistentChains(complete, heads);
    }
    for (const name of readdirSync(directory)) {
      const n = /^recording-(\d+)\.gz$/.exec(name)?.[1];
      if (n === undefined || Number(n) < marks.recording) continue;
      const bytes = readFileSync(path.join(directory, name));
      this.recoveredRecordings.push({ name, sha256: sha256Hex(bytes), bytes: bytes.length, recovered: true });
    }
    for (const session of this.options.persistentChains ?? []) {
      const head = heads.get(session);
      if (head) this.chains.set(session, new SessionChain(session, this.options.writer, head));
    }
  }

  private readDigest(seq: number): Digest {
    const { directory } = this.options;
    const name = `digest-${seq}.json`;
    const file = existsSync(path.join(directory, name)) ? name : `${name}.shipped`;
    return JSON.parse(readFileSync(path.join(directory, file), 'utf8')) as Digest;
  }

  /**
   * Digests of the previous release (v1) carry no marks and no long-lived chains: they are read
   * once, at the first start after an upgrade, for the files they list and the chains' last heads.
   */
  private legacyMarks(
    digests: readonly number[],
    heads: Map<string, Head>,
  ): { chunk: number; recording: number } {
    const persistent = new Set(this.options.persistentChains ?? []);
    let chunk = 0;
    let recording = 0;
    for (const seq of [...digests].sort((a, b) => a - b)) {
      let digest: Digest;
      try {
        digest = this.readDigest(seq);
      } catch {
        continue; // a shipped digest is an empty marker: its files were listed before it
      }
      for (const c of digest.chunks) chunk = Math.max(chunk, chunkNumber(c.name) + 1);
      for (const r of digest.recordings ?? []) recording = Math.max(recording, recordingNumber(r.name) + 1);
      for (const [session, head] of Object.entries(digest.heads))
        if (persistent.has(session)) heads.set(session, head);
    }
    // Shipped files were listed before they were shipped, even where their digest is now a marker.
    for (const name of readdirSync(this.options.directory)) {
      if (!name.endsWith('.shipped')) continue;
      chunk = Math.max(chunk, chunkNumber(name) + 1);
      recording = Math.max(recording, recordingNumber(name) + 1);
    }
    return { chunk, recording };
  }

  /** The long-lived chains' records in files no digest listed: the chains continue after the last. */
  private followPersistentChains(lines: readonly string[], heads: Map<string, Head>): void {
    const persistent = new Set(this.options.persistentChains ?? []);
    if (persistent.size === 0) return;
    for (const line of lines) {
      let record: { session?: unknown; seq?: unknown; hash?: unknown };
      try {
        record = JSON.parse(line) as typeof record;
      } catch {
        continue;
      }
      const { session, seq, hash } = record;
      if (typeof session !== 'string' || !persistent.has(session)) continue;
      if (typeof seq !== 'number' || typeof hash !== 'string') continue;
      if (seq > (heads.get(session)?.seq ?? -1)) heads.set(session, { hash, seq });
    }
  }

  /** Appends a record to its session's chain; it reaches disk within `flushMs`. Returns its hash. */
  append<R extends AuditRecord>(session: string, body: RecordBody<R>): string {
    let chain = this.chains.get(session);
    if (!chain) {
      chain = new SessionChain(session, this.options.writer);
      this.chains.set(session, chain);
    }
    const { line, hash } = chain.appendLine(body);
    this.touched.add(session);
    this.pending.push(line);
    this.pendingRecords++;
    return hash;
  }

  /**
   * A session is over: a digest follows within `sessionEndDigestMs` (sessions ending close together
   * share one), so a finished session's chain head is signed soon after it ends; its chain is then
   * forgotten.
   */
  endSession(session: string): void {
    this.closing.add(session);
    if (this.sessionEndTimer || this.options.sessionEndDigestMs === undefined) return;
    this.sessionEndTimer = setTimeout(() => {
      this.sessionEndTimer = undefined;
      void this.digest();
    }, this.options.sessionEndDigestMs);
    this.sessionEndTimer.unref();
  }

  private sessionEndTimer: NodeJS.Timeout | undefined;
  private readonly closing = new Set<string>();

  get hasPending(): boolean {
    return this.pending.length > 0 || this.unwritten !== null;
  }

  /** Sessions waiting for the server (see Spool): whether a group commit could gather anyone. */
  awaitingServer = 0;

  private waiting: (() => void)[] = [];
  private commitScheduled = false;

  /**
   * Calls `then` once the records appended so far are in the spool. Group commit: every session that
   * asks during one turn of the event loop is served by one write, at the end of the turn, instead of
   * one write per statement.
   */
  afterFlush(then: () => void): void {
    this.waiting.push(then);
    if (this.commitScheduled) return;
    this.commitScheduled = true;
    setImmediate(this.commit);
  }

  private readonly commit = (): void => {
    this.commitScheduled = false;
    this.flush();
    const waiting = this.waiting;
    this.waiting = [];
    for (const then of waiting) then();
  };

  /**
   * Writes what is in memory to the open chunk, synchronously: it is the spool. The relay calls this
   * before it forwards a result to the client, so a record exists on disk (in the page cache) before
   * the client learns its statement ran, and a killed process loses no acknowledged statement.
   */
  flush(): void {
    if (this.pending.length === 0 && this.unwritten === null) return;
    const fresh = this.pending.length > 0 ? Buffer.from(this.pending.join('')) : null;
    this.pending = [];
    const data =
      this.unwritten && fresh ? Buffer.concat([this.unwritten, fresh]) : (this.unwritten ?? fresh)!;
    this.unwritten = null;
    let written = 0;
    try {
      this.fd ??= openSync(path.join(this.options.directory, OPEN_CHUNK), 'a', 0o600);
      while (written < data.length) written += writeSync(this.fd, data, written);
      this.openRecords += this.pendingRecords;
      this.pendingRecords = 0;
      this.options.onSpooled?.(data.toString('utf8'));
    } catch (error) {
      // What did not reach the disk is tried again first at the next flush, so lines stay whole
      // and in order; the backlog shows in `hasPending`.
      this.unwritten = data.subarray(written);
      this.options.log.error('audit spool write failed', { error });
      this.options.onSpoolFailure?.();
      // Reopened at the next attempt: the file may have been replaced or its disk remounted.
      if (this.fd !== undefined) closeSync(this.fd);
      this.fd = undefined;
    } finally {
      this.openHash?.update(data.subarray(0, written));
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
    const chunks: Digest['chunks'] = this.recoveredChunks;
    this.recoveredChunks = [];
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
        sha256: this.openHash?.digest('hex') ?? sha256Hex(readFileSync(path.join(directory, name))),
        records: this.openRecords,
      });
      this.openRecords = 0;
    }
    this.openHash = createHash('sha256');
    const heads: Digest['heads'] = {};
    for (const session of this.touched) {
      const chain = this.chains.get(session);
      if (chain && chain.length > 0) heads[session] = { hash: chain.lastHash, seq: chain.length - 1 };
    }
    this.touched.clear();
    for (const session of this.closing) this.chains.delete(session);
    this.closing.clear();
    const chains: NonNullable<Digest['chains']> = {};
    for (const session of this.options.persistentChains ?? []) {
      const chain = this.chains.get(session);
      if (chain && chain.length > 0) chains[session] = { hash: chain.lastHash, seq: chain.length - 1 };
    }
    const writer = this.options.recording?.writer;
    const sealedRecordings = writer ? await writer.seal() : [];
    const recordings = [...this.recoveredRecordings, ...sealedRecordings];
    this.recoveredRecordings = [];
    if (writer) this.recordingMark = writer.nextNumber;
    const to = microseconds(this.now());
    const digest = await signDigest(
      {
        type: 'digest',
        v: 2,
        writer: this.options.writer,
        seq: this.digestSeq,
        from: this.periodStart,
        to,
        chunks,
        ...(writer || recordings.length > 0 ? { recordings } : {}),
        heads,
        chains,
        sealed: { chunk: this.chunkSeq, recording: this.recordingMark },
        process: this.process,
        previousSignature: this.previousSignature,
      },
      this.options.signer,
    );
    const name = `digest-${this.digestSeq}.json`;
    const bytes = Buffer.from(`${JSON.stringify(digest)}\n`);
    writeFileSync(path.join(directory, name), bytes, { mode: 0o600 });
    this.options.onDigestWritten?.(name, bytes, digest);
    this.digestSeq++;
    this.previousSignature = digest.signature;
    this.periodStart = to;
    this.options.onDigest?.();
  }

  /** Flushes and writes a final digest (SIGTERM, end of a test). */
  async close(): Promise<void> {
    this.detach();
    await this.digest();
  }

  /** Stops the timers without writing anything more: what a crash leaves (tests use it to stage one). */
  detach(): void {
    clearTimeout(this.sessionEndTimer);
    this.options.recording?.writer.detach();
    clearInterval(this.flushTimer);
    clearInterval(this.digestTimer);
  }
}
