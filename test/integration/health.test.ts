import { Client } from 'pg';
import { startTestGateway } from '../support/gateway';

describe('health and metrics endpoint', () => {
  it('reports liveness, readiness and Prometheus metrics', async () => {
    const gateway = await startTestGateway();
    const base = `http://127.0.0.1:${gateway.healthPort}`;
    try {
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({
        ready: true,
        checks: { upstream: true, tokenKeys: true, workers: true, accepting: true },
      });

      const client = new Client({ ...gateway.connection(), ssl: { rejectUnauthorized: false } });
      await client.connect();
      await client.query('SELECT 1');
      await client.query('SELECT $1::int', [1]);
      await client.query('SELECT 1/0').catch(() => undefined);
      const text = await (await fetch(`${base}/metrics`)).text();
      await client.end();
      const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
      expect(value('gatehouse_connections_active')).toBe(1);
      expect(value('gatehouse_statements_total')).toBeGreaterThanOrEqual(3);
      expect(value('gatehouse_errors_total')).toBeGreaterThanOrEqual(1);
      expect(value('gatehouse_client_bytes_sent_total')).toBeGreaterThan(0);
      expect(value('gatehouse_statement_duration_seconds_count')).toBeGreaterThanOrEqual(3);
      expect(text).toContain('# TYPE gatehouse_statement_duration_seconds histogram');
    } finally {
      await gateway.stop();
    }
  });

  it('is not ready when the upstream cannot be reached', async () => {
    const gateway = await startTestGateway({ upstream: { host: '127.0.0.1', port: 1, tls: 'disable' } });
    try {
      const ready = await fetch(`http://127.0.0.1:${gateway.healthPort}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { checks: { upstream: boolean } }).checks.upstream).toBe(false);
      // And a client learns why, with the right SQLSTATE.
      const client = new Client({ ...gateway.connection(), ssl: { rejectUnauthorized: false } });
      await expect(client.connect()).rejects.toMatchObject({ code: '08006' });
    } finally {
      await gateway.stop();
    }
  });
});
