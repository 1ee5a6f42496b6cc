import type { Duplex } from 'node:stream';
import { HEADER_LENGTH } from '../protocol/codes';
import { ProtocolError } from '../protocol/errors';

export interface TypedMessage {
  code: number;
  /** The body, after the 5-byte header. */
  body: Buffer;
}

/** The peer closed the connection while we were waiting for bytes. */
export class PeerClosedError extends Error {
  override readonly name = 'PeerClosedError';
  constructor() {
    super('connection closed by the peer');
  }
}

/**
 * Buffers a stream for short, straight-line conversations: the client handshake and the gateway's own
 * startup with the upstream server. Never used on the relay path: it copies, and every read is bounded
 * by its caller. `detach()` pauses the stream first, so no byte is emitted while nobody listens, and
 * hands back what was received but not consumed.
 */
export class StreamReader {
  private buffer: Buffer = Buffer.alloc(0);
  private waiter: { resolve: () => void; reject: (error: Error) => void } | undefined;
  private failure: Error | undefined;
  private readonly onData = (chunk: Buffer) => {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    this.settle();
  };
  private readonly onClose = () => this.fail(new PeerClosedError());
  private readonly onError = (error: Error) => this.fail(error);

  constructor(private readonly stream: Duplex) {
    stream.on('data', this.onData);
    stream.on('end', this.onClose);
    stream.on('close', this.onClose);
    stream.on('error', this.onError);
  }

  get buffered(): number {
    return this.buffer.length;
  }

  /** The bytes received so far, without consuming them. */
  peek(): Buffer {
    return this.buffer;
  }

  /** Resolves once at least `count` bytes are buffered; rejects when the peer goes away first. */
  async need(count: number): Promise<void> {
    while (this.buffer.length < count) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve, reject) => {
        this.waiter = { resolve, reject };
      });
    }
  }

  take(count: number): Buffer {
    const out = this.buffer.subarray(0, count);
    this.buffer = this.buffer.subarray(count);
    return out;
  }

  async bytes(count: number): Promise<Buffer> {
    await this.need(count);
    return this.take(count);
  }

  /** The next whole typed message; its declared length must be within [4, maxLength]. */
  async message(maxLength: number): Promise<TypedMessage> {
    await this.need(HEADER_LENGTH);
    const length = this.buffer.readInt32BE(1);
    if (length < 4 || length > maxLength) throw new ProtocolError(`invalid message length ${length}`);
    await this.need(length + 1);
    const code = this.buffer[0]!;
    const message = this.take(length + 1);
    return { code, body: message.subarray(HEADER_LENGTH) };
  }

  private settle(): void {
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

  detach(): Buffer {
    this.stream.pause();
    this.stream.off('data', this.onData);
    this.stream.off('end', this.onClose);
    this.stream.off('close', this.onClose);
    this.stream.off('error', this.onError);
    const rest = this.buffer;
    this.buffer = Buffer.alloc(0);
    return rest;
  }
}
