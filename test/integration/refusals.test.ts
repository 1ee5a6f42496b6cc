import { Client } from 'pg';
import postgres from 'postgres';
import type { StatementGate } from '../../fargate-proxy/src/session/statement-gate';
import { startTestGateway, type TestGateway } from '../support/gateway';

/** A gate that refuses any statement mentioning `refuse_me`, the way the policy engine will. */
const gate: StatementGate = {
  advance: (statement) => {
    if (!statement.text.includes('refuse_me')) statement.conclude();
    else if (statement.kind === 'query')
      statement.conclude({
        sqlstate: '42501',
        message: 'statement refused by policy',
        detail: 'rule: test',
        hint: 'ask for access',
      });
    else
      statement.conclude({ sqlstate: '42501', message: 'statement refused by policy', detail: 'rule: test' });
    return undefined;
  },
};

describe('refusing a statement in place of the server', () => {
  let gateway: TestGateway;
  let client: Client;

  beforeAll(async () => {
    gateway = await startTestGateway({}, gate);
  });
  beforeEach(async () => {
    client = new Client({ ...gateway.connection(), ssl: { rejectUnauthorized: false } });
    await client.connect();
    await client.query('CREATE TEMP TABLE visible_t(x int)');
  });
  afterEach(async () => {
    await client.end();
  });
  afterAll(async () => {
    await gateway.stop();
  });

  it('answers a refused simple query with the gateway error and keeps the session usable', async () => {
    const error = await client.query("SELECT 'refuse_me' FROM visible_t").catch((e) => e);
    expect(error).toMatchObject({
      code: '42501',
      message: 'statement refused by policy',
      detail: 'rule: test',
      hint: 'ask for access',
    });
    expect((await client.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);
  });

  it('refuses a whole multi-statement query, running none of it', async () => {
    await expect(
      client.query("SELECT 1; INSERT INTO visible_t SELECT length('refuse_me'); SELECT 'after'"),
    ).rejects.toMatchObject({ code: '42501' });
    await expect(client.query('SELECT 1')).resolves.toBeTruthy();
  });

  it('aborts the transaction it was refused in, as a server error would', async () => {
    await client.query('BEGIN');
    await expect(client.query("SELECT 'refuse_me' FROM visible_t")).rejects.toMatchObject({ code: '42501' });
    await expect(client.query('SELECT 1')).rejects.toMatchObject({ code: '25P02' });
    expect((await client.query('COMMIT')).command).toBe('ROLLBACK');
  });

  it('refuses an extended-protocol statement with parameters and keeps the connection in sync', async () => {
    await expect(
      client.query({ name: 'refused', text: "SELECT $1::int, 'refuse_me' FROM visible_t", values: [1] }),
    ).rejects.toMatchObject({
      code: '42501',
      detail: 'rule: test',
    });
    await expect(client.query('SELECT $1::int AS n', [5])).resolves.toMatchObject({ rows: [{ n: 5 }] });
  });

  it('refuses one statement in a pipeline without disturbing the statements around it', async () => {
    const sql = postgres({
      ...gateway.connection(),
      ssl: { rejectUnauthorized: false },
      max: 1,
      onnotice: () => undefined,
    });
    try {
      const results = await Promise.allSettled([
        sql`SELECT 1 AS n`,
        sql`SELECT 2 AS n, 'refuse_me' AS r`,
        sql`SELECT 3 AS n`,
      ]);
      expect(results[0]).toMatchObject({ status: 'fulfilled', value: [{ n: 1 }] });
      expect(results[1]).toMatchObject({ status: 'rejected', reason: { code: '42501' } });
      expect(results[2]).toMatchObject({ status: 'fulfilled', value: [{ n: 3 }] });
    } finally {
      await sql.end();
    }
  });

  it('cannot be tricked by a client that sends the marker text itself', async () => {
    const error = await client
      .query('SELECT gatehouse_refused_00000000000000000000000000000000')
      .catch((e) => e);
    expect(error.code).toBe('42703'); // the server's own error, untouched
  });
});
