import net from 'node:net';
import { Client } from 'pg';
import { PROXY_V2_SIGNATURE } from '../../fargate-proxy/src/protocol/proxy-protocol';
import { startTestGateway } from '../support/gateway';
import { proxyV2 } from '../support/wire';

/** Writes `bytes` on a new connection to `port` and returns what came back before the gateway closed it. */
async function rawExchange(port: number, bytes: Buffer): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  const received: Buffer[] = [];
  socket.on('data', (d: Buffer) => received.push(d));
  socket.on('error', () => undefined);
  socket.write(bytes);
  await new Promise((resolve) => socket.once('close', resolve));
  return Buffer.concat(received).toString('latin1');
}

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

  it('answers the load balancer’s HTTP health check, which starts with a Proxy Protocol v2 header', async () => {
    const gateway = await startTestGateway();
    const readyz = Buffer.from('GET /readyz HTTP/1.0\r\nHost: health\r\n\r\n');
    const ready =
      '{"ready":true,"checks":{"upstream":true,"tokenKeys":true,"workers":true,"accepting":true}}\n';
    try {
      for (const header of [
        proxyV2({ local: true }),
        proxyV2({ ipv4: ['10.40.1.20', 41000, '10.40.2.30', 6480], vpce: 'vpce-0123456789abcdef0' }),
        Buffer.alloc(0),
      ]) {
        const response = await rawExchange(gateway.healthPort!, Buffer.concat([header, readyz]));
        expect(response).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
        expect(response.endsWith(`\r\n\r\n${ready}`)).toBe(true);
      }
      // A header that does not parse: closed without an answer, and the gateway serves on.
      const malformed = Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x2f, 0x11, 0, 0]), readyz]);
      expect(await rawExchange(gateway.healthPort!, malformed)).toBe('');
      expect((await fetch(`http://127.0.0.1:${gateway.healthPort}/readyz`)).status).toBe(200);
      const client = new Client({ ...gateway.connection(), ssl: { rejectUnauthorized: false } });
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
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
