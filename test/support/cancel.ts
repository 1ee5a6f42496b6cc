import net from 'node:net';
import type { Client } from 'pg';

/** Sends a CancelRequest for `client`'s session to `port`, as libpq would, on a fresh connection. */
export function sendCancel(port: number, client: Client): Promise<void> {
  const { processID, secretKey } = client as unknown as { processID: number; secretKey: number };
  return sendCancelKey(port, processID, secretKey);
}

/** Sends a CancelRequest naming a session by its BackendKeyData. */
export function sendCancelKey(port: number, processID: number, secretKey: number): Promise<void> {
  const packet = Buffer.alloc(16);
  packet.writeInt32BE(16, 0);
  packet.writeInt32BE(80877102, 4);
  packet.writeInt32BE(processID, 8);
  packet.writeInt32BE(secretKey, 12);
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(packet));
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}
