import type http from 'node:http';
import net from 'node:net';
import { emptySnapshot } from '../../../fargate-proxy/src/observability/metrics';
import { PROXY_V2_SIGNATURE } from '../../../fargate-proxy/src/protocol/proxy-protocol';
import {
  type HealthSource,
  type ReadinessReport,
  startHealthServer,
} from '../../../fargate-proxy/src/server/health-server';
import { proxyV2 } from '../../support/wire';

const READY: ReadinessReport = { ready: true, checks: { upstream: true, tokenKeys: true } };
const UPSTREAM_DOWN: ReadinessReport = { ready: false, checks: { upstream: false, tokenKeys: true } };

/** What an NLB health check sends on a target group with Proxy Protocol v2 on. */
const LOCAL = proxyV2({ local: true });
const PROXIED = proxyV2({ ipv4: ['10.40.1.20', 41000, '10.40.2.30', 6480], vpce: 'vpce-0123456789abcdef0' });
// HTTP/1.0: the response ends with the connection, its body not chunked.
const getReadyz = Buffer.from('GET /readyz HTTP/1.0\r\nHost: health\r\n\r\n');

let server: http.Server;
let port: number;
let readiness: ReadinessReport;

beforeAll(async () => {
  const source: HealthSource = {
    metrics: async () => emptySnapshot(),
    readiness: async () => readiness,
  };
  server = await startHealthServer('127.0.0.1', 0, source);
  port = (server.address() as net.AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  readiness = READY;
});

/** Opens a connection, writes each part in turn (a pause between them), returns all it received. */
async function exchange(parts: Buffer[], pauseMs = 20): Promise<{ text: string; closed: boolean }> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const received: Buffer[] = [];
  socket.on('data', (d: Buffer) => received.push(d));
  const closed = new Promise<boolean>((resolve) => {
    socket.once('close', () => resolve(true));
    socket.on('error', () => undefined);
  });
  for (const [index, part] of parts.entries()) {
    if (index > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    if (!socket.destroyed) socket.write(part);
  }
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), 3000);
  });
  const wasClosed = await Promise.race([closed, timedOut]);
  clearTimeout(timer);
  socket.destroy();
  return { text: Buffer.concat(received).toString('latin1'), closed: wasClosed };
}

const statusOf = (text: string) => Number(/^HTTP\/1\.1 (\d{3}) /.exec(text)?.[1]);
const bodyOf = (text: string) => text.slice(text.indexOf('\r\n\r\n') + 4);

describe('health server behind a load balancer with Proxy Protocol v2', () => {
  it('serves /readyz after a LOCAL header (an NLB health check), header and request in one packet', async () => {
    const { text } = await exchange([Buffer.concat([LOCAL, getReadyz])]);
    expect(statusOf(text)).toBe(200);
    expect(JSON.parse(bodyOf(text))).toEqual(READY);
  });

  it('serves /readyz after a PROXY header with addresses and a VPC endpoint TLV, sent apart', async () => {
    const { text } = await exchange([PROXIED, getReadyz]);
    expect(statusOf(text)).toBe(200);
    expect(JSON.parse(bodyOf(text))).toEqual(READY);
  });

  it('reads a header that arrives a few bytes at a time', async () => {
    const bytes = Buffer.concat([LOCAL, getReadyz]);
    const parts = [1, 5, 12, 13, 15, 16, LOCAL.length + 3].map((end, i, ends) =>
      bytes.subarray(i === 0 ? 0 : ends[i - 1], end),
    );
    parts.push(bytes.subarray(LOCAL.length + 3));
    const { text } = await exchange(parts, 5);
    expect(statusOf(text)).toBe(200);
  });

  it('reports an unready gateway as 503 through the header too (the NLB marks the target unhealthy)', async () => {
    readiness = UPSTREAM_DOWN;
    const { text } = await exchange([Buffer.concat([LOCAL, getReadyz])]);
    expect(statusOf(text)).toBe(503);
    expect(JSON.parse(bodyOf(text))).toEqual(UPSTREAM_DOWN);
  });

  it('reads the header once, then serves every request on the connection', async () => {
    const keepAlive = Buffer.from('GET /healthz HTTP/1.1\r\nHost: health\r\n\r\n');
    const { text } = await exchange([Buffer.concat([LOCAL, keepAlive]), getReadyz]);
    expect(text.match(/^HTTP\/1\.1 200 /gm)).toHaveLength(2);
  });

  it('strips only the first header: a second one is not HTTP (400)', async () => {
    const { text } = await exchange([Buffer.concat([LOCAL, LOCAL, getReadyz])]);
    expect(statusOf(text)).toBe(400);
  });

  it('still serves plain HTTP, without a header (local mode, the container health check)', async () => {
    const { text } = await exchange([getReadyz]);
    expect(statusOf(text)).toBe(200);
    const response = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect([response.status, await response.text()]).toEqual([200, 'ok\n']);
    // A request that starts with an empty line, as HTTP allows, is not taken for a header.
    expect(statusOf((await exchange([Buffer.concat([Buffer.from('\r\n'), getReadyz])])).text)).toBe(200);
  });

  it.each<[string, Buffer]>([
    ['version 1 in a version 2 signature', Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x11, 0, 0, 0])])],
    ['an unknown command', Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x2f, 0, 0, 0])])],
    ['a length past the limit', Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x21, 0x11, 0xff, 0xff])])],
    [
      'PROXY over UDP',
      Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x21, 0x12, 0, 12]), Buffer.alloc(12)]),
    ],
    [
      'truncated addresses',
      Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x21, 0x11, 0, 4]), Buffer.alloc(4)]),
    ],
  ])('closes a connection whose header is malformed (%s), answering nothing', async (_case, header) => {
    const { text, closed } = await exchange([Buffer.concat([header, getReadyz])]);
    expect(closed).toBe(true);
    expect(text).toBe('');
  });

  it('leaves bytes that only begin like the signature to the HTTP parser (400)', async () => {
    const { text, closed } = await exchange([
      Buffer.concat([PROXY_V2_SIGNATURE.subarray(0, 6), Buffer.from('GET /readyz HTTP/1.1\r\n\r\n')]),
    ]);
    expect(statusOf(text)).toBe(400);
    expect(closed).toBe(true);
  });

  it('keeps serving after malformed headers', async () => {
    await exchange([Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x11, 0, 0, 0]), getReadyz])]);
    const { text } = await exchange([Buffer.concat([PROXIED, getReadyz])]);
    expect(statusOf(text)).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
  });
});
