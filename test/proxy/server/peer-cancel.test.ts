import net from 'node:net';
import type { PeerAddress, PeerDirectory } from '../../../fargate-proxy/src/cancel/peer-directory';
import { createLogger } from '../../../fargate-proxy/src/observability/logger';
import {
  encodeCancelPacket,
  PeerCancelForwarder,
  startPeerCancelListener,
} from '../../../fargate-proxy/src/server/peer-cancel';

function capturingLogger() {
  const lines: string[] = [];
  const log = createLogger('debug', {}, (line) => lines.push(line));
  return { log, lines: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

const listed = (peers: PeerAddress[]): PeerDirectory => ({ peers: async () => peers });

/** A loopback server that collects what each connection sends until it closes. */
async function collector(): Promise<{ port: number; received: Promise<Buffer>; close(): void }> {
  let deliver: (data: Buffer) => void = () => undefined;
  const received = new Promise<Buffer>((resolve) => {
    deliver = resolve;
  });
  const server = net.createServer((socket) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => {
      deliver(Buffer.concat(chunks));
      socket.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, received, close: () => server.close() };
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('PeerCancelForwarder', () => {
  it('sends the CancelRequest to every peer the directory lists', async () => {
    // GIVEN
    const [a, b] = await Promise.all([collector(), collector()]);
    const forwarder = new PeerCancelForwarder(
      listed([
        { host: '127.0.0.1', port: a.port },
        { host: '127.0.0.1', port: b.port },
      ]),
      capturingLogger().log,
    );
    try {
      // WHEN
      const sent = await forwarder.forward(0x12345678, -42);
      // THEN
      expect(sent).toBe(2);
      const expected = encodeCancelPacket(0x12345678, -42);
      expect(await a.received).toEqual(expected);
      expect(await b.received).toEqual(expected);
      expect(expected.readInt32BE(0)).toBe(16);
      expect(expected.readInt32BE(4)).toBe(80877102);
    } finally {
      a.close();
      b.close();
    }
  });

  it('drops the cancel with a warning when the peers cannot be discovered, and does not throw', async () => {
    // GIVEN
    const { log, lines } = capturingLogger();
    const failure = Object.assign(new Error('queryA ESERVFAIL gateway.gatehouse.internal'), {
      code: 'ESERVFAIL',
    });
    const forwarder = new PeerCancelForwarder({ peers: () => Promise.reject(failure) }, log);
    // WHEN
    const sent = await forwarder.forward(1, 2);
    // THEN
    expect(sent).toBe(0);
    expect(lines()).toEqual([
      expect.objectContaining({
        level: 'warn',
        msg: 'cancel not forwarded: the peers could not be discovered',
        error: expect.objectContaining({ code: 'ESERVFAIL' }),
      }),
    ]);
  });

  it('logs a peer it cannot reach and still reaches the others', async () => {
    // GIVEN
    const { log, lines } = capturingLogger();
    const live = await collector();
    const dead = await closedPort();
    const forwarder = new PeerCancelForwarder(
      listed([
        { host: '127.0.0.1', port: dead },
        { host: '127.0.0.1', port: live.port },
      ]),
      log,
    );
    try {
      // WHEN
      await forwarder.forward(7, 8);
      // THEN
      expect(await live.received).toEqual(encodeCancelPacket(7, 8));
      for (let i = 0; i < 100 && lines().length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(lines()).toEqual([
        expect.objectContaining({
          level: 'warn',
          msg: 'cancel forward to peer failed',
          peer: `127.0.0.1:${dead}`,
        }),
      ]);
    } finally {
      live.close();
    }
  });
});

describe('startPeerCancelListener', () => {
  it('hands over a forwarded CancelRequest, and ignores anything else with a warning', async () => {
    // GIVEN
    const { log, lines } = capturingLogger();
    const cancels: [number, number][] = [];
    const server = await startPeerCancelListener('127.0.0.1', 0, (p, s) => cancels.push([p, s]), log);
    const { port } = server.address() as net.AddressInfo;
    const send = (data: Buffer) =>
      new Promise<void>((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => socket.end(data));
        socket.on('close', () => resolve());
        socket.on('error', () => resolve());
      });
    try {
      // WHEN
      await send(encodeCancelPacket(5, 6));
      await send(Buffer.alloc(16, 1));
      // THEN
      expect(cancels).toEqual([[5, 6]]);
      expect(lines().map((l) => l.msg)).toEqual(['peer port received something other than a cancel request']);
    } finally {
      server.close();
    }
  });
});
