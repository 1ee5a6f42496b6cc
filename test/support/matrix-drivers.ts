import { Client } from 'pg';
import { sendCancel, sendCancelKey } from './cancel';
import type { TestGateway } from './gateway';
import { fieldsOf, RawClient, type RawMessage } from './raw-client';
import { bind, cstr, execute, parse, query, sync, typed } from './wire';

/** Describe of the unnamed portal, as drivers send it before Execute to learn the result's columns. */
const describePortal = () => typed('D', Buffer.concat([Buffer.from('P'), cstr('')]));

/** What the client saw of one request: an error, or the rows of its (last) result and its tag. */
export interface Outcome {
  error?: { code?: string; message: string };
  rows?: Record<string, unknown>[];
  tag?: string;
}

export interface MatrixStatement {
  text: string;
  values?: (string | number)[];
  /** A named prepared statement (the extended protocol, re-executable). */
  name?: string;
}

/** One client of a matrix cell, whatever protocol it speaks. */
export interface Driver {
  run(statement: MatrixStatement): Promise<Outcome>;
  /** A simple Query (BEGIN, COMMIT, ROLLBACK). */
  simple(text: string): Promise<Outcome>;
  cancel(): Promise<void>;
  /** The client vanishes: its connection is cut without a Terminate. */
  vanish(): void;
  end(): Promise<void>;
}

/** node-postgres: the simple protocol without values, the extended one with them (named when given a name). */
export async function pgDriver(gateway: TestGateway, subject: string): Promise<Driver> {
  const client = new Client({ ...gateway.connection(subject), ssl: { rejectUnauthorized: false } });
  client.on('error', () => undefined);
  await client.connect();
  const outcome = async (run: () => Promise<unknown>): Promise<Outcome> => {
    try {
      const result = await run();
      const last = (Array.isArray(result) ? result.at(-1) : result) as {
        rows: Record<string, unknown>[];
        command: string;
      };
      return { rows: last.rows, tag: last.command };
    } catch (error) {
      const e = error as Error & { code?: string };
      return { error: { code: e.code, message: e.message } };
    }
  };
  return {
    run: (s) =>
      outcome(() => client.query(s.values ? { text: s.text, values: s.values, name: s.name } : s.text)),
    simple: (text) => outcome(() => client.query(text)),
    cancel: () => sendCancel(gateway.port, client),
    vanish: () =>
      (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy(),
    end: () => client.end().catch(() => undefined),
  };
}

/** The outcome of a batch up to ReadyForQuery: the first error, else the first result's rows. */
function batchOutcome(messages: RawMessage[]): Outcome {
  const error = messages.find((m) => m.code === 'E');
  if (error) {
    const fields = fieldsOf(error);
    return { error: { code: fields.C, message: fields.M ?? '' } };
  }
  const names: string[] = [];
  const rows: Record<string, unknown>[] = [];
  for (const message of messages) {
    if (message.code === 'T' && names.length === 0) {
      let at = 2;
      for (let i = 0; i < message.body.readInt16BE(0); i++) {
        const end = message.body.indexOf(0, at);
        names.push(message.body.toString('utf8', at, end));
        at = end + 1 + 18;
      }
    } else if (message.code === 'D') {
      const row: Record<string, unknown> = {};
      let at = 2;
      names.forEach((name) => {
        const length = message.body.readInt32BE(at);
        at += 4;
        const text = length < 0 ? null : message.body.toString('utf8', at, at + length);
        row[name] = name === 'id' && text !== null ? Number(text) : text;
        at += Math.max(length, 0);
      });
      rows.push(row);
    } else if (message.code === 'C') {
      return { rows, tag: message.body.toString('utf8', 0, message.body.length - 1).split(' ')[0] };
    }
  }
  return { rows };
}

/**
 * A client that pipelines: the cell's statement and a `SELECT 1` after it, each Parse/Bind/Execute,
 * under one Sync, in one write (as postgres.js and pgjdbc batches do).
 */
export async function pipelineDriver(gateway: TestGateway, subject: string): Promise<Driver> {
  const raw = await RawClient.connect(gateway.port);
  await raw.startTls();
  const greeting = await raw.login(gateway.token(subject));
  const key = greeting.find((m) => m.code === 'K');
  if (!key) throw new Error(`no BackendKeyData in the greeting: ${greeting.map((m) => m.code).join('')}`);
  const until = async (): Promise<Outcome> => {
    try {
      return batchOutcome(await raw.until('Z', 60_000));
    } catch (error) {
      return { error: { message: (error as Error).message } };
    }
  };
  return {
    run: (s) => {
      const values = (s.values ?? []).map(String);
      const name = s.name ?? '';
      raw.write(
        Buffer.concat([
          parse(name, s.text),
          bind('', name, values),
          describePortal(),
          execute(''),
          parse('', 'SELECT 1 AS after'),
          bind('', ''),
          execute(''),
          sync(),
        ]),
      );
      return until();
    },
    simple: (text) => {
      raw.write(query(text));
      return until();
    },
    cancel: () => sendCancelKey(gateway.port, key.body.readInt32BE(0), key.body.readInt32BE(4)),
    vanish: () => raw.close(),
    end: async () => raw.close(),
  };
}

/**
 * The fewest cells (greedily) such that every pair of values of any two dimensions appears in one:
 * a pairwise-covering subset of the full product, deterministic.
 */
export function pairwise<T extends Record<string, string>>(
  dimensions: { [K in keyof T]: readonly T[K][] },
): T[] {
  const keys = Object.keys(dimensions) as (keyof T)[];
  const product: T[] = keys.reduce<T[]>(
    (cells, key) => cells.flatMap((cell) => dimensions[key].map((value) => ({ ...cell, [key]: value }) as T)),
    [{} as T],
  );
  const pairsOf = (cell: T) =>
    keys.flatMap((a, i) => keys.slice(i + 1).map((b) => `${String(a)}=${cell[a]}|${String(b)}=${cell[b]}`));
  const uncovered = new Set(product.flatMap(pairsOf));
  const chosen: T[] = [];
  while (uncovered.size > 0) {
    let best = product[0]!;
    let gain = -1;
    for (const cell of product) {
      const g = pairsOf(cell).filter((pair) => uncovered.has(pair)).length;
      if (g > gain) {
        best = cell;
        gain = g;
      }
    }
    for (const pair of pairsOf(best)) uncovered.delete(pair);
    chosen.push(best);
  }
  return chosen;
}
