import { ProtocolError } from './errors';

/**
 * A bounds-checked cursor over one message body. Every read checks the remaining length and throws a
 * ProtocolError instead of reading past the end: lengths and terminators from the wire are never trusted.
 */
export class BufferReader {
  private offset: number;

  constructor(
    private readonly buffer: Buffer,
    start = 0,
    private readonly end = buffer.length,
  ) {
    this.offset = start;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  get position(): number {
    return this.offset;
  }

  private need(bytes: number, what: string): void {
    if (bytes < 0 || this.offset + bytes > this.end) {
      throw new ProtocolError(`message too short: expected ${what}`);
    }
  }

  byte(): number {
    this.need(1, 'a byte');
    return this.buffer[this.offset++]!;
  }

  int16(): number {
    this.need(2, 'an Int16');
    const value = this.buffer.readInt16BE(this.offset);
    this.offset += 2;
    return value;
  }

  int32(): number {
    this.need(4, 'an Int32');
    const value = this.buffer.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  /** A NUL-terminated string. A missing terminator is malformed, never a reason to keep scanning. */
  cstring(): string {
    const nul = this.buffer.indexOf(0, this.offset);
    if (nul < 0 || nul >= this.end) throw new ProtocolError('string is not NUL-terminated');
    const value = this.buffer.toString('utf8', this.offset, nul);
    this.offset = nul + 1;
    return value;
  }

  /** A view (no copy) of the next `length` bytes. */
  bytes(length: number): Buffer {
    this.need(length, `${length} bytes`);
    const view = this.buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    return view;
  }

  /** An Int32-length-prefixed value; -1 is SQL NULL and stays distinct from empty bytes. */
  nullableBytes(): Buffer | null {
    const length = this.int32();
    if (length === -1) return null;
    if (length < -1) throw new ProtocolError(`negative value length ${length}`);
    return this.bytes(length);
  }

  rest(): Buffer {
    return this.bytes(this.remaining);
  }
}
