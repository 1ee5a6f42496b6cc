import net from 'node:net';
import type { Logger } from '../observability/logger';

/** CancelRequest: Int32 16, Int32 80877102, Int32 processId, Int32 secretKey. */
const CANCEL_PACKET_LENGTH = 16;
const CANCEL_CODE = 80877102;

export function encodeCancelPacket(processId: number, secretKey: number): Buffer {
  const packet = Buffer.alloc(CANCEL_PACKET_LENGTH);
  packet.writeInt32BE(CANCEL_PACKET_LENGTH, 0);
  packet.writeInt32BE(CANCEL_CODE, 4);
  packet.writeInt32BE(processId, 8);
  packet.writeInt32BE(secretKey, 12);
  return packet;
}

/**
 * The private port where other gateway instances forward cancels. It accepts only bare CancelRequest
 * packets and never forwards one again, so a cancel cannot loop between instances.
 */
export function startPeerCancelListener(
  host: string,
  port: number,
  onCancel: (processId: number, secretKey: number) => void,
  log: Logger,
): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.setTimeout(5000, () => socket.destroy());
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < CANCEL_PACKET_LENGTH) return;
      if (received.readInt32BE(0) === CANCEL_PACKET_LENGTH && received.readInt32BE(4) === CANCEL_CODE) {
        onCancel(received.readInt32BE(8), received.readInt32BE(12));
      } else {
        log.warn('peer port received something other than a cancel request');
      }
      socket.destroy();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve(server));
  });
}

/** Sends the cancel to every peer; only the instance whose tag is in the key acts on it. */
export function forwardCancelToPeers(
  peers: readonly string[],
  processId: number,
  secretKey: number,
  log: Logger,
): void {
  const packet = encodeCancelPacket(processId, secretKey);
  for (const peer of peers) {
    const separator = peer.lastIndexOf(':');
    const socket = net.connect({ host: peer.slice(0, separator), port: Number(peer.slice(separator + 1)) });
    socket.setTimeout(5000, () => socket.destroy());
    socket.on('error', (error) => log.warn('cancel forward to peer failed', { peer, error }));
    socket.end(packet);
  }
}
