import { mkdtempSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { Client } from 'pg';
import type { StatementRecord } from '../../core/audit/records';
import { readLocalStore } from '../../fargate-proxy/src/audit/local-store';
import type { StrictItem } from '../../fargate-proxy/src/audit/strict-store';
import { storedRecords } from '../support/audit-records';
import { startDynalite, type TestDynamoDb } from '../support/dynalite';
import { testHome } from '../support/environment';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { fixedTestPort } from '../support/ports';

const ssl = { rejectUnauthorized: false };

async function strictItems(dynamo: TestDynamoDb, table: string): Promise<StrictItem[]> {
  const page = await dynamo.client.send(new ScanCommand({ TableName: table }));
  return (page.Items ?? [])
    .filter((item) => item.kind?.S === 'strict')
    .map((item) => JSON.parse(item.data!.S!) as StrictItem)
    .sort((a, b) => a.index - b.index);
}

async function metric(gateway: TestGateway, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${gateway.healthPort}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1]);
}

describe('strict audit: writes run only once the shared store holds their record', () => {
  let dynamo: TestDynamoDb;
  let table: string;
  let gateway: TestGateway;
  let audit: string;
  let port: number;
  let tables: string;

  beforeAll(async () => {
    tables = mkdtempSync(path.join(testHome(), 'dynalite-'));
    // Restarted on this port later: one below the ephemeral range, which nothing else can take meanwhile.
    port = await fixedTestPort();
    dynamo = await startDynalite({ port, path: tables });
    table = await dynamo.createTable();
    process.env.AWS_ACCESS_KEY_ID ??= 'test';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
    audit = mkdtempSync(path.join(testHome(), 'strict-audit-'));
    gateway = await startTestGateway({
      audit: {
        directory: audit,
        strict: { dynamodb: { table, region: 'us-east-1', endpoint: dynamo.endpoint }, timeoutMs: 500 },
      },
    });
  });
  afterAll(async () => {
    await gateway.stop();
    await dynamo.stop();
  });

  it('stores a record of each write before it runs; refuses writes while the store is down; reads go on', async () => {
    const client = new Client({ ...gateway.connection('strict-writer'), ssl });
    await client.connect();
    await client.query('CREATE TEMP TABLE strict_t (v int)');
    await client.query('INSERT INTO strict_t VALUES (1)');
    await client.query({ text: 'INSERT INTO strict_t VALUES ($1)', values: [2] });
    await client.query('SELECT * FROM strict_t');
    const items = await strictItems(dynamo, table);
    expect(items.map((i) => [i.index, i.class, i.command, i.text])).toEqual([
      [0, 'ddl', 'CREATE TABLE', 'CREATE TEMP TABLE strict_t (v int)'],
      [1, 'write', 'INSERT', 'INSERT INTO strict_t VALUES (1)'],
      [2, 'write', 'INSERT', 'INSERT INTO strict_t VALUES ($1)'],
    ]);
    expect(items[0]).toMatchObject({
      subject: 'strict-writer',
      textSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });

    // The store goes away.
    await dynamo.stop();
    await expect(client.query('INSERT INTO strict_t VALUES (3)')).rejects.toMatchObject({
      code: '58030',
      message: expect.stringContaining('audit record could not be stored'),
    });
    await expect(
      client.query({ text: 'INSERT INTO strict_t VALUES ($1)', values: [4] }),
    ).rejects.toMatchObject({
      code: '58030',
    });
    // Reads are buffered: they go on, and the session is still usable.
    await expect(client.query('SELECT count(*)::int AS n FROM strict_t')).resolves.toMatchObject({
      rows: [{ n: 2 }],
    });
    expect(await metric(gateway, 'gatehouse_audit_strict_failures_total')).toBe(2);

    // It comes back (same place, same tables): writes run again.
    dynamo = await startDynalite({ port, path: tables });
    await client.query('INSERT INTO strict_t VALUES (5)');
    await expect(client.query('SELECT array_agg(v ORDER BY v) AS v FROM strict_t')).resolves.toMatchObject({
      rows: [{ v: [1, 2, 5] }],
    });
    expect((await strictItems(dynamo, table)).map((i) => i.text).at(-1)).toBe(
      'INSERT INTO strict_t VALUES (5)',
    );
    await client.end();
    await gateway.stop();

    const refused = storedRecords(audit).filter(
      (r): r is StatementRecord => r.type === 'statement' && r.decision === 'refused',
    );
    expect(refused.map((r) => [r.text, r.rule, r.outcome.sqlstate])).toEqual([
      ['INSERT INTO strict_t VALUES (3)', 'strict-audit', '58030'],
      ['INSERT INTO strict_t VALUES ($1)', 'strict-audit', '58030'],
    ]);
  });

  it('keeps strict records in an fsynced local file when no table is configured', async () => {
    const directory = mkdtempSync(path.join(testHome(), 'strict-local-'));
    const local = await startTestGateway({ audit: { directory } });
    try {
      const client = new Client({ ...local.connection('local-writer'), ssl });
      await client.connect();
      await client.query('CREATE TEMP TABLE strict_local (v int)');
      await client.query('SELECT 1');
      await client.end();
    } finally {
      await local.stop();
    }
    const [writer] = readLocalStore(directory);
    const lines = readFileSync(path.join(directory, writer!.writer, 'strict.jsonl'), 'utf8')
      .trimEnd()
      .split('\n');
    expect(lines.map((line) => (JSON.parse(line) as StrictItem).text)).toEqual([
      'CREATE TEMP TABLE strict_local (v int)',
    ]);
  });
});
