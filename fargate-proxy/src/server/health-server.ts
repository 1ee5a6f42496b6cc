import http from 'node:http';
import net from 'node:net';
import { type MetricsSnapshot, toPrometheus } from '../observability/metrics';
import { decodeProxyHeader, mayBeProxyHeader, proxyHeaderLength } from '../protocol/proxy-protocol';

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, boolean>;
}

export interface HealthSource {
  metrics(): Promise<MetricsSnapshot>;
  readiness(): Promise<ReadinessReport>;
}

/** How long a connection may take to send its first bytes (and any PROXY header) before it is closed. */
export const HEALTH_HEADER_TIMEOUT_MS = 10_000;

/**
 * Liveness (/healthz: the process answers), readiness (/readyz: it can serve a session) and metrics
 * (/metrics, Prometheus text) on their own port, away from the PostgreSQL listener.
 *
 * A connection may start with a PROXY protocol v2 header: an NLB whose target group has Proxy Protocol
 * v2 on sends one on its health checks too (LOCAL, or PROXY with addresses). It is read, checked and
 * dropped, and HTTP is served on what follows; a connection whose header does not parse is closed.
 * Connections without one (local mode, the container's own health check) are served as they are.
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
  // The HTTP server's own connection handling runs once the header (if any) is gone.
  const serveHttp = server.listeners('connection') as Array<(socket: net.Socket) => void>;
  server.removeAllListeners('connection');
  server.on('connection', (socket: net.Socket) =>
    stripProxyHeader(socket, () => {
      for (const listener of serveHttp) listener.call(server, socket);
    }),
  );
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve(server));
  });
}

/**
 * Reads the start of `socket` up to the end of a PROXY v2 header, if it starts with one, and calls
 * `serve` with the socket positioned after it (the bytes read past it put back). Without a header the
 * socket is served from its first byte. A header that does not parse, or a peer that sends too little
 * within HEALTH_HEADER_TIMEOUT_MS, closes the connection.
 */
function stripProxyHeader(socket: net.Socket, serve: () => void): void {
  let received = Buffer.alloc(0);
  const close = () => socket.destroy();
  const handOver = (rest: Buffer) => {
    socket.off('data', onData);
    socket.off('error', close);
    socket.off('timeout', close);
    socket.setTimeout(0);
    socket.pause();
    if (rest.length > 0) socket.unshift(rest);
    serve();
    socket.resume();
  };
  const onData = (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    if (!mayBeProxyHeader(received)) return handOver(received);
    try {
      const length = proxyHeaderLength(received);
      if (length === undefined || received.length < length) return;
      decodeProxyHeader(received.subarray(0, length));
      handOver(received.subarray(length));
    } catch {
      close();
    }
  };
  socket.on('data', onData);
  socket.on('error', close);
  socket.setTimeout(HEALTH_HEADER_TIMEOUT_MS);
  socket.on('timeout', close);
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
