import fc from 'fast-check';
import { ProtocolError } from '../../../fargate-proxy/src/protocol/errors';
import { decodeStartupPacket, startupPacketLength } from '../../../fargate-proxy/src/protocol/startup-packet';
import { int32, startup, untyped } from '../../support/wire';

describe('decodeStartupPacket', () => {
  it('reads the parameters of a 3.0 StartupMessage', () => {
    const packet = startup({
      user: 'ci',
      database: 'app',
      options: '-c search_path=x',
      application_name: 'job',
    });
    expect(startupPacketLength(packet, 10240)).toBe(packet.length);
    const decoded = decodeStartupPacket(packet);
    expect(decoded).toMatchObject({ kind: 'startup', minorVersion: 0 });
    if (decoded.kind !== 'startup') throw new Error('unreachable');
    expect(Object.fromEntries(decoded.parameters)).toEqual({
      user: 'ci',
      database: 'app',
      options: '-c search_path=x',
      application_name: 'job',
    });
  });

  it('accepts protocol 3.2 so the gateway can negotiate it down', () => {
    expect(decodeStartupPacket(startup({ user: 'ci' }, 2))).toMatchObject({
      kind: 'startup',
      minorVersion: 2,
    });
  });

  it('recognises SSLRequest, GSSENCRequest and CancelRequest', () => {
    expect(decodeStartupPacket(untyped(int32(80877103)))).toEqual({ kind: 'ssl' });
    expect(decodeStartupPacket(untyped(int32(80877104)))).toEqual({ kind: 'gssenc' });
    const cancel = decodeStartupPacket(untyped(Buffer.concat([int32(80877102), int32(1234), int32(-5)])));
    expect(cancel).toMatchObject({ kind: 'cancel', processId: 1234 });
    if (cancel.kind === 'cancel') expect(cancel.secretKey.readInt32BE(0)).toBe(-5);
  });

  it.each([
    ['protocol 2.0', untyped(Buffer.concat([int32(2 << 16), Buffer.from([0])]))],
    ['a missing terminator', untyped(Buffer.concat([int32(3 << 16), Buffer.from('user\0ci')]))],
    [
      'a duplicate parameter',
      startup({}).length > 0
        ? untyped(Buffer.concat([int32(3 << 16), Buffer.from('user\0a\0user\0b\0\0')]))
        : Buffer.alloc(0),
    ],
    ['trailing bytes', untyped(Buffer.concat([int32(3 << 16), Buffer.from('user\0a\0\0junk')]))],
    ['an SSLRequest with a body', untyped(Buffer.concat([int32(80877103), int32(0)]))],
    ['a short cancel key', untyped(Buffer.concat([int32(80877102), int32(1), Buffer.from([1, 2])]))],
  ])('rejects %s', (_name, packet) => {
    expect(() => decodeStartupPacket(packet)).toThrow(ProtocolError);
  });

  it('rejects lengths outside the limit before buffering', () => {
    expect(() => startupPacketLength(int32(3), 10240)).toThrow(ProtocolError);
    expect(() => startupPacketLength(int32(10241), 10240)).toThrow(ProtocolError);
    expect(startupPacketLength(Buffer.from([0, 0]), 10240)).toBeUndefined();
  });

  it('decodes at every truncation of a valid packet without escaping anything but ProtocolError', () => {
    const packet = startup({ user: 'ci', database: 'app' });
    for (let end = 8; end < packet.length; end++) {
      const truncated = Buffer.from(packet.subarray(0, end));
      truncated.writeInt32BE(end, 0);
      expect(() => decodeStartupPacket(truncated)).toThrow(ProtocolError);
    }
  });

  it('throws only ProtocolError for arbitrary packets', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 200 }), (body) => {
        const packet = untyped(Buffer.from(body));
        try {
          decodeStartupPacket(packet);
        } catch (error) {
          expect(error).toBeInstanceOf(ProtocolError);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
