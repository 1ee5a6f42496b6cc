import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { libpqEnvironment, requireClient } from '../support/environment';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { type Outcome, runCommand } from '../support/run-command';

const PSQL = '/usr/bin/psql';
const available = requireClient('psql', existsSync(PSQL));
const describeIfPsql = available ? describe : describe.skip;

/**
 * Runs psql asynchronously (the gateway lives in this process, so a synchronous spawn would deadlock it).
 * -X ignores ~/.psqlrc; -A -t print bare values, one row a line.
 */
function psql(env: NodeJS.ProcessEnv, args: string[], input = ''): Promise<Outcome> {
  return runCommand(PSQL, ['-X', '-A', '-t', ...args], { env, input, timeoutMs: 20_000 });
}

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line.length > 0);
}

describeIfPsql('psql through the gateway', () => {
  let gateway: TestGateway;
  let work: string;

  function environment(sslmode: 'require' | 'disable' = 'require', password?: string): NodeJS.ProcessEnv {
    const connection = gateway.connection('psql-job');
    return libpqEnvironment(connection, {
      HOME: work,
      PGPASSWORD: password ?? connection.password,
      PGSSLMODE: sslmode,
      PGCONNECT_TIMEOUT: '10',
      PGAPPNAME: 'gatehouse-psql-test',
    });
  }

  beforeAll(async () => {
    gateway = await startTestGateway();
    work = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-psql-'));
  });
  afterAll(async () => {
    await gateway.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('runs a query over TLS and reports an encrypted connection', async () => {
    const result = await psql(environment(), [
      '-c',
      "SELECT 40 + 2, current_setting('application_name')",
      '-c',
      '\\conninfo',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const output = lines(result.stdout);
    expect(output[0]).toBe('42|gatehouse-psql-test');
    expect(output.slice(1).join('\n')).toMatch(/SSL connection \(protocol: TLSv1\.[23]/);
  });

  it('returns every result of a multi-statement -c string sent as one Query', async () => {
    const result = await psql(environment(), [
      '-c',
      'CREATE TEMP TABLE multi(x int); INSERT INTO multi VALUES (1),(2),(3); SELECT sum(x) FROM multi; SELECT count(*) * 10 FROM multi',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    // psql 15 prints the result of every statement of the string; the last two are rows.
    expect(lines(result.stdout).slice(-2)).toEqual(['6', '30']);
  });

  it('copies rows in with \\copy from stdin and out with \\copy to stdout as csv', async () => {
    const rows = Array.from(
      { length: 2000 },
      (_, i) => `${i},"name, ${i}",${i % 5 === 0 ? '' : `note ${i}`}`,
    );
    const script = [
      'CREATE TEMP TABLE copied(id int PRIMARY KEY, name text, note text);',
      '\\copy copied FROM stdin WITH (FORMAT csv)',
      ...rows,
      '\\.',
      "SELECT 'count=' || count(*) || ' nulls=' || count(*) FILTER (WHERE note IS NULL) FROM copied;",
      '\\copy (SELECT * FROM copied ORDER BY id) TO stdout WITH (FORMAT csv)',
    ].join('\n');
    // -q leaves only rows on stdout (no command tags).
    const result = await psql(environment(), ['-q', '-v', 'ON_ERROR_STOP=1', '-f', '-'], `${script}\n`);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const output = lines(result.stdout);
    expect(output[0]).toBe('count=2000 nulls=400');
    expect(output.slice(1)).toEqual(rows);
  });

  it('keeps the session usable after an error when ON_ERROR_STOP is off', async () => {
    const script = [
      'CREATE TEMP TABLE kept(x int);',
      'SELECT 1/0;',
      "SELECT 'after error';",
      'BEGIN;',
      'INSERT INTO kept VALUES (1);',
      'SELECT * FROM no_such_table;',
      'INSERT INTO kept VALUES (2);',
      'ROLLBACK;',
      '\\set ON_ERROR_ROLLBACK on',
      'BEGIN;',
      'INSERT INTO kept VALUES (3);',
      'SELECT 1/0;',
      'INSERT INTO kept VALUES (4);',
      'COMMIT;',
      "SELECT 'kept=' || string_agg(x::text, ',' ORDER BY x) FROM kept;",
    ].join('\n');
    const result = await psql(environment(), ['-v', 'ON_ERROR_STOP=0', '-f', '-'], `${script}\n`);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/ERROR: {2}division by zero/);
    expect(result.stderr).toMatch(/ERROR: {2}relation "no_such_table" does not exist/);
    expect(result.stderr).toMatch(/ERROR: {2}current transaction is aborted/);
    const output = lines(result.stdout);
    expect(output).toContain('after error');
    // The aborted transaction kept nothing; ON_ERROR_ROLLBACK's savepoints kept 3 and 4.
    expect(output[output.length - 1]).toBe('kept=3,4');
  });

  it('imports and exports a large object with \\lo_import and \\lo_export (FunctionCall messages)', async () => {
    const original = randomBytes(3 * 1024 * 1024 + 17);
    const source = path.join(work, 'lo-in.bin');
    const target = path.join(work, 'lo-out.bin');
    writeFileSync(source, original);
    const imported = await psql(environment(), ['-c', `\\lo_import '${source}' 'gatehouse test object'`]);
    expect(imported.stderr).toBe('');
    expect(imported.code).toBe(0);
    const oid = /lo_import (\d+)/.exec(imported.stdout)?.[1];
    expect(oid).toBeDefined();

    const size = await psql(environment(), [
      '-c',
      `SELECT length(lo_get(${oid}))`,
      '-c',
      `SELECT obj_description(${oid}, 'pg_largeobject')`,
    ]);
    expect(lines(size.stdout)).toEqual([String(original.length), 'gatehouse test object']);

    const exported = await psql(environment(), [
      '-c',
      `\\lo_export ${oid} '${target}'`,
      '-c',
      `\\lo_unlink ${oid}`,
    ]);
    expect(exported.stderr).toBe('');
    expect(exported.code).toBe(0);
    expect(lines(exported.stdout)).toEqual(['lo_export', `lo_unlink ${oid}`]);
    expect(readFileSync(target).equals(original)).toBe(true);
  });

  it('accepts a token without TLS from loopback (sslmode=disable)', async () => {
    const result = await psql(environment('disable'), ['-c', 'SELECT 7 * 6', '-c', '\\conninfo']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const output = lines(result.stdout);
    expect(output[0]).toBe('42');
    expect(output.join('\n')).not.toMatch(/SSL connection/);
  });

  it('rejects a password that is not a valid token', async () => {
    const result = await psql(environment('require', 'not-a-token'), ['-c', 'SELECT 1']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/FATAL: {2}authentication failed/);
  });
});
