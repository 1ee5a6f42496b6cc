import type net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { StreamReader } from '../io/stream-reader';
import { negotiateProtocolVersion } from '../protocol/backend-messages';
import { FrontendCode, HEADER_LENGTH } from '../protocol/codes';
import { ProtocolError } from '../protocol/errors';
import { decodePassword } from '../protocol/frontend-messages';
import {
  decodeProxyHeader,
  mayBeProxyHeader,
  type ProxyHeader,
  proxyHeaderLength,
} from '../protocol/proxy-protocol';
import { decodeStartupPacket, type StartupPacket, startupPacketLength } from '../protocol/startup-packet';
import { SessionError } from './session-errors';

const NOTHING = Buffer.alloc(0);

/** First byte of a TLS ClientHello record: PostgreSQL 17 direct TLS starts with it. */
const TLS_HANDSHAKE_RECORD = 0x16;
const ALPN_POSTGRESQL = 'postgresql';

export interface HandshakeOptions {
  proxyProtocol: boolean;
  allowedVpcEndpoints: readonly string[];
  secureContext?: tls.SecureContext;
  allowDirectTls: boolean;
  allowCleartextPasswordWithoutTls: boolean;
  maxStartupPacketBytes: number;
  maxTokenBytes: number;
  /** Asks the client for its password: the gateway's AuthenticationCleartextPassword bytes. */
  passwordRequest: Buffer;
}

export interface ClientStart {
  kind: 'session';
  stream: Duplex;
  /** The raw TCP socket under `stream` (for addresses and timeouts). */
  socket: net.Socket;
  tls: boolean;
  parameters: Map<string, string>;
  token: string;
  proxy?: ProxyHeader;
  /** Bytes the client sent after its password, before the session began (normally none). */
  leftover: Buffer;
}

export type HandshakeResult =
  | ClientStart
  | { kind: 'cancel'; processId: number; secretKey: Buffer }
  | { kind: 'health-check' };

function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

function upgradeToTls(
  socket: net.Socket,
  reader: StreamReader,
  context: tls.SecureContext,
  direct: boolean,
): Promise<tls.TLSSocket> {
  const rest = reader.detach();
  // Direct TLS: the ClientHello bytes already read go back to the socket, where TLSSocket picks them up.
  if (rest.length > 0) socket.unshift(rest);
  const secure = new tls.TLSSocket(socket, {
    isServer: true,
    secureContext: context,
    ALPNProtocols: [ALPN_POSTGRESQL],
  });
  return new Promise((resolve, reject) => {
    secure.once('secure', () => {
      secure.removeAllListeners('error');
      if (direct && secure.alpnProtocol !== ALPN_POSTGRESQL) {
        reject(
          new SessionError('08P01', 'direct TLS connections must negotiate the ALPN protocol "postgresql"'),
        );
        return;
      }
      resolve(secure);
    });
    secure.once('error', (error) =>
      reject(new SessionError('08P01', `TLS handshake failed: ${error.message}`, {}, { cause: error })),
    );
  });
}

async function readProxyHeader(reader: StreamReader, allowed: readonly string[]): Promise<ProxyHeader> {
  let total = proxyHeaderLength(reader.peek());
  while (total === undefined) {
    await reader.need(reader.buffered + 1);
    total = proxyHeaderLength(reader.peek());
  }
  await reader.need(total);
  const header = decodeProxyHeader(reader.take(total));
  if (header.command === 'proxy' && allowed.length > 0 && !allowed.includes(header.vpcEndpointId ?? '')) {
    throw new SessionError('28000', 'connections from this network endpoint are not allowed', {
      detail: header.vpcEndpointId
        ? `VPC endpoint ${header.vpcEndpointId} is not on the allow-list`
        : 'the connection did not come through an allowed VPC endpoint',
    });
  }
  return header;
}

async function readStartupPacket(reader: StreamReader, maxBytes: number): Promise<StartupPacket> {
  await reader.need(4);
  const length = startupPacketLength(reader.peek(), maxBytes)!;
  await reader.need(length);
  return decodeStartupPacket(reader.take(length));
}

/**
 * Everything between accept and a verified password: PROXY header, encryption negotiation, startup
 * packet, and the password message. Rejections throw SessionError (sent as FATAL) or ProtocolError
 * (sent as FATAL 08P01).
 */
