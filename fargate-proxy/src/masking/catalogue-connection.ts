import { serialize } from 'pg-protocol';
import { StreamReader } from '../io/stream-reader';
import { BackendCode } from '../protocol/codes';
import { decodeErrorFields } from '../protocol/error-fields';
import type { CredentialSource } from '../upstream/credential-source';
import { connectUpstream, type UpstreamEndpoint } from '../upstream/upstream-connection';

/** Catalogue answers are small; a bigger message means something is wrong. */
const MAX_MESSAGE = 16 * 1024 * 1024;

/** A text-format result row: each column's text, or null for SQL NULL. */
export type Row = (string | null)[];

/** A catalogue query the server refused. */
export class CatalogueQueryError extends Error {
  override readonly name = 'CatalogueQueryError';
}

/**
 * The gateway's own upstream session for catalogue look-ups (masking's lineage): one per database,
 * simple protocol, one query at a time. Separate from every client's session, so a look-up never
 * touches a client's transaction.
 */
export class CatalogueConnection {
  private queue: Promise<unknown> = Promise.resolve();
  /** The server or the network ended the session: open a new one. */
  closed = false;

  private constructor(
    private readonly reader: StreamReader,
    private readonly write: (bytes: Buffer) => void,
    readonly close: () => void,
  ) {}

  static async open(
    endpoint: UpstreamEndpoint,
    credentials: CredentialSource,
    database: string,
  ): Promise<CatalogueConnection> {
    const session = await connectUpstream(endpoint, await credentials.get(), {
      database,
      application_name: 'gatehouse-catalogue',
      // Look-ups quote names as SQL literals: with standard strings, only a quote needs escaping.
      standard_conforming_strings: 'on',
      client_encoding: 'UTF8',
    });
    const { socket } = session;
    if (session.pending.length > 0) {
      socket.destroy();
      throw new CatalogueQueryError('the server sent bytes after its first ReadyForQuery');
    }
    const reader = new StreamReader(socket);
    socket.resume();
    const connection = new CatalogueConnection(
      reader,
      (bytes) => socket.write(bytes),
      () => socket.destroy(),
    );
    socket.once('close', () => {
      connection.closed = true;
    });
    return connection;
  }

  /** Runs one or more statements; returns the rows of each result that has rows, in order. */
  query(sql: string): Promise<Row[][]> {
    const run = this.queue.then(() => this.run(sql));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(sql: string): Promise<Row[][]> {
    this.write(serialize.query(sql));
    const results: Row[][] = [];
    let rows: Row[] | undefined;
    let failure: Error | undefined;
    for (;;) {
      const { code, body } = await this.reader.message(MAX_MESSAGE);
      switch (code) {
        case BackendCode.RowDescription:
          rows = [];
          results.push(rows);
          break;
        case BackendCode.DataRow:
          rows?.push(decodeRow(body));
          break;
        case BackendCode.ErrorResponse:
          failure ??= new CatalogueQueryError(decodeErrorFields(body).message);
          break;
        case BackendCode.ReadyForQuery:
          if (failure) throw failure;
          return results;
      }
    }
  }
}

function decodeRow(body: Buffer): Row {
  const count = body.readInt16BE(0);
  const row: Row = [];
  let at = 2;
  for (let i = 0; i < count; i++) {
    const length = body.readInt32BE(at);
    at += 4;
    if (length < 0) {
      row.push(null);
      continue;
    }
    row.push(body.toString('utf8', at, at + length));
    at += length;
  }
  return row;
}

/** A SQL string literal (standard_conforming_strings is on for this connection). */
export function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** A quoted identifier. */
export function identifier(text: string): string {
  return `"${text.replace(/"/g, '""')}"`;
}
