import { Client } from 'pg';
import { testIssuer } from '../support/environment';
import { spawnGateway } from '../support/gateway-process';

describe('logs and embedded metrics of a running gateway', () => {
  it('writes JSON lines with the version and a session id, never the token, and CloudWatch metric records', async () => {
    const gateway = await spawnGateway({ workers: 2, logLevel: 'debug', health: { emfIntervalMs: 300 } });
    const token = testIssuer().sign({ sub: 'log-check' }, 600);
    try {
      const client = new Client({
        host: '127.0.0.1',
        port: gateway.port,
        user: 'log-check',
        password: token,
        database: 'postgres',
        ssl: { rejectUnauthorized: false },
      });
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      const bad = new Client({
        host: '127.0.0.1',
        port: gateway.port,
        user: 'x',
        password: `${token}x`,
        database: 'postgres',
        ssl: { rejectUnauthorized: false },
      });
      await bad.connect().catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 800));
    } finally {
      await gateway.terminate();
    }
    const lines = gateway
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const logs = lines.filter((l) => !('_aws' in l));
    expect(logs.length).toBeGreaterThan(5);
    for (const line of logs) {
      expect(line.version).toMatch(/^\d+\.\d+\.\d+/);
      expect(typeof line.time).toBe('string');
    }
    const started = logs.find((l) => l.msg === 'session started');
    expect(started).toMatchObject({ subject: 'log-check' });
    expect(typeof started?.session).toBe('string');
    expect(logs.find((l) => l.msg === 'token rejected')).toMatchObject({ reason: 'bad-signature' });
    expect(gateway.output()).not.toContain(token.split('.')[2]!);
    const emf = lines.filter((l) => '_aws' in l);
    expect(emf.length).toBeGreaterThan(0);
    expect(emf.some((l) => typeof l.Statements === 'number' && (l.Statements as number) >= 1)).toBe(true);
  });
});
