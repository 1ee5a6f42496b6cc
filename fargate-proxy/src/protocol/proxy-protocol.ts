import { ProtocolError } from './errors';

/**
 * PROXY protocol version 2, as the AWS Network Load Balancer sends it in front of every connection.
 * @see https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt (section 2.2)
 *
 * Layout: 12-byte signature, version/command byte, family/transport byte, Int16 length of what follows
 * (addresses, then TLVs).
 */
export const PROXY_V2_SIGNATURE = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);
const FIXED_LENGTH = 16;
/** Far above what an NLB sends; bounds what an unauthenticated peer can make us buffer. */
export const PROXY_V2_MAX_LENGTH = 4096;

const COMMAND_LOCAL = 0x0;
const COMMAND_PROXY = 0x1;
const FAMILY_INET = 0x1;
const FAMILY_INET6 = 0x2;
const TRANSPORT_STREAM = 0x1;
/** AWS-specific TLV; its first value byte is a subtype. */
const PP2_TYPE_AWS = 0xea;
const PP2_SUBTYPE_AWS_VPCE_ID = 0x01;

export interface ProxyHeader {
  /** LOCAL: a connection made by the load balancer itself (health checks); no client address. */
  command: 'local' | 'proxy';
  sourceAddress?: string;
  sourcePort?: number;
  destinationAddress?: string;
  destinationPort?: number;
  /** The consumer's PrivateLink VPC endpoint id (vpce-…), when the connection came through one. */
  vpcEndpointId?: string;
}

/** True when `buffer` could still be, or is, the start of a PPv2 header. */
export function mayBeProxyHeader(buffer: Buffer): boolean {
  const n = Math.min(buffer.length, PROXY_V2_SIGNATURE.length);
  return buffer.subarray(0, n).equals(PROXY_V2_SIGNATURE.subarray(0, n));
}

/** Total header length once 16 bytes are there; undefined while fewer. Throws on a bad signature or size. */
export function proxyHeaderLength(buffer: Buffer): number | undefined {
  if (buffer.length < FIXED_LENGTH) {
    if (!mayBeProxyHeader(buffer))
      throw new ProtocolError('connection did not start with a PROXY protocol v2 header');
    return undefined;
  }
  if (!mayBeProxyHeader(buffer))
    throw new ProtocolError('connection did not start with a PROXY protocol v2 header');
  const total = FIXED_LENGTH + buffer.readUInt16BE(14);
  if (total > PROXY_V2_MAX_LENGTH) throw new ProtocolError('PROXY protocol header too long');
  return total;
}

function ipv6(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return groups.join(':');
}

/** Decodes a complete header of `proxyHeaderLength` bytes. */
export function decodeProxyHeader(header: Buffer): ProxyHeader {
  const versionCommand = header[12]!;
  if (versionCommand >> 4 !== 2) throw new ProtocolError('unsupported PROXY protocol version');
  const commandBits = versionCommand & 0x0f;
  if (commandBits !== COMMAND_LOCAL && commandBits !== COMMAND_PROXY) {
    throw new ProtocolError('unsupported PROXY protocol command');
  }
  const result: ProxyHeader = { command: commandBits === COMMAND_LOCAL ? 'local' : 'proxy' };
  const family = header[13]! >> 4;
  const transport = header[13]! & 0x0f;
  let offset = FIXED_LENGTH;
  if (family === FAMILY_INET || family === FAMILY_INET6) {
    if (transport !== TRANSPORT_STREAM) throw new ProtocolError('PROXY protocol transport is not TCP');
    const size = family === FAMILY_INET ? 4 : 16;
    if (offset + size * 2 + 4 > header.length) throw new ProtocolError('PROXY protocol addresses truncated');
    const source = header.subarray(offset, offset + size);
    const destination = header.subarray(offset + size, offset + size * 2);
    if (result.command === 'proxy') {
      result.sourceAddress = size === 4 ? Array.from(source).join('.') : ipv6(source);
      result.destinationAddress = size === 4 ? Array.from(destination).join('.') : ipv6(destination);
      result.sourcePort = header.readUInt16BE(offset + size * 2);
      result.destinationPort = header.readUInt16BE(offset + size * 2 + 2);
    }
    offset += size * 2 + 4;
  } else if (family !== 0 && result.command === 'proxy') {
    throw new ProtocolError('unsupported PROXY protocol address family');
  } else {
    offset = header.length; // UNSPEC (or UNIX, ignored for LOCAL): nothing to read
  }
  while (offset < header.length) {
    if (offset + 3 > header.length) throw new ProtocolError('PROXY protocol TLV truncated');
    const type = header[offset]!;
    const length = header.readUInt16BE(offset + 1);
    const start = offset + 3;
    if (start + length > header.length) throw new ProtocolError('PROXY protocol TLV truncated');
    if (type === PP2_TYPE_AWS && length >= 1 && header[start] === PP2_SUBTYPE_AWS_VPCE_ID) {
      result.vpcEndpointId = header.toString('ascii', start + 1, start + length);
    }
    offset = start + length;
  }
  return result;
}
