import { BufferReader } from './buffer-reader';
import { StartupCode } from './codes';
import { ProtocolError } from './errors';

/**
 * The first packet of a connection has no type byte: Int32 length, Int32 request code, body.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html (StartupMessage,
 * SSLRequest, GSSENCRequest, CancelRequest)
 */
export type StartupPacket =
  | { kind: 'ssl' }
  | { kind: 'gssenc' }
  | { kind: 'cancel'; processId: number; secretKey: Buffer }
  | { kind: 'startup'; majorVersion: 3; minorVersion: number; parameters: Map<string, string> };

/**
 * The first four bytes are not a plausible packet length. PostgreSQL logs this and closes without an
 * answer (the peer may not speak the protocol at all), and so does the gateway.
 */
export class InvalidStartupLengthError extends ProtocolError {
  constructor(readonly length: number) {
    super(`invalid length of startup packet (${length})`);
  }
}

/** Smallest startup packet: length + code. */
export const STARTUP_MIN_LENGTH = 8;

/**
 * Reads the length of the untyped packet at the start of `buffer`, or undefined when fewer than 4 bytes
 * are there. Throws when the length is outside [8, maxLength].
 */
export function startupPacketLength(buffer: Buffer, maxLength: number): number | undefined {
  if (buffer.length < 4) return undefined;
  const length = buffer.readInt32BE(0);
  if (length < STARTUP_MIN_LENGTH || length > maxLength) throw new InvalidStartupLengthError(length);
  return length;
}

/** Decodes one complete untyped packet (its length already checked by startupPacketLength). */
export function decodeStartupPacket(packet: Buffer): StartupPacket {
  const reader = new BufferReader(packet, 4);
  const code = reader.int32();
  switch (code) {
    case StartupCode.SSLRequest:
    case StartupCode.GSSENCRequest:
      if (packet.length !== 8) throw new ProtocolError('invalid length of encryption request');
      return { kind: code === StartupCode.SSLRequest ? 'ssl' : 'gssenc' };
    case StartupCode.CancelRequest: {
      const processId = reader.int32();
      // 4 bytes in protocol 3.0; protocol 3.2 allows up to 256.
      if (reader.remaining < 4 || reader.remaining > 256)
        throw new ProtocolError('invalid cancel key length');
      return { kind: 'cancel', processId, secretKey: Buffer.from(reader.rest()) };
    }
    default:
      break;
  }
  const major = code >>> 16;
  const minor = code & 0xffff;
  if (major !== 3) {
    throw new ProtocolError(`unsupported frontend protocol ${major}.${minor}: server supports 3.0`);
  }
  const parameters = new Map<string, string>();
  for (;;) {
    const name = reader.cstring();
    if (name === '') break;
    if (parameters.has(name)) throw new ProtocolError(`duplicate startup parameter "${name}"`);
    parameters.set(name, reader.cstring());
  }
  if (reader.remaining !== 0) throw new ProtocolError('trailing bytes after startup parameters');
  return { kind: 'startup', majorVersion: 3, minorVersion: minor, parameters };
}
