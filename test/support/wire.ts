/**
 * A test-only encoder for protocol messages, written independently of the production writers so tests
 * check the code against the specification, not against itself.
 */
export function typed(code: string, body: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(5);
  header.write(code, 0, 'latin1');
  header.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

export const cstr = (text: string): Buffer => Buffer.concat([Buffer.from(text, 'utf8'), Buffer.from([0])]);

export function int16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(value);
  return b;
}

export function int32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(value);
  return b;
}

/** Object identifiers (type OIDs) are unsigned 32-bit. */
export function uint32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value);
  return b;
}

export function untyped(body: Buffer): Buffer {
  return Buffer.concat([int32(body.length + 4), body]);
}

export const query = (text: string) => typed('Q', cstr(text));
export const parse = (name: string, text: string, types: number[] = []) =>
  typed('P', Buffer.concat([cstr(name), cstr(text), int16(types.length), ...types.map(uint32)]));
export const sync = () => typed('S');
/** Bind with text parameters and text results. */
export function bind(portal: string, statement: string, parameters: string[] = []): Buffer {
  const values = parameters.map((value) => {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([int32(bytes.length), bytes]);
  });
  return typed(
    'B',
    Buffer.concat([cstr(portal), cstr(statement), int16(0), int16(values.length), ...values, int16(0)]),
  );
}
export const execute = (portal: string, maxRows = 0) =>
  typed('E', Buffer.concat([cstr(portal), int32(maxRows)]));

export function startup(parameters: Record<string, string>, minor = 0): Buffer {
  const pairs = Object.entries(parameters).flatMap(([k, v]) => [cstr(k), cstr(v)]);
  return untyped(Buffer.concat([int32((3 << 16) | minor), ...pairs, Buffer.from([0])]));
}

const PROXY_V2_SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

/** Builds a PPv2 header the way the AWS NLB does (independent of the decoder). */
export function proxyV2(options: {
  local?: boolean;
  ipv4?: [string, number, string, number];
  vpce?: string;
}): Buffer {
  const parts: Buffer[] = [];
  if (options.ipv4) {
    const [src, sport, dst, dport] = options.ipv4;
    const addresses = Buffer.alloc(12);
    Buffer.from(src.split('.').map(Number)).copy(addresses, 0);
    Buffer.from(dst.split('.').map(Number)).copy(addresses, 4);
    addresses.writeUInt16BE(sport, 8);
    addresses.writeUInt16BE(dport, 10);
    parts.push(addresses);
  }
  if (options.vpce) {
    const value = Buffer.concat([Buffer.from([0x01]), Buffer.from(options.vpce, 'ascii')]);
    const tlv = Buffer.alloc(3);
    tlv.writeUInt8(0xea, 0);
    tlv.writeUInt16BE(value.length, 1);
    parts.push(tlv, value);
  }
  const rest = Buffer.concat(parts);
  const fixed = Buffer.alloc(4);
  fixed.writeUInt8(options.local ? 0x20 : 0x21, 0);
  fixed.writeUInt8(options.ipv4 ? 0x11 : 0x00, 1);
  fixed.writeUInt16BE(rest.length, 2);
  return Buffer.concat([PROXY_V2_SIGNATURE, fixed, rest]);
}
