/**
 * A growable writer for messages the gateway originates. The length is back-patched when the message
 * is finished, so callers never compute it by hand.
 */
export class BufferWriter {
  private buffer: Buffer;
  private offset = 0;

  constructor(initialSize = 256) {
    this.buffer = Buffer.allocUnsafe(initialSize);
  }

  private ensure(bytes: number): void {
    if (this.offset + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.offset + bytes));
    this.buffer.copy(grown, 0, 0, this.offset);
    this.buffer = grown;
  }

  byte(value: number): this {
    this.ensure(1);
    this.buffer[this.offset++] = value;
    return this;
  }

  int16(value: number): this {
    this.ensure(2);
    this.buffer.writeInt16BE(value, this.offset);
    this.offset += 2;
    return this;
  }

  int32(value: number): this {
    this.ensure(4);
    this.buffer.writeInt32BE(value, this.offset);
    this.offset += 4;
    return this;
  }

  cstring(value: string): this {
    const length = Buffer.byteLength(value);
    this.ensure(length + 1);
    this.buffer.write(value, this.offset, 'utf8');
    this.offset += length;
    this.buffer[this.offset++] = 0;
    return this;
  }

  bytes(value: Uint8Array): this {
    this.ensure(value.length);
    this.buffer.set(value, this.offset);
    this.offset += value.length;
    return this;
  }

  /** Finishes a typed message: code byte, Int32 length (counting itself), body. */
  message(code: number): Buffer {
    const out = Buffer.allocUnsafe(this.offset + 5);
    out[0] = code;
    out.writeInt32BE(this.offset + 4, 1);
    this.buffer.copy(out, 5, 0, this.offset);
    this.offset = 0;
    return out;
  }

  /** Finishes an untyped packet (startup, SSLRequest, CancelRequest): Int32 length, body. */
  packet(): Buffer {
    const out = Buffer.allocUnsafe(this.offset + 4);
    out.writeInt32BE(this.offset + 4, 0);
    this.buffer.copy(out, 4, 0, this.offset);
    this.offset = 0;
    return out;
  }
}
