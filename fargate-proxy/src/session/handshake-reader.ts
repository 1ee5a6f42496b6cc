import type { Duplex } from 'node:stream';

/**
 * Buffers what a client sends before its session starts (PROXY header, SSLRequest, StartupMessage,
 * password), so the handshake can be written as straight-line async code. Unlike the relay, it is allowed
 * to copy: these packets are few and small, and every read is bounded by the caller.
 */
export class HandshakeReader {
  private buffer: Buffer = Buffer.alloc(0);
  private waiter: { resolve: () => void; reject: (error: Error) => void } | undefined;
  private closed: Error | undefined;
  private readonly onData = (chunk: Buffer) => {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    this.wake();
  };
  private readonly onClose = () => this.fail(new ClientGoneError());
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

  /** Resolves once at least `count` bytes are buffered. */
  async need(count: number): Promise<void> {
    while (this.buffer.length < count) {
      if (this.closed) throw this.closed;
      await new Promise<void>((resolve, reject) => {
        this.waiter = { resolve, reject };
      });
    }
  }

  /** Resolves once more bytes than `count` are buffered, or rejects when the client goes away. */
  async more(count: number): Promise<void> {
    await this.need(count + 1);
  }

  take(count: number): Buffer {
    const out = this.buffer.subarray(0, count);
    this.buffer = this.buffer.subarray(count);
    return out;
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.resolve();
  }

  private fail(error: Error): void {
    this.closed ??= error;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(this.closed);
  }

  /**
   * Stops reading and returns what is buffered. The stream is paused first, so no byte is emitted while
   * nobody listens.
   */
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

/** The client closed the connection during the handshake: nothing to answer. */
export class ClientGoneError extends Error {
  override readonly name = 'ClientGoneError';
  constructor() {
    super('client closed the connection');
  }
}