export async function performHandshake(
  socket: net.Socket,
  options: HandshakeOptions,
  /** Told of the TLS stream as soon as it exists, so a later refusal is sent encrypted. */
  onEncrypted: (stream: Duplex) => void,
): Promise<HandshakeResult> {
  let stream: Duplex = socket;
  let reader = new StreamReader(socket);
  let proxy: ProxyHeader | undefined;
  let encrypted = false;
  try {
    if (options.proxyProtocol) {
      proxy = await readProxyHeader(reader, options.allowedVpcEndpoints);
      if (proxy.command === 'local' && reader.buffered === 0) {
        // Load balancer health checks send a LOCAL header and usually nothing else.
        await reader.need(1).catch(() => undefined);
        if (reader.buffered === 0) return { kind: 'health-check' };
      }
    }
    await reader.need(1);
    if (mayBeProxyHeader(reader.peek().subarray(0, 12)) && reader.peek()[0] === 0x0d) {
      throw new ProtocolError(
        'PROXY protocol header received but the gateway is not configured to accept one',
      );
    }
    if (reader.peek()[0] === TLS_HANDSHAKE_RECORD) {
      if (!options.secureContext || !options.allowDirectTls)
        throw new ProtocolError('direct TLS is not enabled on this gateway');
      stream = await upgradeToTls(socket, reader, options.secureContext, true);
      onEncrypted(stream);
      reader = new StreamReader(stream);
      encrypted = true;
    }

    let startup: StartupPacket;
    for (;;) {
      startup = await readStartupPacket(reader, options.maxStartupPacketBytes);
      if (startup.kind === 'ssl') {
        if (encrypted) throw new ProtocolError('SSLRequest on an encrypted connection');
        if (reader.buffered > 0) throw new ProtocolError('received unencrypted data after SSL request');
        if (!options.secureContext) {
          socket.write('N');
          continue;
        }
        socket.write('S');
        stream = await upgradeToTls(socket, reader, options.secureContext, false);
        onEncrypted(stream);
        reader = new StreamReader(stream);
        encrypted = true;
        continue;
      }
      if (startup.kind === 'gssenc') {
        if (encrypted) throw new ProtocolError('GSSENCRequest on an encrypted connection');
        socket.write('N');
        continue;
      }
      break;
    }
    if (startup.kind === 'cancel') {
      reader.detach();
      return { kind: 'cancel', processId: startup.processId, secretKey: startup.secretKey };
    }

    const parameters = startup.parameters;
    if (startup.kind !== 'startup') throw new ProtocolError('expected a startup message');
    const protocolOptions = [...parameters.keys()].filter((name) => name.startsWith('_pq_.'));
    if (startup.minorVersion > 0 || protocolOptions.length > 0) {
      // Speak 3.0 to newer clients instead of refusing them, as PostgreSQL itself does.
      stream.write(negotiateProtocolVersion(0, protocolOptions));
      for (const name of protocolOptions) parameters.delete(name);
    }
    if (!parameters.get('user'))
      throw new SessionError('28000', 'no PostgreSQL user name specified in startup packet');
    if (
      parameters.has('replication') &&
      parameters.get('replication') !== 'false' &&
      parameters.get('replication') !== 'off'
    ) {
      throw new SessionError('28000', 'replication connections are not supported through the gateway');
    }
    if (!encrypted && !options.allowCleartextPasswordWithoutTls && !isLoopback(socket.remoteAddress)) {
      throw new SessionError('28000', 'the gateway accepts tokens only over TLS', {
        hint: 'Connect with sslmode=require (or verify-full with the gateway CA).',
      });
    }

    stream.write(options.passwordRequest);
    await reader.need(HEADER_LENGTH);
    const head = reader.peek();
    if (head[0] !== FrontendCode.Password) throw new ProtocolError('expected a password message');
    const length = head.readInt32BE(1);
    if (length < 5 || length > options.maxTokenBytes + 5) {
      throw new SessionError('28000', `token rejected: longer than ${options.maxTokenBytes} bytes`);
    }
    await reader.need(length + 1);
    const token = decodePassword(reader.take(length + 1));
    const rest = reader.detach();
    // Copied only when there is something: a view would pin the whole received chunk for the session.
    const leftover = rest.length > 0 ? Buffer.from(rest) : NOTHING;
    return { kind: 'session', stream, socket, tls: encrypted, parameters, token, proxy, leftover };
  } catch (error) {
    reader.detach();
    throw error;
  }
}
