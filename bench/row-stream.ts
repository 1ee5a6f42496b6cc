import net from 'node:net';
import { serialize } from 'pg-protocol';

/**
 * A minimal PostgreSQL client for the masking benchmark: it runs one query again and again through
 * the extended protocol, asking for text or binary results, and counts the rows without decoding
 * them, so the client costs little next to what it measures (node-postgres would spend most of the
 * time building row objects).
 */
export interface RowStreamTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface RowStreamResult {
  rows: number;
  seconds: number;
}

const AUTH_OK = 0;
const AUTH_CLEARTEXT = 3;

class Connection {
  private buffer: Buffer = Buffer.alloc(0);
  private waiting: (() => void) | undefined;
  private failure: Error | undefined;

  constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.waiting?.();
    });
    const fail = (error: Error) => {
      this.failure = error;
      this.waiting?.();
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /**
   * Reads messages until one of type `until`; returns the messages of type `keep` (bodies) and the
   * count of DataRows seen. An ErrorResponse rejects.
   */
  async read(until: number, onMessage?: (code: number, body: Buffer) => void): Promise<number> {
    let rows = 0;
    for (;;) {
      while (this.buffer.length >= 5) {
        const length = this.buffer.readInt32BE(1);
        if (this.buffer.length < length + 1) break;
        const code = this.buffer[0]!;
        const body = this.buffer.subarray(5, length + 1);
        this.buffer = this.buffer.subarray(length + 1);
        if (code === 0x44) rows++;
        else if (code === 0x45) throw new Error(`server error: ${body.toString('utf8').replace(/\0/g, ' ')}`);
        else onMessage?.(code, body);
        if (code === until) return rows;
      }
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
      });
      this.waiting = undefined;
    }
  }

  close(): void {
    this.socket.end(serialize.end());
  }
}

async function open(target: RowStreamTarget): Promise<Connection> {
  const socket = net.connect({ host: target.host, port: target.port, noDelay: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const connection = new Connection(socket);
  connection.write(serialize.startup({ user: target.user, database: target.database }));
  await connection.read(0x5a, (code, body) => {
    if (code !== 0x52) return;
    const kind = body.readInt32BE(0);
    if (kind === AUTH_CLEARTEXT) connection.write(serialize.password(target.password));
    else if (kind !== AUTH_OK) throw new Error(`unsupported authentication request ${kind}`);
  });
  return connection;
}

/** Runs `sql` (unnamed statement, parsed once) for `seconds`, results in `format` (0 text, 1 binary). */
export async function streamRows(
  target: RowStreamTarget,
  sql: string,
  format: 0 | 1,
  seconds: number,
): Promise<RowStreamResult> {
  const connection = await open(target);
  try {
    connection.write(Buffer.concat([serialize.parse({ name: 'q', text: sql, types: [] }), serialize.sync()]));
    await connection.read(0x5a);
    const execute = Buffer.concat([
      serialize.bind({ statement: 'q', values: [], valueMapper: undefined, binary: format === 1 }),
      serialize.describe({ type: 'P', name: '' }),
      serialize.execute({ portal: '', rows: 0 }),
      serialize.sync(),
    ]);
    const started = performance.now();
    const deadline = started + seconds * 1000;
    let rows = 0;
    while (performance.now() < deadline) {
      connection.write(execute);
      rows += await connection.read(0x5a);
    }
    return { rows, seconds: (performance.now() - started) / 1000 };
  } finally {
    connection.close();
  }
}
