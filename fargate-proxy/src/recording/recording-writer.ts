import { createHash, type Hash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { type FrameKind, frameSize, writeFrame } from '../../../core/recording/frames';
import type { Logger } from '../observability/logger';

const gzipAsync = promisify(gzip);

export interface SealedRecording {
  name: string;
  sha256: string;
  bytes: number;
}

export interface RecordingWriterOptions {
  /** The writer's directory in the store, shared with its audit chunks. */
  directory: string;
  /** Frames wait at most this long in memory before they are compressed and appended to the open file. */
  flushMs: number;
  /** Frames waiting for compression beyond this are dropped (and counted), so memory stays bounded. */
  maxPendingBytes: number;
  log: Logger;
}

const OPEN_FILE = 'recording-open.gz';
/** Frames are gathered in blocks of this size; a full block is compressed at once. */
const BLOCK_BYTES = 256 * 1024;

/**
 * One writer's session recordings: frames from all its sessions gathered in memory, compressed off the
 * event loop (gzip level 1: about 20 to 1 on query traffic, a fraction of a microsecond per statement)
 * and appended to an open file as gzip members. Each audit digest seals the open file under a numbered
 * name and lists it with its SHA-256, so recordings are tamper-evident like the audit chunks.
 *
 * Recordings are best effort where the audit trail is not: what waits in memory (at most `flushMs`) is
 * lost if the process dies, and frames are dropped, counted and logged rather than let memory grow.
 */
export class RecordingWriter {
  private block = Buffer.allocUnsafe(BLOCK_BYTES);
  private used = 0;
  private pendingBytes = 0;
  private writing: Promise<void> = Promise.resolve();
  private fd: number | undefined;
  /** Running hash and size of the open file. */
  private openHash: Hash = createHash('sha256');
  private openBytes = 0;
  private sequence: number;
  private readonly timer: NodeJS.Timeout;
  /** Frames dropped because compression or the disk fell behind. */
  dropped = 0;

  constructor(private readonly options: RecordingWriterOptions) {
    const numbers = readdirSync(options.directory)
      .map((f) => /^recording-(\d+)\.gz(\.shipped)?$/.exec(f)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number);
    this.sequence = numbers.length ? Math.max(...numbers) + 1 : 0;
    // A file an earlier process left open may end in a torn gzip member: it is closed as it is, apart
    // from what this process writes. The audit writer finds it (numbered past its digests' mark) and
    // lists it as recovered, whether or not this process lives to its first digest.
    const open = path.join(options.directory, OPEN_FILE);
    if (existsSync(open)) renameSync(open, path.join(options.directory, `recording-${this.sequence++}.gz`));
    this.timer = setInterval(() => this.flush(), options.flushMs);
    this.timer.unref();
  }

  /** Appends a frame; never throws and never blocks on I/O. */
  frame(kind: FrameKind, session: string, time: number, payload: Buffer | string): void {
    const length = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    const size = frameSize(session, length);
    if (this.pendingBytes + this.used + size > this.options.maxPendingBytes) {
      this.dropped++;
      return;
    }
    if (this.used + size > this.block.length) {
      this.flush();
      if (size > this.block.length) this.block = Buffer.allocUnsafe(size);
    }
    this.used = writeFrame(this.block, this.used, kind, session, time, payload);
  }

  /** Hands the gathered frames to compression (on the thread pool) and then to the open file. */
  flush(): void {
    if (this.used === 0) return;
    const data = this.block.subarray(0, this.used);
    this.pendingBytes += data.length;
    this.block = Buffer.allocUnsafe(BLOCK_BYTES);
    this.used = 0;
    this.writing = this.writing
      .then(() => gzipAsync(data, { level: 1 }))
      .then((compressed) => this.append(compressed))
      .catch((error) => {
        this.dropped++;
        this.options.log.error('recording write failed', { error });
      })
      .finally(() => {
        this.pendingBytes -= data.length;
      });
  }

  private append(compressed: Buffer): void {
    this.fd ??= openSync(path.join(this.options.directory, OPEN_FILE), 'a', 0o600);
    let written = 0;
    while (written < compressed.length) written += writeSync(this.fd, compressed, written);
    this.openHash.update(compressed);
    this.openBytes += compressed.length;
  }

  /** Closes the open file under the next number; the digest lists what this returns. */
  async seal(): Promise<SealedRecording[]> {
    this.flush();
    await this.writing;
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
    const current = this.sealOpenFile();
    return current ? [current] : [];
  }

  /** The number the next sealed file gets. */
  get nextNumber(): number {
    return this.sequence;
  }

  private sealOpenFile(): SealedRecording | undefined {
    const open = path.join(this.options.directory, OPEN_FILE);
    if (!existsSync(open)) return undefined;
    const name = `recording-${this.sequence++}.gz`;
    renameSync(open, path.join(this.options.directory, name));
    let sealed: SealedRecording;
    if (this.openBytes > 0) {
      sealed = { name, sha256: this.openHash.digest('hex'), bytes: this.openBytes };
    } else {
      // Written by an earlier process: hashed from the disk.
      const stored = readFileSync(path.join(this.options.directory, name));
      sealed = { name, sha256: createHash('sha256').update(stored).digest('hex'), bytes: stored.length };
    }
    this.openHash = createHash('sha256');
    this.openBytes = 0;
    return sealed;
  }

  /** Stops the timer; what is gathered is written by the last seal. */
  detach(): void {
    clearInterval(this.timer);
  }
}
