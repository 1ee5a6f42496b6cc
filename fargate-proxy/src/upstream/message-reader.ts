import type { Duplex } from 'node:stream';
import { HEADER_LENGTH } from '../protocol/codes';
import { ProtocolError } from '../protocol/errors';

export interface TypedMessage {
  code: number;
  /** The body, after the 5-byte header. */
  body: Buffer;
}

/**
 * Reads whole typed messages from a stream, one `next()` at a time. Used only for short conversations
 * (the upstream startup), never on the relay path. `detach()` hands back unread bytes.
 */
export class MessageReader {
  private buffer: Buffer = Buffer.alloc(0);
  private waiter: { resolve: () => void; reject: (error: Error) => void } | undefined;
  private failure: Error | undefined;
  private readonly onData = (chunk: Buffer) => {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    this.wake();
  };
  private readonly onEnd = () => this.fail(new Error('connection closed by the server'));
  private readonly onError = (error: Error) => this.fail(error);

  constructor(
    private readonly stream: Duplex,
    private readonly maxMessageBytes: number,
  ) {
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('close', this.onEnd);
    stream.on('error', this.onError);
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.resolve();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(this.failure);
  }

  /** Reads `count` raw bytes (e.g. the one-byte answer to SSLRequest). */
  async bytes(count: number): Promise<Buffer> {
    while (this.buffer.length < count) await this.wait();
    const out = this.buffer.subarray(0, count);
    this.buffer = this.buffer.subarray(count);
    return out;
  }

  async next(): Promise<TypedMessage> {
    for (;;) {
      if (this.buffer.length >= HEADER_LENGTH) {
        const length = this.buffer.readInt32BE(1);
        if (length < 4 || length > this.maxMessageBytes)
          throw new ProtocolError(`invalid message length ${length}`);
        if (this.buffer.length >= length + 1) {
          const code = this.buffer[0]!;
          const body = this.buffer.subarray(HEADER_LENGTH, length + 1);
          this.buffer = this.buffer.subarray(length + 1);
          return { code, body };
        }
      }
      await this.wait();
    }
  }

  private wait(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** Stops reading and returns the bytes received but not consumed. */
  detach(): Buffer {
    this.stream.off('data', this.onData);
    this.stream.off('end', this.onEnd);
    this.stream.off('close', this.onEnd);
    this.stream.off('error', this.onError);
    const rest = this.buffer;
    this.buffer = Buffer.alloc(0);
    return rest;
  }
}
