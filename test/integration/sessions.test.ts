import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { SessionsUsageError, sessionsCommand } from '../../bin/sessions-command';
import type { SessionEndRecord } from '../../core/audit/records';
import type { LiveSession } from '../../fargate-proxy/src/sessions/session-registry';
import { storedRecords } from '../support/audit-records';
import { startDynalite } from '../support/dynalite';
import { testHome } from '../support/environment';
import { startTestGateway, type TestGateway } from '../support/gateway';

const ssl = { rejectUnauthorized: false };

async function run(directory: string, ...args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await sessionsCommand([...args, '--directory', directory], (text) => {
    out += text;
  });
  return { code, out };
}

async function live(directory: string): Promise<LiveSession[]> {
  return JSON.parse((await run(directory, 'list', '--json')).out) as LiveSession[];
}

async function until<T>(check: () => Promise<T | undefined>, what: string, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('live sessions: gatehouse sessions list and kill', () => {
  let gateway: TestGateway;
  let registry: string;
  let audit: string;
  const clients: Client[] = [];

  async function connect(subject: string): Promise<{ client: Client; errors: Error[] }> {
    const client = new Client({ ...gateway.connection(subject), ssl, application_name: `live-${subject}` });
    const errors: Error[] = [];
    client.on('error', (error) => errors.push(error));
    await client.connect();
    clients.push(client);
    return { client, errors };
  }

  beforeAll(async () => {
    registry = mkdtempSync(path.join(testHome(), 'sessions-'));
    audit = mkdtempSync(path.join(testHome(), 'sessions-audit-'));
    gateway = await startTestGateway({
      sessions: { directory: registry, refreshMs: 100 },
      audit: { directory: audit },
    });
  });
  afterAll(async () => {
    for (const client of clients) await client.end().catch(() => undefined);
    await gateway.stop();
  });

  it('lists live sessions with identity and counters, and ends one by id or all of an identity', async () => {
    const alpha = await connect('alpha');
    const beta1 = await connect('beta');
    const beta2 = await connect('beta');
    await alpha.client.query('SELECT 1');
    await alpha.client.query('SELECT 2');
    const listed = await until(async () => {
      const sessions = await live(registry);
      return sessions.length === 3 && sessions.some((s) => s.statements === 2) ? sessions : undefined;
    }, 'three live sessions');
    const alphaSession = listed.find((s) => s.subject === 'alpha')!;
    expect(alphaSession).toMatchObject({
      database: expect.any(String),
      grant: expect.any(String),
      statements: 2,
    });
    const text = (await run(registry, 'list')).out;
    expect(text).toContain(alphaSession.id);
    expect(text).toMatch(/IDENTITY/);

    // One session by id: only it ends, at once, with 57P01.
    const killed = await run(registry, 'kill', '--session', alphaSession.id, '--by', 'alice', '--wait', '5');
    expect(killed.code).toBe(0);
    expect(killed.out).toContain(`ended ${alphaSession.id}`);
    await expect(alpha.client.query('SELECT 1')).rejects.toThrow();
    expect(alpha.errors.map((e) => (e as Error & { code?: string }).code)).toContain('57P01');
    await expect(beta1.client.query('SELECT 1')).resolves.toMatchObject({ rowCount: 1 });

    // Every session of an identity; one that starts after the request is not its target.
    const byIdentity = await run(registry, 'kill', '--subject', 'beta', '--by', 'bob', '--wait', '5');
    expect(byIdentity.code).toBe(0);
    expect(byIdentity.out.match(/^ended /gm)).toHaveLength(2);
    await expect(beta2.client.query('SELECT 1')).rejects.toThrow();
    const later = await connect('beta');
    await sleep(400);
    await expect(later.client.query('SELECT 1')).resolves.toMatchObject({ rowCount: 1 });
    await until(async () => ((await live(registry)).length === 1 ? true : undefined), 'one live session');

    // The kills are in the ended sessions' audit trails, with who asked and which request.
    await gateway.stop();
    const ends = storedRecords(audit).filter((r): r is SessionEndRecord => r.type === 'session-end');
    const reasons = ends.map((r) => r.reason);
    expect(reasons.filter((r) => /^killed by alice \(request [0-9a-f-]{36}\)$/.test(r))).toHaveLength(1);
    expect(reasons.filter((r) => r.startsWith('killed by bob'))).toHaveLength(2);
    // A stopped gateway withdraws its sessions.
    await expect(live(registry)).resolves.toEqual([]);
  });

  it('refuses a kill that names no target or two', async () => {
    await expect(run(registry, 'kill')).rejects.toBeInstanceOf(SessionsUsageError);
    await expect(run(registry, 'kill', '--session', 'x', '--subject', 'y')).rejects.toBeInstanceOf(
      SessionsUsageError,
    );
    await expect(run(registry, 'kill', '--issuer', 'x')).rejects.toBeInstanceOf(SessionsUsageError);
  });
});

describe('live sessions in DynamoDB (dynalite)', () => {
  it('lists and kills through the table, as in AWS', async () => {
    const dynamo = await startDynalite();
    const table = await dynamo.createTable();
    const gateway = await startTestGateway({
      sessions: { dynamodb: { table, region: 'us-east-1', endpoint: dynamo.endpoint }, refreshMs: 100 },
    });
    // The SDK's credential chain: the emulator takes any.
    process.env.AWS_ACCESS_KEY_ID ??= 'test';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
    const where = ['--table', table, '--region', 'us-east-1', '--endpoint', dynamo.endpoint];
    const client = new Client({ ...gateway.connection('dynamo-user'), ssl });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const id = await until(async () => {
        let out = '';
        await sessionsCommand(['list', '--json', ...where], (text) => {
          out += text;
        });
        return (JSON.parse(out) as LiveSession[]).find((s) => s.subject === 'dynamo-user')?.id;
      }, 'the session in the table');
      let out = '';
      const code = await sessionsCommand(['kill', '--session', id, '--by', 'carol', ...where], (text) => {
        out += text;
      });
      expect([code, out]).toEqual([0, expect.stringContaining(`ended ${id}`)]);
      await expect(client.query('SELECT 1')).rejects.toThrow();
    } finally {
      await client.end().catch(() => undefined);
      await gateway.stop();
      await dynamo.stop();
    }
  });
});
