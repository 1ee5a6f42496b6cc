import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { serialize } from 'pg-protocol';
import { connectWithSharedBuffer } from '../io/shared-read-buffer';
import { StreamReader } from '../io/stream-reader';
import { AuthCode, BackendCode } from '../protocol/codes';
import { decodeErrorFields, type PgErrorFields } from '../protocol/error-fields';
import type { UpstreamCredential } from './credential-source';
import { md5PasswordResponse, SCRAM_MECHANISM, startScram } from './scram';

export interface UpstreamEndpoint {
  host: string;
  port: number;
  tls: 'disable' | 'verify-full';
  /** CA bundle (PEM) the server certificate must chain to, for verify-full. */
  ca?: Buffer;
  serverName?: string;
  connectTimeoutMs: number;
}

export interface UpstreamSession {
  socket: Duplex;
  /** ParameterStatus pairs the server sent during startup, in order; the client gets the same. */
  parameters: Array<[string, string]>;
  processId: number;
  secretKey: Buffer;
  /** Server settings read after startup, when asked for (see connectUpstream's `read`). */
  settings: Map<string, string>;
  /** Bytes received after ReadyForQuery (normally none). */
  pending: Buffer;
}

/** `credentials`: the gateway's own credential could not be read (its secret or file), before any connection. */
export type UpstreamFailure = 'credentials' | 'connect' | 'tls' | 'authentication' | 'server' | 'protocol';

/** Why the upstream session could not be opened; `fields` holds the server's own error when it sent one. */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  constructor(
    readonly failure: UpstreamFailure,
    message: string,
    readonly fields?: PgErrorFields,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Limit for messages during the upstream startup; they are all small. */
const MAX_STARTUP_MESSAGE = 1024 * 1024;
const SSL_REQUEST = serialize.requestSsl();

function connectTcp(endpoint: UpstreamEndpoint): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    // TLS reads through its own native layer, so the shared-buffer path is for plaintext upstreams only.
    const socket =
      endpoint.tls === 'disable'
        ? connectWithSharedBuffer({ host: endpoint.host, port: endpoint.port, noDelay: true })
        : net.connect({ host: endpoint.host, port: endpoint.port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new UpstreamError(
          'connect',
          `timed out after ${endpoint.connectTimeoutMs} ms connecting to the upstream server`,
        ),
      );
    }, endpoint.connectTimeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(
        new UpstreamError('connect', `cannot connect to the upstream server: ${error.message}`, undefined, {
          cause: error,
        }),
      );
    });
  });
}

/** Sends SSLRequest and, on 'S', upgrades to TLS with full verification of the server certificate. */
async function startTls(socket: net.Socket, endpoint: UpstreamEndpoint): Promise<Duplex> {
  const reader = new StreamReader(socket);
  socket.write(SSL_REQUEST);
  const answer = (await reader.bytes(1))[0];
  const leftover = reader.detach();
  if (answer !== 0x53 /* 'S' */) {
    throw new UpstreamError(
      'tls',
      'the upstream server does not accept TLS, and the configuration requires verify-full',
    );
  }
  if (leftover.length > 0)
    throw new UpstreamError('protocol', 'upstream sent unencrypted data after accepting TLS');
  return new Promise((resolve, reject) => {
    const secure = tls.connect({
      socket,
      ca: endpoint.ca,
      servername: net.isIP(endpoint.serverName ?? endpoint.host)
        ? undefined
        : (endpoint.serverName ?? endpoint.host),
      checkServerIdentity: (_host, cert) =>
        tls.checkServerIdentity(endpoint.serverName ?? endpoint.host, cert),
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
    });
    secure.once('secureConnect', () => {
      secure.removeAllListeners('error');
      resolve(secure);
    });
    secure.once('error', (error) =>
      reject(
        new UpstreamError('tls', `TLS with the upstream server failed: ${error.message}`, undefined, {
          cause: error,
        }),
      ),
    );
  });
}

