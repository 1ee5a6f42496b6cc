import { readFileSync } from 'node:fs';
import net from 'node:net';
import { startTestGateway } from '../support/gateway';

/**
 * TCP keepalive on the gateway's client sockets, read back from the kernel: /proc/net/tcp shows, per
 * socket, which timer runs (`tr`: 2 is the keepalive timer) and when it fires (`tm->when`, in clock ticks
 * of USER_HZ, 100 a second). Node cannot read socket options back, so this is where the setting shows.
 */
const linux = process.platform === 'linux' ? describe : describe.skip;

interface KernelTimer {
  timer: number;
  seconds: number;
}

/** The timer of the IPv4 socket with this local and remote port (the gateway's side of a connection). */
function timerOf(localPort: number, remotePort: number): KernelTimer | undefined {
  const hex = (port: number) => port.toString(16).toUpperCase().padStart(4, '0');
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 6) continue;
    const [, local, remote, , , timer] = fields as [string, string, string, string, string, string];
    if (local.endsWith(`:${hex(localPort)}`) && remote.endsWith(`:${hex(remotePort)}`)) {
      const [active, when] = timer.split(':') as [string, string];
      return { timer: Number.parseInt(active, 16), seconds: Number.parseInt(when, 16) / 100 };
    }
  }
  return undefined;
}

/** Opens a client connection and returns the gateway side's timer once the gateway has accepted it. */
async function acceptedTimer(port: number): Promise<KernelTimer> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  try {
    // The gateway sets the option on accept, in its event loop: give it a moment.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const timer = timerOf(port, socket.localPort!);
    if (!timer) throw new Error(`no socket of port ${port} to ${socket.localPort} in /proc/net/tcp`);
    return timer;
  } finally {
    socket.destroy();
  }
}

const KEEPALIVE_TIMER = 2;

linux('TCP keepalive on client connections', () => {
  it('is on by default, probing after a minute without traffic (limits.tcpKeepAliveMs)', async () => {
    const gateway = await startTestGateway();
    try {
      const { timer, seconds } = await acceptedTimer(gateway.port);
      expect(timer).toBe(KEEPALIVE_TIMER);
      expect(seconds).toBeGreaterThan(55);
      expect(seconds).toBeLessThanOrEqual(60);
    } finally {
      await gateway.stop();
    }
  });

  it('follows limits.tcpKeepAliveMs', async () => {
    const gateway = await startTestGateway({ limits: { tcpKeepAliveMs: 7000 } });
    try {
      const { timer, seconds } = await acceptedTimer(gateway.port);
      expect(timer).toBe(KEEPALIVE_TIMER);
      expect(seconds).toBeGreaterThan(5);
      expect(seconds).toBeLessThanOrEqual(7);
    } finally {
      await gateway.stop();
    }
  });

  it('is off with limits.tcpKeepAliveMs 0', async () => {
    const gateway = await startTestGateway({ limits: { tcpKeepAliveMs: 0 } });
    try {
      expect((await acceptedTimer(gateway.port)).timer).toBe(0);
    } finally {
      await gateway.stop();
    }
  });
});
