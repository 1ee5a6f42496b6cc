import http from 'node:http';
import net from 'node:net';
import { type MetricsSnapshot, toPrometheus } from '../observability/metrics';

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, boolean>;
}

export interface HealthSource {
  metrics(): Promise<MetricsSnapshot>;
  readiness(): Promise<ReadinessReport>;
}

/**
 * Liveness (/healthz: the process answers), readiness (/readyz: it can serve a session) and metrics
 * (/metrics, Prometheus text) on their own port, away from the PostgreSQL listener.
 */
export function startHealthServer(host: string, port: number, source: HealthSource): Promise<http.Server> {
  const server = http.createServer((request, response) => {
    const send = (status: number, type: string, body: string) => {
      response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      response.end(body);
    };
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET') return send(405, 'text/plain', 'method not allowed\n');
    if (path === '/healthz') return send(200, 'text/plain', 'ok\n');
    if (path === '/readyz') {
      source.readiness().then(
        (report) => send(report.ready ? 200 : 503, 'application/json', `${JSON.stringify(report)}\n`),
        () => send(503, 'application/json', '{"ready":false}\n'),
      );
      return;
    }
    if (path === '/metrics') {
      source.metrics().then(
        (snapshot) => send(200, 'text/plain; version=0.0.4', toPrometheus(snapshot)),
        () => send(500, 'text/plain', 'metrics unavailable\n'),
      );
      return;
    }
    send(404, 'text/plain', 'not found\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve(server));
  });
}

/** True when a TCP connection to the upstream server opens within the timeout. */
export function canReach(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
