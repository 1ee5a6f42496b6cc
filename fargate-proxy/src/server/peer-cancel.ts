import net from 'node:net';
import type { PeerAddress, PeerDirectory } from '../cancel/peer-directory';
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

/** Milliseconds a peer has to take a forwarded cancel before the connection is dropped. */
const PEER_TIMEOUT_MS = 5_000;

/**
 * Sends cancels that belong to another instance to every peer the directory knows; only the instance
 * whose tag is in the key acts on it. Best effort, as PostgreSQL's cancel is: when the peers cannot be
 * known (a failed DNS look-up) or one cannot be reached, that is logged and the cancel goes no further.
 */
export class PeerCancelForwarder {
  constructor(
    private readonly directory: PeerDirectory,
    private readonly log: Logger,
  ) {}

  /** Resolves, never rejects, with the number of peers the cancel was sent to. */
  async forward(processId: number, secretKey: number): Promise<number> {
    let peers: readonly PeerAddress[];
    try {
      peers = await this.directory.peers();
    } catch (error) {
      this.log.warn('cancel not forwarded: the peers could not be discovered', { error });
      return 0;
    }
    const packet = encodeCancelPacket(processId, secretKey);
    for (const peer of peers) {
      const socket = net.connect({ host: peer.host, port: peer.port });
      socket.setTimeout(PEER_TIMEOUT_MS, () => socket.destroy());
      socket.on('error', (error) =>
        this.log.warn('cancel forward to peer failed', { peer: `${peer.host}:${peer.port}`, error }),
      );
      socket.end(packet);
    }
    return peers.length;
  }
}
