import postgres from 'postgres';
import { startTestGateway, type TestGateway } from '../support/gateway';

/**
 * postgres.js writes every query as Parse/Bind/Describe/Execute/Sync without waiting for the previous
 * one, so a single connection carries a deep pipeline. With prepare: false the statements are unnamed;
 * with prepare: true they are named and reused.
 */
describe.each([
  { prepare: false, statements: 'unnamed' },
  { prepare: true, statements: 'named' },
])('postgres.js through the gateway ($statements statements)', ({ prepare }) => {
  let gateway: TestGateway;
  let sql: postgres.Sql;

  beforeAll(async () => {
    gateway = await startTestGateway();
    const { host, port, user, password, database } = gateway.connection('postgres-js-job');
    sql = postgres({
      host,
      port,
      user,
      password,
      database,
      ssl: { rejectUnauthorized: false },
      max: 1,
      prepare,
      onnotice: () => undefined,
      connect_timeout: 10,
      connection: { application_name: 'gatehouse-postgres-js', TimeZone: 'Pacific/Chatham' },
    });
  });
  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await gateway?.stop();
  });

  it('forwards its startup parameters to the upstream session', async () => {
    const [row] =
      await sql`SELECT current_setting('application_name') AS app, current_setting('TimeZone') AS tz`;
    expect(row).toEqual({ app: 'gatehouse-postgres-js', tz: 'Pacific/Chatham' });
  });

  it('answers 1000 concurrent queries on one connection, in order, on the same backend', async () => {
    const queries = Array.from(
      { length: 1000 },
      (_, i) => sql<{ i: number; pid: number }[]>`SELECT ${i}::int AS i, pg_backend_pid() AS pid`,
    );
    const results = await Promise.all(queries);
    expect(results.map((rows) => rows[0]!.i)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(new Set(results.map((rows) => rows[0]!.pid)).size).toBe(1);
    // Named statements stay prepared on the upstream session; unnamed ones leave nothing behind.
    const [prepared] = await sql`SELECT count(*)::int AS n FROM pg_prepared_statements`;
    if (prepare) expect(prepared!.n).toBeGreaterThan(0);
    else expect(prepared!.n).toBe(0);
  });

  it('commits a sql.begin transaction and rolls back one whose callback throws', async () => {
    await sql`CREATE TEMP TABLE IF NOT EXISTS ledger(id int, note text)`;
    await sql`TRUNCATE ledger`;
    const committed = await sql.begin(async (tx) => {
      await tx`INSERT INTO ledger VALUES (1, 'one')`;
      await tx`INSERT INTO ledger VALUES (2, 'two')`;
      const [status] = await tx`SELECT count(*)::int AS n FROM ledger`;
      return status!.n as number;
    });
    expect(committed).toBe(2);

    await expect(
      sql.begin(async (tx) => {
        await tx`INSERT INTO ledger VALUES (3, 'three')`;
        await tx`SELECT 1/0`;
      }),
    ).rejects.toMatchObject({ code: '22012' });
    await expect(
      sql.begin(async (tx) => {
        await tx`INSERT INTO ledger VALUES (4, 'four')`;
        throw new Error('application says no');
      }),
    ).rejects.toThrow('application says no');

    const rows = await sql<{ id: number }[]>`SELECT id FROM ledger ORDER BY id`;
    expect(rows.map((r) => r.id)).toEqual([1, 2]);
  });

  it('fails only the bad query in a pipeline; the ones queued after it succeed', async () => {
    const settled = await Promise.allSettled([
      sql`SELECT 1::int AS n`,
      sql`SELECT 2::int AS n`,
      sql`SELECT 1/0 AS n`,
      sql`SELECT n FROM no_such_table`,
      sql`SELECT 5::int AS n`,
      sql`SELECT ${6}::int AS n`,
    ]);
    expect(settled.map((s) => s.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    expect(settled[2]).toMatchObject({ reason: { code: '22012' } });
    expect(settled[3]).toMatchObject({ reason: { code: '42P01' } });
    const values = settled.map((s) => (s.status === 'fulfilled' ? (s.value[0]?.n as number) : null));
    expect(values).toEqual([1, 2, null, null, 5, 6]);
    const [after] = await sql`SELECT 'still usable' AS ok`;
    expect(after!.ok).toBe('still usable');
  });

  it('round-trips bytea, int8 beyond 2^53, numeric and json values', async () => {
    const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 31) % 256));
    const document = { name: 'gatehouse', nested: { list: [1, 2, 3], unicode: 'Grüße ✓' }, empty: null };
    const [row] = await sql`
      SELECT ${bytes}::bytea AS b,
             length(${bytes}::bytea) AS len,
             ${'9007199254740993'}::int8 + 1 AS big,
             ${'12345678901234567890.123456789'}::numeric AS num,
             ${sql.json(document)}::json AS doc,
             ${sql.json(document)}::jsonb -> 'nested' -> 'list' -> 2 AS third`;
    expect(Buffer.isBuffer(row!.b)).toBe(true);
    expect((row!.b as Buffer).equals(bytes)).toBe(true);
    expect(row!.len).toBe(4096);
    expect(row!.big).toBe('9007199254740994');
    expect(row!.num).toBe('12345678901234567890.123456789');
    expect(row!.doc).toEqual(document);
    expect(row!.third).toBe(3);
  });

  it('runs several statements in one simple Query with sql.unsafe', async () => {
    // postgres.js starts a new result at each RowDescription, so CREATE and INSERT share the first one.
    const results = (await sql.unsafe(
      'CREATE TEMP TABLE multi(x int); INSERT INTO multi SELECT generate_series(1, 10); SELECT sum(x)::int AS total FROM multi; SELECT count(*)::int AS n FROM multi WHERE x > 7; DROP TABLE multi',
    )) as unknown as Array<{ command: string; count: number } & Array<Record<string, unknown>>>;
    expect(results.map((r) => r.command)).toEqual(['INSERT', 'SELECT', 'DROP TABLE']);
    expect(results[0]!.count).toBe(10);
    expect(results[1]![0]).toEqual({ total: 55 });
    expect(results[2]![0]).toEqual({ n: 3 });
    const [gone] = await sql`SELECT to_regclass('pg_temp.multi') AS t`;
    expect(gone!.t).toBeNull();
  });

  it('reads a cursor in batches (Execute with a row limit and PortalSuspended)', async () => {
    const batches: number[] = [];
    let sum = 0;
    await sql`SELECT generate_series(1, 1000)::int AS n`.cursor(128, async (rows) => {
      batches.push(rows.length);
      for (const row of rows) sum += row.n as number;
    });
    expect(batches).toEqual([128, 128, 128, 128, 128, 128, 128, 104]);
    expect(sum).toBe(500500);
  });

  it('streams COPY out and in', async () => {
    await sql`CREATE TEMP TABLE IF NOT EXISTS copy_target(id int, label text)`;
    const writable = await sql`COPY copy_target FROM STDIN`.writable();
    await new Promise<void>((resolve, reject) => {
      writable.on('error', reject);
      writable.on('finish', resolve);
      for (let i = 0; i < 500; i++) writable.write(`${i}\tlabel ${i}\n`);
      writable.end();
    });
    const readable = await sql`COPY (SELECT * FROM copy_target ORDER BY id) TO STDOUT`.readable();
    const chunks: Buffer[] = [];
    for await (const chunk of readable) chunks.push(chunk as Buffer);
    const lines = Buffer.concat(chunks).toString().split('\n').filter(Boolean);
    expect(lines).toHaveLength(500);
    expect(lines[499]).toBe('499\tlabel 499');
  });
});
