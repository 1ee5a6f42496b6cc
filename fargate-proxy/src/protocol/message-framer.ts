import { HEADER_LENGTH } from './codes';
import { MessageTooLongError, ProtocolError } from './errors';

/**
 * What to do with an inspected message: `undefined` forwards the original bytes, a Buffer forwards that
 * instead, `null` drops it. The `message` view (header included) is only valid during the call.
 */
export type MessageHandler = (code: number, message: Buffer) => Buffer | null | undefined;

export interface MessageFramerOptions {
  /** Type bytes that are valid in this direction; anything else is a protocol violation. */
  allowed: ReadonlySet<number>;
  /** Type bytes whose complete message is handed to `onMessage`; all others stream through untouched. */
  inspect: ReadonlySet<number>;
  /** Largest message (length field value) accepted in this direction. */
  maxMessageLength: number;
  /** Largest message that is buffered whole for inspection. */
  maxInspectedLength: number;
  onMessage: MessageHandler;
  /** Type bytes to count (see `count`); counting is cheaper than a callback on the hot path. */
  counted?: readonly number[];
  /** Receives the bytes to forward, in order. Called at most once per pushed chunk when nothing is rewritten. */
  emit: (bytes: Buffer) => void;
}

/**
 * Frames a stream of typed messages (type byte + Int32 length) with almost no work per message: it reads
 * each header, streams bodies it does not inspect as views of the received chunk, and buffers only the
 * messages it was asked to inspect. When nothing is rewritten, a received chunk is forwarded as one write.
 *
 * Bodies are never buffered whole unless inspected, so a 50 MB DataRow or CopyData costs no more memory
 * than the socket's own buffers.
 */
const ALLOWED = 1;
const INSPECTED = 2;

/**
 * One lookup table per distinct (allowed, inspect, counted) setting, shared by every framer that uses it:
 * thousands of idle sessions must not each carry their own copy.
 */
const sharedTables = new Map<string, Uint8Array>();

function tableFor(options: MessageFramerOptions): Uint8Array {
  const key = `${[...options.allowed].join()}|${[...options.inspect].join()}|${(options.counted ?? []).join()}`;
  let table = sharedTables.get(key);
  if (!table) {
    // Per type byte: bit 0 allowed, bit 1 inspected, bits 2-7 counter slot + 1 (0 = not counted).
    table = new Uint8Array(256);
    for (const code of options.allowed) table[code]! |= ALLOWED;
    for (const code of options.inspect) table[code]! |= INSPECTED;
    (options.counted ?? []).forEach((code, slot) => {
      table![code]! |= (slot + 1) << 2;
    });
    sharedTables.set(key, table);
  }
  return table;
}

/** Above this many pieces in one chunk, they are joined before they are emitted. */
const MANY_PIECES = 4;

export class MessageFramer {
  /** Shared until `setInspected` changes it for this framer alone (copy on write). */
  private table: Uint8Array;
  private ownTable = false;
  /** Bytes of a streamed (not inspected) message body still to come. */
  private remaining = 0;
  /** Fewer than HEADER_LENGTH bytes of a header left over from the previous chunk. */
  private carry: Buffer | null = null;
  /** An inspected message being accumulated across chunks. */
  private collecting: Buffer | null = null;
  private collected = 0;
  private readonly options: MessageFramerOptions;
  private halted = false;
  /** Set by `suspend()`: bytes from the suspended message on wait here until `resume()`. */
  private suspendedBytes: Buffer[] | null = null;
  private readonly counters: number[];
  /** Type byte of the last counted message forwarded (-1: none yet), and the one before it. */
  private lastCounted = -1;
  private countedBeforeLast = -1;

  constructor(options: MessageFramerOptions) {
    this.options = options;
    this.table = tableFor(options);
    this.counters = (options.counted ?? []).map(() => 0);
  }

  /** Messages of type `code` seen so far; `code` must be one of `options.counted`. */
  count(code: number): number {
    return this.counters[(this.table[code]! >> 2) - 1] ?? 0;
  }

  /**
   * The type byte of the last counted message passed on (-1 when none): the relay knows from it
   * whether the server is between two of the client's requests.
   */
  get lastCountedCode(): number {
    return this.lastCounted;
  }

  /**
   * Inspects every message until the function returned is called, which puts back what was
   * inspected before (the relay reads a whole answer of its own this way).
   */
  inspectEverything(): () => void {
    const before = this.table;
    const ownedBefore = this.ownTable;
    const all = Uint8Array.from(before);
    for (const code of this.options.allowed) all[code]! |= INSPECTED;
    this.table = all;
    this.ownTable = true;
    return () => {
      this.table = before;
      this.ownTable = ownedBefore;
    };
  }

  /** Starts or stops inspecting a message type (e.g. DataRow once a masked column is described). */
  setInspected(code: number, on: boolean): void {
    if (!this.ownTable) {
      this.table = Uint8Array.from(this.table);
      this.ownTable = true;
    }
    this.table[code] = on ? this.table[code]! | INSPECTED : this.table[code]! & ~INSPECTED;
  }

  /**
   * Stops the stream after the message being handled: nothing after it is forwarded, now or later.
   * A Terminate is the last message a client may send; what follows it must not reach the server.
   */
  halt(): void {
    this.halted = true;
  }

