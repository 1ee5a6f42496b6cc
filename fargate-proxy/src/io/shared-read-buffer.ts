import net from 'node:net';

/**
 * Every plain TCP socket of a gateway process (clients and upstreams) reads into this one buffer
 * (Node's `onread`), and each read is copied out at once, usually into a slice of Node's small-buffer
 * pool, then emitted as a normal 'data' event. Per read, this skips the allocation of a fresh 64 KiB
 * backing store and the Readable stream machinery: after the system calls themselves, the two largest
 * costs of relaying in Node. Sharing is safe because read callbacks run one at a time and the bytes are
 * copied before the next read can land. Pause and resume keep working (Node stops and restarts the
 * handle's reads); TLS, once layered on top, reads through its own native buffers.
 */
const sharedReadBuffer = Buffer.allocUnsafeSlow(64 * 1024);

function readInto(socket: () => net.Socket): net.OnReadOpts {
  return {
    buffer: sharedReadBuffer,
    callback: (bytes: number, buffer: Uint8Array) => {
      // Buffer.from(Uint8Array) copies: the shared buffer is overwritten by the next read.
      socket().emit('data', Buffer.from(buffer.subarray(0, bytes)));
      return true;
    },
  };
}

/** Opens a TCP connection that reads through the shared buffer. */
export function connectWithSharedBuffer(options: net.TcpNetConnectOpts): net.Socket {
  const socket: net.Socket = net.connect({ ...options, onread: readInto(() => socket) });
  return socket;
}

/** The constructor options Node itself uses to wrap an accepted handle; `handle` is not in the typings. */
interface HandleSocketOptions extends net.SocketConstructorOpts {
  handle: unknown;
  onread: net.OnReadOpts;
}

/**
 * Re-wraps a socket accepted by a server created with `pauseOnConnect: true` so that it reads through the
 * shared buffer (servers cannot be given `onread`). The accepted wrapper has not read anything yet; it
 * gives up its handle and is dropped. Falls back to the accepted socket if the handle is not there.
 */
export function adoptWithSharedBuffer(accepted: net.Socket): net.Socket {
  const internal = accepted as unknown as { _handle: unknown };
  const handle = internal._handle;
  if (!handle) {
    accepted.resume();
    return accepted;
  }
  internal._handle = null;
  const options: HandleSocketOptions = {
    handle,
    readable: true,
    writable: true,
    onread: readInto(() => socket),
  };
  const socket: net.Socket = new net.Socket(options as net.SocketConstructorOpts);
  return socket;
}
