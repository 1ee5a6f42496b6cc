import { once } from 'node:events';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Client, type ClientConfig, type QueryConfig } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { startTestGateway, type TestGateway } from '../support/gateway';

describe('node-postgres through the gateway', () => {
  let gateway: TestGateway;
  const clients: Client[] = [];

  async function connect(extra: Partial<ClientConfig> = {}): Promise<Client> {
    const client = new Client({ ...gateway.connection(), ssl: { rejectUnauthorized: false }, ...extra });
    clients.push(client);
    await client.connect();
    return client;
  }

  beforeAll(async () => {
    gateway = await startTestGateway();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
  });
  afterAll(async () => {
    await gateway.stop();
  });

  it('runs simple and extended queries over TLS', async () => {
    const client = await connect();
    const simple = await client.query('SELECT 1 AS one, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    expect(simple.rows[0].one).toBe(1);
    const extended = await client.query('SELECT $1::int + $2::int AS sum, $3::text AS label', [40, 2, 'x']);
    expect(extended.rows).toEqual([{ sum: 42, label: 'x' }]);
  });

  it('returns every result of a multi-statement simple query', async () => {
    const client = await connect();
    const results = (await client.query(
      'SELECT 1 AS a; SELECT 2 AS b; CREATE TEMP TABLE t(x int); INSERT INTO t VALUES (1),(2)',
    )) as unknown as Array<{ rows: unknown[]; command: string; rowCount: number }>;
    expect(results.map((r) => r.command)).toEqual(['SELECT', 'SELECT', 'CREATE', 'INSERT']);
    expect(results[3]!.rowCount).toBe(2);
  });

  it('reuses a named prepared statement and recovers after an error in the pipeline', async () => {
    const client = await connect();
    for (let i = 0; i < 3; i++) {
      const r = await client.query({ name: 'plus-one', text: 'SELECT $1::int + 1 AS n', values: [i] });
      expect(r.rows[0].n).toBe(i + 1);
    }
    await expect(client.query('SELECT 1/0')).rejects.toMatchObject({ code: '22012' });
    await expect(client.query({ name: 'bad', text: 'SELECT nope FROM nowhere' })).rejects.toMatchObject({
      code: '42P01',
    });
    expect(
      (await client.query({ name: 'plus-one', text: 'SELECT $1::int + 1 AS n', values: [9] })).rows[0].n,
    ).toBe(10);
  });

  it('keeps transaction state: an error aborts the transaction and COMMIT rolls back', async () => {
    const client = await connect();
    await client.query('CREATE TEMP TABLE tx(x int)');
    await client.query('BEGIN');
    await client.query('INSERT INTO tx VALUES (1)');
    await expect(client.query('SELECT 1/0')).rejects.toMatchObject({ code: '22012' });
    await expect(client.query('SELECT 1')).rejects.toMatchObject({ code: '25P02' });
    const commit = await client.query('COMMIT');
    expect(commit.command).toBe('ROLLBACK');
    expect((await client.query('SELECT count(*)::int AS n FROM tx')).rows[0].n).toBe(0);
  });

  it('pipelines many queries before reading', async () => {
    const client = await connect();
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => client.query('SELECT $1::int AS i', [i])),
    );
    expect(results.map((r) => r.rows[0].i)).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it('copies in and out in text, csv and binary formats', async () => {
    const client = await connect();
    await client.query('CREATE TEMP TABLE copied(id int, name text, note text)');
    const lines = Array.from(
      { length: 5000 },
      (_, i) => `${i}\tname ${i}\t${i % 7 === 0 ? '\\N' : `note ${i}`}\n`,
    );
    await pipeline(Readable.from(lines), client.query(copyFrom('COPY copied FROM STDIN')));
    expect((await client.query('SELECT count(*)::int AS n FROM copied')).rows[0].n).toBe(5000);

    for (const format of ['text', 'csv', 'binary']) {
      const chunks: Buffer[] = [];
      const stream = client.query(
        copyTo(`COPY (SELECT * FROM copied ORDER BY id) TO STDOUT WITH (FORMAT ${format})`),
      );
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      const output = Buffer.concat(chunks);
      if (format === 'binary') {
        expect(output.subarray(0, 11).toString('latin1')).toBe('PGCOPY\n\xff\r\n\0');
        // Round trip the binary data.
        await client.query('CREATE TEMP TABLE copied_binary (LIKE copied)');
        await pipeline(
          Readable.from([output]),
          client.query(copyFrom('COPY copied_binary FROM STDIN WITH (FORMAT binary)')),
        );
        const diff = await client.query(
          'SELECT count(*)::int AS n FROM (SELECT * FROM copied EXCEPT SELECT * FROM copied_binary) d',
        );
        expect(diff.rows[0].n).toBe(0);
      } else {
        expect(output.toString().split('\n').filter(Boolean)).toHaveLength(5000);
      }
    }
  });

  it('reports a failed COPY FROM and stays usable', async () => {
    const client = await connect();
    await client.query('CREATE TEMP TABLE strict_copy(id int)');
    await expect(
      pipeline(
        Readable.from(['1\n', 'not a number\n']),
        client.query(copyFrom('COPY strict_copy FROM STDIN')),
      ),
    ).rejects.toMatchObject({
      code: '22P02',
    });
    expect((await client.query('SELECT 7 AS x')).rows[0].x).toBe(7);
  });

  it('delivers NOTIFY to an idle listener and notices to the client', async () => {
    const listener = await connect();
    const notifier = await connect();
    await listener.query('LISTEN gatehouse_test');
    const notified = once(listener, 'notification');
    await notifier.query("NOTIFY gatehouse_test, 'hello'");
    const [message] = await notified;
    expect(message).toMatchObject({ channel: 'gatehouse_test', payload: 'hello' });

    const noticed = once(notifier, 'notice');
    await notifier.query("DO $$ BEGIN RAISE NOTICE 'visible notice'; END $$");
    const [notice] = await noticed;
    expect(notice.message).toBe('visible notice');
  });

  it('forwards ParameterStatus changes', async () => {
    const client = await connect();
    const connection = (client as unknown as { connection: NodeJS.EventEmitter }).connection;
    const statuses: Array<{ parameterName: string; parameterValue: string }> = [];
    connection.on('parameterStatus', (message) => statuses.push(message));
    await client.query("SET application_name = 'renamed-job'");
    expect(statuses).toContainEqual(
      expect.objectContaining({ parameterName: 'application_name', parameterValue: 'renamed-job' }),
    );
  });

  it('cancels a running statement through the gateway', async () => {
    const client = await connect();
    const running = client.query('SELECT pg_sleep(30)');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const canceller = new Client({ ...gateway.connection(), ssl: { rejectUnauthorized: false } });
    // node-postgres sends a CancelRequest with the key the gateway issued.
    (canceller as unknown as { cancel(client: Client, query: unknown): void }).cancel(
      client,
      (client as unknown as { activeQuery: unknown }).activeQuery,
    );
    await expect(running).rejects.toMatchObject({ code: '57014' });
    expect((await client.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);
  });

  it.each(['text', 'binary'] as const)(
    'round-trips a 50 MB bytea in %s result format',
    async (format) => {
      const client = await connect();
      const size = 50 * 1024 * 1024;
      const value = Buffer.alloc(size);
      for (let i = 0; i < size; i += 4096) value[i] = (i / 4096) % 251;
      await client.query('CREATE TEMP TABLE blob(b bytea)');
      await client.query('INSERT INTO blob VALUES ($1)', [value]);
      // `binary` asks node-postgres for binary result format in Bind; its typings omit the option.
      const config = { text: 'SELECT b FROM blob', binary: format === 'binary' } as QueryConfig;
      const result = await client.query(config);
      const received = result.rows[0].b as Buffer;
      expect(received.length).toBe(size);
      expect(received.equals(value)).toBe(true);
    },
    120_000,
  );
});
