import net from 'node:net';
import tls from 'node:tls';
import { cstr, int32, startup, typed, untyped } from './wire';

export interface RawMessage {
  code: string;
  body: Buffer;
}

/**
 * A deliberately low-level client for tests that send what no driver would: malformed messages,
 * oversized packets, partial handshakes. It reads whatever the gateway answers.
 */
export class RawClient {
  private buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;
  socket: net.Socket | tls.TLSSocket;

  private constructor(socket: net.Socket | tls.TLSSocket) {
    this.socket = socket;
    this.attach(socket);
  }

  private attach(socket: net.Socket | tls.TLSSocket): void {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host }, () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  /** SSLRequest, then TLS on the same socket. */
  async startTls(): Promise<void> {
    this.socket.write(untyped(int32(80877103)));
    const answer = await this.readBytes(1);
    if (answer.toString() !== 'S') throw new Error(`gateway answered ${answer.toString()} to SSLRequest`);
    const raw = this.socket as net.Socket;
    raw.removeAllListeners('data');
    const secure = tls.connect({ socket: raw, rejectUnauthorized: false });
    await new Promise((resolve) => secure.once('secureConnect', resolve));
    this.socket = secure;
    this.attach(secure);
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Startup + password; resolves after ReadyForQuery (or returns the ErrorResponse). */
  async login(token: string, parameters?: Record<string, string>): Promise<RawMessage[]> {
    // By default the startup user is the token's subject, as a well-behaved client sends it.
    const subject = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()).sub as string;
    this.write(startup(parameters ?? { user: subject, database: 'postgres' }));
    const auth = await this.next();
    if (auth.code !== 'R') return [auth];
    this.write(typed('p', cstr(token)));
    return this.until('Z');
  }

  async readBytes(count: number, timeoutMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.buffer.length < count) {
      if (this.closed) throw new Error('connection closed');
      await this.wait(deadline);
    }
    const out = this.buffer.subarray(0, count);
    this.buffer = this.buffer.subarray(count);
    return out;
  }

  private wait(deadline: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('timed out waiting for the gateway')),
        Math.max(0, deadline - Date.now()),
      );
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async next(timeoutMs = 5000): Promise<RawMessage> {
    const header = await this.readBytes(5, timeoutMs);
    const length = header.readInt32BE(1);
    const body = await this.readBytes(length - 4, timeoutMs);
    return { code: String.fromCharCode(header[0]!), body: Buffer.from(body) };
  }

  /** Reads messages up to and including one of type `code` (or an error when `stopOnError`). */
  async until(code: string, timeoutMs = 5000): Promise<RawMessage[]> {
    const messages: RawMessage[] = [];
    for (;;) {
      const message = await this.next(timeoutMs);
      messages.push(message);
      if (message.code === code) return messages;
      if (message.code === 'E' && fieldsOf(message).S === 'FATAL') return messages;
    }
  }

  /** Resolves once the gateway has closed the connection. */
  async closedByPeer(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) await this.wait(deadline);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The fields of an ErrorResponse/NoticeResponse by letter. */
export function fieldsOf(message: RawMessage): Record<string, string> {
  const fields: Record<string, string> = {};
  let i = 0;
  while (i < message.body.length && message.body[i] !== 0) {
    const code = String.fromCharCode(message.body[i]!);
    const end = message.body.indexOf(0, i + 1);
    fields[code] = message.body.toString('utf8', i + 1, end);
    i = end + 1;
  }
  return fields;
}