async function openTransport(endpoint: UpstreamEndpoint): Promise<Duplex> {
  const socket = await connectTcp(endpoint);
  if (endpoint.tls === 'disable') return socket;
  try {
    return await startTls(socket, endpoint);
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

/**
 * Opens a session with the upstream server as `credential.user`, authenticating with whatever the server
 * asks for (SCRAM-SHA-256, MD5 or cleartext), and reads up to the first ReadyForQuery.
 */
export async function connectUpstream(
  endpoint: UpstreamEndpoint,
  credential: UpstreamCredential,
  startupParameters: Record<string, string>,
  /** Server settings to read once the session is open (their effective values for this role). */
  read: readonly string[] = [],
): Promise<UpstreamSession> {
  const socket = await openTransport(endpoint);
  const reader = new StreamReader(socket);
  try {
    socket.write(serialize.startup({ ...startupParameters, user: credential.user }));
    const parameters: Array<[string, string]> = [];
    let processId = 0;
    let secretKey = Buffer.alloc(4);
    let scram: ReturnType<typeof startScram> | undefined;
    for (;;) {
      const { code, body } = await reader.message(MAX_STARTUP_MESSAGE);
      switch (code) {
        case BackendCode.Authentication: {
          const kind = body.readInt32BE(0);
          if (kind === AuthCode.Ok) break;
          if (kind === AuthCode.CleartextPassword) {
            socket.write(serialize.password(credential.password));
          } else if (kind === AuthCode.MD5Password) {
            socket.write(
              serialize.password(
                md5PasswordResponse(credential.user, credential.password, body.subarray(4, 8)),
              ),
            );
          } else if (kind === AuthCode.SASL) {
            const mechanisms = body.subarray(4).toString('utf8').split('\0');
            if (!mechanisms.includes(SCRAM_MECHANISM)) {
              throw new UpstreamError(
                'authentication',
                `upstream offers no supported SASL mechanism (${mechanisms.filter(Boolean).join(', ')})`,
              );
            }
            scram = startScram(credential.password);
            socket.write(serialize.sendSASLInitialResponseMessage(SCRAM_MECHANISM, scram.clientFirst));
          } else if (kind === AuthCode.SASLContinue && scram) {
            socket.write(
              serialize.sendSCRAMClientFinalMessage(scram.continue(body.subarray(4).toString('utf8'))),
            );
          } else if (kind === AuthCode.SASLFinal && scram) {
            scram.finish(body.subarray(4).toString('utf8'));
          } else {
            throw new UpstreamError(
              'authentication',
              `upstream asks for an unsupported authentication method (${kind})`,
            );
          }
          break;
        }
        case BackendCode.ParameterStatus: {
          const nul = body.indexOf(0);
          parameters.push([body.toString('utf8', 0, nul), body.toString('utf8', nul + 1, body.length - 1)]);
          break;
        }
        case BackendCode.BackendKeyData:
          processId = body.readInt32BE(0);
          // A copy of its own: a pooled copy or a view would pin a whole slab or read chunk per session.
          secretKey = Buffer.alloc(body.length - 4);
          body.copy(secretKey, 0, 4);
          break;
        case BackendCode.NoticeResponse:
        case BackendCode.NegotiateProtocolVersion:
          break;
        case BackendCode.ErrorResponse: {
          const fields = decodeErrorFields(body);
          const failure = fields.code.startsWith('28') ? 'authentication' : 'server';
          throw new UpstreamError(failure, fields.message, fields);
        }
        case BackendCode.ReadyForQuery: {
          const settings = read.length > 0 ? await readSettings(socket, reader, read) : new Map();
          return { socket, parameters, processId, secretKey, settings, pending: reader.detach() };
        }
        default:
          throw new UpstreamError(
            'protocol',
            `unexpected message 0x${code.toString(16)} from upstream during startup`,
          );
      }
    }
  } catch (error) {
    reader.detach();
    socket.destroy();
    if (error instanceof UpstreamError) throw error;
    throw new UpstreamError('protocol', `upstream startup failed: ${(error as Error).message}`, undefined, {
      cause: error,
    });
  }
}

/**
 * Reads server settings on a fresh session, before the client has it: their values as this session
 * sees them (ALTER ROLE and ALTER DATABASE settings applied), in the units pg_settings gives.
 */
async function readSettings(
  socket: Duplex,
  reader: StreamReader,
  names: readonly string[],
): Promise<Map<string, string>> {
  const list = names.map((n) => `'${n.replace(/'/g, "''")}'`).join(', ');
  socket.write(serialize.query(`SELECT name, setting FROM pg_catalog.pg_settings WHERE name IN (${list})`));
  const settings = new Map<string, string>();
  for (;;) {
    const { code, body } = await reader.message(MAX_STARTUP_MESSAGE);
    if (code === BackendCode.DataRow && body.readInt16BE(0) === 2) {
      const nameLength = body.readInt32BE(2);
      const name = body.toString('utf8', 6, 6 + nameLength);
      const valueLength = body.readInt32BE(6 + nameLength);
      if (valueLength >= 0)
        settings.set(name, body.toString('utf8', 10 + nameLength, 10 + nameLength + valueLength));
    } else if (code === BackendCode.ReadyForQuery) {
      return settings;
    }
  }
}

/** Forwards a cancel to the upstream server for the backend (processId, secretKey). Best effort, as in libpq. */
export async function sendUpstreamCancel(
  endpoint: UpstreamEndpoint,
  processId: number,
  secretKey: Buffer,
): Promise<void> {
  const socket = await openTransport(endpoint);
  const packet = Buffer.alloc(12 + secretKey.length);
  packet.writeInt32BE(packet.length, 0);
  packet.writeInt32BE(80877102, 4);
  packet.writeInt32BE(processId, 8);
  secretKey.copy(packet, 12);
  await new Promise<void>((resolve) => {
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
    socket.end(packet);
    // The server answers a cancel by closing; do not wait forever if it does not.
    setTimeout(() => {
      socket.destroy();
      resolve();
    }, endpoint.connectTimeoutMs).unref();
  });
}