  /**
   * Called from `onMessage`: holds the message being handled and everything after it, unforwarded,
   * until `resume()` frames them again (and hands this message to `onMessage` a second time). A decision
   * that needs time (a statement parsed off the event loop, an approval) waits this way.
   */
  suspend(): void {
    this.suspendedBytes = [];
  }

  get suspended(): boolean {
    return this.suspendedBytes !== null;
  }

  resume(): void {
    const held = this.suspendedBytes;
    if (held === null) return;
    this.suspendedBytes = null;
    if (held.length > 0) this.push(held.length === 1 ? held[0]! : Buffer.concat(held));
  }

  /**
   * Keeps `bytes` (copied: chunks may be views of a reused read buffer). When they start with the held
   * message (`code` ≥ 0), its count is undone: it is counted again when framed again.
   */
  private hold(code: number, bytes: Buffer): void {
    const entry = code >= 0 ? this.table[code]! : 0;
    if (entry > 3) {
      this.counters[(entry >> 2) - 1]!--;
      this.lastCounted = this.countedBeforeLast;
    }
    this.suspendedBytes!.push(Buffer.from(bytes));
  }

  /** True when the stream is between two messages, so the gateway may insert one of its own. */
  get atBoundary(): boolean {
    return this.remaining === 0 && this.carry === null && this.collecting === null;
  }

  push(chunk: Buffer): void {
    if (this.halted) return;
    if (this.suspendedBytes !== null) {
      this.suspendedBytes.push(Buffer.from(chunk));
      return;
    }
    let buffer = chunk;
    if (this.carry !== null) {
      buffer = Buffer.concat([this.carry, chunk]);
      this.carry = null;
    }
    const length = buffer.length;
    let position = 0;
    let passStart = 0;
    let pieces: Buffer[] | null = null;
    const { emit } = this.options;

    if (this.remaining > 0) {
      const take = Math.min(this.remaining, length);
      this.remaining -= take;
      position = take;
    } else if (this.collecting !== null) {
      const target = this.collecting;
      const take = Math.min(target.length - this.collected, length);
      buffer.copy(target, this.collected, 0, take);
      this.collected += take;
      position = take;
      passStart = take;
      if (this.collected < target.length) return;
      this.collecting = null;
      const result = this.options.onMessage(target[0]!, target);
      if (this.suspended) {
        this.hold(target[0]!, target);
        if (take < length) this.hold(-1, buffer.subarray(take));
        return;
      }
      pieces = [];
      if (result === undefined) pieces.push(target);
      else if (result !== null) pieces.push(result);
      if (this.halted) {
        for (const piece of pieces) emit(piece);
        return;
      }
    }

    while (position < length) {
      if (length - position < HEADER_LENGTH) {
        this.carry = Buffer.from(buffer.subarray(position));
        break;
      }
      const code = buffer[position]!;
      const messageLength = buffer.readInt32BE(position + 1);
      const entry = this.table[code]!;
      if ((entry & ALLOWED) === 0) {
        throw new ProtocolError(`invalid message type 0x${code.toString(16).padStart(2, '0')}`);
      }
      if (messageLength < 4) {
        throw new ProtocolError(
          `invalid message length ${messageLength} for type '${String.fromCharCode(code)}'`,
        );
      }
      if (messageLength > this.options.maxMessageLength) {
        throw new MessageTooLongError(messageLength, this.options.maxMessageLength, code);
      }
      if (entry > 3) {
        this.counters[(entry >> 2) - 1]!++;
        this.countedBeforeLast = this.lastCounted;
        this.lastCounted = code;
      }
      const total = messageLength + 1;
      if ((entry & INSPECTED) === 0) {
        if (position + total <= length) {
          position += total;
        } else {
          this.remaining = position + total - length;
          position = length;
        }
        continue;
      }
      if (messageLength > this.options.maxInspectedLength) {
        throw new ProtocolError(
          `message of type '${String.fromCharCode(code)}' exceeds ${this.options.maxInspectedLength} bytes`,
        );
      }
      if (position + total > length) {
        if (position > passStart) {
          pieces ??= [];
          pieces.push(buffer.subarray(passStart, position));
        }
        this.collecting = Buffer.allocUnsafe(total);
        buffer.copy(this.collecting, 0, position, length);
        this.collected = length - position;
        position = length;
        passStart = length;
        break;
      }
      const result = this.options.onMessage(code, buffer.subarray(position, position + total));
      if (this.suspended) {
        this.hold(code, buffer.subarray(position));
        if (position > passStart) {
          pieces ??= [];
          pieces.push(buffer.subarray(passStart, position));
        }
        for (const piece of pieces ?? []) emit(piece);
        return;
      }
      if (result !== undefined) {
        pieces ??= [];
        if (position > passStart) pieces.push(buffer.subarray(passStart, position));
        if (result !== null) pieces.push(result);
        passStart = position + total;
      }
      position += total;
      if (this.halted) break;
    }

    const end = this.halted ? position : this.carry === null ? length : length - this.carry.length;
    if (pieces === null) {
      if (end > passStart) emit(passStart === 0 && end === length ? buffer : buffer.subarray(passStart, end));
      return;
    }
    if (end > passStart) pieces.push(buffer.subarray(passStart, end));
    // Many pieces (rows rewritten one by one): one emit, so the receiver writes once.
    if (pieces.length > MANY_PIECES) emit(Buffer.concat(pieces));
    else for (const piece of pieces) emit(piece);
  }
}
