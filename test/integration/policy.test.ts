import { writeFileSync } from 'node:fs';
import { Client } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { spawnGateway } from '../support/gateway-process';
import { fieldsOf, RawClient } from '../support/raw-client';
import { writeTestPolicy } from '../support/test-policy';
import { int16, int32, query, typed } from '../support/wire';

const ssl = { rejectUnauthorized: false };

function policy(grantExtras = '', rules = ''): string {
  return `version: 1
identities:
  reporter: { issuer: local, claims: { sub: reporter } }
  writer: { issuer: local, claims: { sub: writer } }
grants:
  - name: writers
    to: [writer]
    searchPath: any
    allow: [read, write, ddl, session, transaction]
    relations: { read: ["*"], write: ["*"] }
    rules:
      - name: bulk-deletes
        decision: approve
        reason: deleting every row needs a second pair of eyes
        when: { commands: [DELETE], unbounded: true }
  - name: reporting
    to: [reporter]
    readOnly: true
    allow: [read, session, transaction]
    relations:
      read: [public.*, pg_catalog.*]
      deny: [public.policy_secrets]
${grantExtras}
    rules:
      - name: no-payroll
        decision: deny
        when: { relations: [public.payroll] }
${rules}`;
}

async function connect(
  gateway: TestGateway,
  subject: string,
  extra: Record<string, unknown> = {},
): Promise<Client> {
  const client = new Client({ ...gateway.connection(subject), ssl, ...extra });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

describe('statements decided by the policy', () => {
  let gateway: TestGateway;
  let file: string;
  let writer: Client;

  beforeAll(async () => {
    file = writeTestPolicy(policy());
    gateway = await startTestGateway({ policy: { file, reloadCheckMs: 100 } });
    writer = await connect(gateway, 'writer');
    await writer.query('DROP TABLE IF EXISTS policy_secrets, payroll, policy_notes');
    await writer.query(
      'CREATE TABLE policy_secrets (v text); CREATE TABLE payroll (v int); CREATE TABLE policy_notes (v text)',
    );
    await writer.query("INSERT INTO policy_notes VALUES ('a'), ('b')");
  });
  afterAll(async () => {
    await writer.end();
    await gateway.stop();
  });

  it('refuses with 42501 naming the grant and rule, in both protocols, and the session goes on', async () => {
    const reporter = await connect(gateway, 'reporter');
    try {
      await expect(reporter.query('SELECT * FROM policy_secrets')).rejects.toMatchObject({
        code: '42501',
        message: 'permission denied by policy: relation policy_secrets is denied',
        detail: 'grant "reporting", rule "relations", statement: SELECT',
      });
      await expect(
        reporter.query({ text: 'SELECT v FROM payroll WHERE v > $1', values: [1] }),
      ).rejects.toMatchObject({
        code: '42501',
        detail: 'grant "reporting", rule "no-payroll", statement: SELECT',
      });
      await expect(reporter.query('INSERT INTO policy_notes VALUES ($1)', ['x'])).rejects.toMatchObject({
        code: '42501',
        message: 'permission denied by policy: write statements (INSERT) are not allowed',
      });
      expect((await reporter.query('SELECT count(*)::int AS n FROM policy_notes')).rows[0].n).toBe(2);
    } finally {
      await reporter.end();
    }
  });

  it('answers an approval rule with a refusal that says approval is required', async () => {
    await expect(writer.query('DELETE FROM policy_notes')).rejects.toMatchObject({
      code: '42501',
      message: 'approval required by policy: deleting every row needs a second pair of eyes',
      detail: 'grant "writers", rule "bulk-deletes", statement: DELETE',
    });
    await expect(writer.query("DELETE FROM policy_notes WHERE v = 'zzz'")).resolves.toMatchObject({
      rowCount: 0,
    });
  });

  it('refuses SQL its parser rejects with the parser’s message and position', async () => {
    await expect(writer.query('SELECT * FORM policy_notes')).rejects.toMatchObject({
      code: '42601',
      message: 'syntax error at or near "FORM"',
      position: '10',
    });
    expect((await writer.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);
  });

  it('pushes the grant’s settings to the server, where RESET and DISCARD cannot undo them', async () => {
    const reporter = await connect(gateway, 'reporter');
    try {
      const read = async () =>
        (
          await reporter.query(
            "SELECT current_setting('default_transaction_read_only') AS ro, current_setting('search_path') AS sp",
          )
        ).rows[0];
      expect(await read()).toEqual({ ro: 'on', sp: 'public' });
      await reporter.query('RESET ALL');
      await reporter.query('DISCARD ALL');
      expect(await read()).toEqual({ ro: 'on', sp: 'public' });
    } finally {
      await reporter.end();
    }
  });

  it('refuses a startup packet that tries to set a pinned setting', async () => {
    await expect(
      connect(gateway, 'reporter', { options: '-c default_transaction_read_only=off' }),
    ).rejects.toMatchObject({
      code: '42501',
      message: 'startup parameter "options" may not set what the gateway sets for this session',
    });
  });

  it('parses a very long statement off the event loop and decides it like any other', async () => {
    const values = Array.from({ length: 4000 }, (_, i) => `('${'x'.repeat(10)}${i}')`).join(', ');
    const insert = `INSERT INTO policy_notes VALUES ${values}`;
    expect(insert.length).toBeGreaterThan(32 * 1024);
    const reporter = await connect(gateway, 'reporter');
    try {
      const refused = reporter.query(insert).catch((error) => error);
      // Meanwhile the process keeps serving.
      expect((await writer.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);
      expect(await refused).toMatchObject({
        code: '42501',
        message: expect.stringContaining('write statements'),
      });
      await expect(writer.query(`${insert} RETURNING 1`)).resolves.toMatchObject({ rowCount: 4000 });
      await writer.query("DELETE FROM policy_notes WHERE v LIKE 'xxxxxxxxxx%'");
    } finally {
      await reporter.end();
    }
  });

  describe('reloads', () => {
    afterEach(async () => {
      writeFileSync(file, policy());
      await new Promise((resolve) => setTimeout(resolve, 300)); // three checks: the next test starts from it
    });

    async function untilReloaded(check: () => Promise<boolean>): Promise<void> {
      for (let i = 0; i < 100; i++) {
        if (await check()) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error('the policy change did not take effect');
    }

    it('applies a changed file to open sessions without dropping them', async () => {
      const reporter = await connect(gateway, 'reporter');
      try {
        await expect(reporter.query('SELECT * FROM policy_secrets')).rejects.toMatchObject({ code: '42501' });
        writeFileSync(file, policy().replace('      deny: [public.policy_secrets]\n', ''));
        await untilReloaded(() =>
          reporter.query('SELECT * FROM policy_secrets').then(
            () => true,
            () => false,
          ),
        );
      } finally {
        await reporter.end();
      }
    });

    it('keeps the policy in force when the new file does not load, and counts the failure', async () => {
      const metric = async () =>
        Number(
          /^gatehouse_policy_reload_failures_total (\d+)/m.exec(
            await (await fetch(`http://127.0.0.1:${gateway.healthPort}/metrics`)).text(),
          )?.[1],
        );
      const before = await metric();
      writeFileSync(file, `${policy()}\n    bogus: true\n`);
      await untilReloaded(async () => (await metric()) > before);
      const reporter = await connect(gateway, 'reporter');
      try {
        await expect(reporter.query('SELECT * FROM policy_secrets')).rejects.toMatchObject({ code: '42501' });
      } finally {
        await reporter.end();
      }
    });

    it('ends the sessions of an identity the new policy no longer admits', async () => {
      const reporter = await connect(gateway, 'reporter');
      const ended = new Promise<{ code?: string }>((resolve) =>
        reporter.on('error', (error) => resolve(error as { code?: string })),
      );
      writeFileSync(file, policy().replace('to: [reporter]', 'to: [writer]'));
      expect(await ended).toMatchObject({ code: '57P01' });
      await reporter.end().catch(() => undefined);
      await expect(connect(gateway, 'reporter')).rejects.toMatchObject({ code: '28000' });
    });
  });
});

describe('per-identity limits', () => {
  let gateway: TestGateway | undefined;

  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
  });

  async function gatewayWith(limits: string, databases = ''): Promise<TestGateway> {
    return startTestGateway({
      policy: {
        file: writeTestPolicy(`version: 1
identities:
  job: { issuer: local, claims: { sub: limited } }
grants:
  - name: limited
    to: [job]
    allow: [read, session, transaction]
    relations: { read: ["*"] }
    limits:
${limits}
${databases}`),
      },
    });
  }

  it('refuses connections over maxConnections with 53300', async () => {
    gateway = await gatewayWith('      maxConnections: 2');
    const open = [await connect(gateway, 'limited'), await connect(gateway, 'limited')];
    try {
      await expect(connect(gateway, 'limited')).rejects.toMatchObject({ code: '53300' });
      await open.pop()!.end();
      const again = await connect(gateway, 'limited');
      open.push(again);
    } finally {
      await Promise.all(open.map((c) => c.end()));
    }
  });

  it('caps upstream sessions per database over all identities', async () => {
    gateway = await gatewayWith(
      '      maxRows: 1000000',
      'databases:\n  postgres: { maxUpstreamConnections: 1 }\n',
    );
    const first = await connect(gateway, 'limited');
    try {
      await expect(connect(gateway, 'limited')).rejects.toMatchObject({
        code: '53300',
        message: expect.stringContaining('database "postgres"'),
      });
    } finally {
      await first.end();
    }
  });

  it('ends the statement that returns more than maxRows, in results, cursors and COPY', async () => {
    gateway = await gatewayWith('      maxRows: 100');
    const client = await connect(gateway, 'limited');
    try {
      await expect(client.query('SELECT g FROM generate_series(1, 100) g')).resolves.toMatchObject({
        rowCount: 100,
      });
      await expect(client.query('SELECT g FROM generate_series(1, 100000) g')).rejects.toMatchObject({
        code: '54000',
      });
      await expect(
        client.query({ text: 'SELECT g FROM generate_series(1, $1::int) g', values: [500] }),
      ).rejects.toMatchObject({ code: '54000' });
      await client.query('BEGIN');
      await client.query('DECLARE c CURSOR FOR SELECT g FROM generate_series(1, 1000) g');
      await expect(client.query('FETCH 50 FROM c')).resolves.toMatchObject({ rowCount: 50 });
      await expect(client.query('FETCH ALL FROM c')).rejects.toMatchObject({ code: '54000' });
      await client.query('ROLLBACK');
      const copied = await new Promise<{ code?: string }>((resolve) => {
        const stream = client.query(copyTo('COPY (SELECT g FROM generate_series(1, 5000) g) TO STDOUT'));
        stream.on('data', () => undefined);
        stream.on('error', resolve);
        stream.on('end', () => resolve({ code: 'completed' }));
      });
      expect(copied).toMatchObject({ code: '54000' });
      expect((await client.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);
    } finally {
      await client.end();
    }
  });

  it('pushes statementTimeoutMs to the server', async () => {
    gateway = await gatewayWith('      statementTimeoutMs: 200');
    const client = await connect(gateway, 'limited');
    try {
      await expect(client.query('SELECT pg_sleep(2)')).rejects.toMatchObject({ code: '57014' });
      await expect(client.query('SET statement_timeout = 0')).rejects.toMatchObject({ code: '42501' });
    } finally {
      await client.end();
    }
  });

  it('paces statements over statementsPerSecond instead of failing them', async () => {
    gateway = await gatewayWith('      statementsPerSecond: 20');
    const client = await connect(gateway, 'limited');
    try {
      const started = performance.now();
      for (let i = 0; i < 40; i++)
        await client.query(i % 2 ? 'SELECT 1' : { text: 'SELECT $1::int', values: [i] });
      // 20 go at once (the burst), the other 20 at 20 per second.
      expect(performance.now() - started).toBeGreaterThan(900);
    } finally {
      await client.end();
    }
  });

  it('ends sessions at maxSessionSeconds', async () => {
    gateway = await gatewayWith('      maxSessionSeconds: 1');
    const client = await connect(gateway, 'limited');
    const ended = new Promise<{ code?: string }>((resolve) =>
      client.on('error', (error) => resolve(error as { code?: string })),
    );
    try {
      expect(await ended).toMatchObject({ code: '57P01' });
    } finally {
      await client.end().catch(() => undefined);
    }
  });

  it('refuses connections outside allowedHours', async () => {
    const hour = new Date().getUTCHours();
    const from = `${String((hour + 2) % 24).padStart(2, '0')}:00`;
    const to = `${String((hour + 3) % 24).padStart(2, '0')}:00`;
    gateway = await gatewayWith(`      allowedHours: { from: "${from}", to: "${to}", timezone: UTC }`);
    await expect(connect(gateway, 'limited')).rejects.toMatchObject({
      code: '28000',
      message: expect.stringContaining('at this time'),
    });
  });
});

describe('decisions that need the bind parameters', () => {
  it('checks set_config($1, $2) at Bind: allowed for a free setting, refused for a pinned one', async () => {
    const gateway = await startTestGateway({
      policy: {
        file: writeTestPolicy(`version: 1
identities: { job: { issuer: local, claims: { sub: binder } } }
grants:
  - { name: binder, to: [job], allow: [read, session], relations: { read: ["*"] }, functions: [set_config] }
`),
      },
    });
    const client = await connect(gateway, 'binder');
    try {
      const set = (name: string, value: string) =>
        client.query({ text: 'SELECT set_config($1, $2, false) AS v', values: [name, value] });
      await expect(set('application_name', 'bound')).resolves.toMatchObject({ rows: [{ v: 'bound' }] });
      await expect(set('search_path', 'evil')).rejects.toMatchObject({
        code: '42501',
        message:
          'permission denied by policy: search_path is set by the gateway for this session and cannot be changed',
      });
      // The same named statement, bound again with other values, is decided again.
      const named = (name: string) =>
        client.query({ name: 'setter', text: 'SELECT set_config($1, $2, false) AS v', values: [name, 'x'] });
      await expect(named('application_name')).resolves.toMatchObject({ rows: [{ v: 'x' }] });
      await expect(named('role')).rejects.toMatchObject({ code: '42501' });
      await expect(named('application_name')).resolves.toMatchObject({ rows: [{ v: 'x' }] });
      expect((await client.query("SELECT current_setting('search_path') AS p")).rows[0].p).toBe('public');
    } finally {
      await client.end();
      await gateway.stop();
    }
  });
});

describe('bad input', () => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await startTestGateway({
      policy: {
        maxStatementBytes: 65536,
        file: writeTestPolicy(`version: 1
identities: { job: { issuer: local, claims: { sub: careless } } }
grants:
  - { name: careless, to: [job], allow: [read], relations: { read: ["*"] } }
`),
      },
    });
  });
  afterAll(async () => {
    await gateway.stop();
  });

  it('refuses a statement over the size cap with 54000, and the session goes on', async () => {
    const client = await connect(gateway, 'careless');
    try {
      await expect(client.query(`SELECT '${'x'.repeat(70_000)}'`)).rejects.toMatchObject({ code: '54000' });
      expect((await client.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);
    } finally {
      await client.end();
    }
  });

  it('refuses a statement nested too deeply for the parser with its message', async () => {
    const client = await connect(gateway, 'careless');
    try {
      const deep = `SELECT ${'('.repeat(10_000)}1${')'.repeat(10_000)}`;
      await expect(client.query(deep)).rejects.toMatchObject({
        code: '42601',
        message: expect.stringContaining('memory exhausted'),
      });
      expect((await client.query('SELECT 2 AS ok')).rows[0].ok).toBe(2);
    } finally {
      await client.end();
    }
  });

  it('refuses statement text that is not valid UTF-8 with 22021', async () => {
    const raw = await RawClient.connect(gateway.port);
    try {
      await raw.startTls();
      expect((await raw.login(gateway.token('careless'))).at(-1)?.code).toBe('Z');
      raw.write(
        typed(
          'Q',
          Buffer.concat([
            Buffer.from("SELECT '"),
            Buffer.from([0xff, 0xfe]),
            Buffer.from("'"),
            Buffer.from([0]),
          ]),
        ),
      );
      const replies = await raw.until('Z');
      expect(fieldsOf(replies.find((m) => m.code === 'E')!)).toMatchObject({ C: '22021' });
      raw.write(query('SELECT 3'));
      expect((await raw.until('Z')).some((m) => m.code === 'D')).toBe(true);
    } finally {
      raw.close();
    }
  });
});

describe('the function call (fastpath) interface', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startTestGateway({ policy: { file: writeTestPolicy(policy()) } });
  });
  afterAll(async () => {
    await gateway.stop();
  });

  it('is refused with 42501 (it names a function by OID, out of the policy sight), and the session goes on', async () => {
    const raw = await RawClient.connect(gateway.port);
    try {
      await raw.startTls();
      expect((await raw.login(gateway.token('writer'))).at(-1)?.code).toBe('Z');
      // FunctionCall: OID of pg_catalog.version() (89), no argument formats, no arguments, text result.
      raw.write(typed('F', Buffer.concat([int32(89), int16(0), int16(0), int16(0)])));
      const replies = await raw.until('Z');
      expect(replies.some((m) => m.code === 'V')).toBe(false);
      expect(fieldsOf(replies.find((m) => m.code === 'E')!)).toMatchObject({
        C: '42501',
        M: 'permission denied by policy: the function call interface is not allowed through the gateway',
      });
      raw.write(query('SELECT 3'));
      expect((await raw.until('Z')).some((m) => m.code === 'D')).toBe(true);
    } finally {
      raw.close();
    }
  });
});

describe('the function call interface under a grant that allows what cannot be analysed', () => {
  it('is forwarded', async () => {
    const gateway = await startTestGateway();
    const raw = await RawClient.connect(gateway.port);
    try {
      await raw.startTls();
      expect((await raw.login(gateway.token('anyone'))).at(-1)?.code).toBe('Z');
      raw.write(typed('F', Buffer.concat([int32(89), int16(0), int16(0), int16(0)])));
      const replies = await raw.until('Z');
      expect(replies.find((m) => m.code === 'V')?.body.toString('utf8')).toContain('PostgreSQL');
    } finally {
      raw.close();
      await gateway.stop();
    }
  });
});

describe('a policy file that does not load', () => {
  it('stops the gateway from starting, naming file:line:column', async () => {
    const file = writeTestPolicy('version: 1\ngrants:\n  - name: x\n    to: [nobody]\n');
    await expect(spawnGateway({ policy: { file } })).rejects.toThrow(
      `${file}:4:10: unknown identity or group "nobody"`,
    );
  });
});
