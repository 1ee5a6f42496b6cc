import net from 'node:net';

// Linux hands out ephemeral ports from 32768 up: a fixed port chosen there can be taken by any outgoing
// connection of the parallel suite before the server under test binds it. Below that range only
// servers bind, and each candidate is checked free first.
const LOWEST = 20000;
const BELOW_EPHEMERAL = 32768;

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * A port for a server a test starts by number (one that must be known before it starts, such as a
 * peer address), outside the ephemeral range and free right now.
 */
export async function fixedTestPort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (BELOW_EPHEMERAL - LOWEST - 1));
    if ((await canListen(port, host)) && (await canListen(port + 1, host))) return port;
  }
  throw new Error('no free port found below the ephemeral range');
}
