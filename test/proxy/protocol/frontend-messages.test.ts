import fc from 'fast-check';
import { FrontendCode } from '../../../fargate-proxy/src/protocol/codes';
import { ProtocolError } from '../../../fargate-proxy/src/protocol/errors';
import {
  decodeBind,
  decodeParse,
  decodePassword,
  decodeQuery,
  decodeTarget,
  encodeParse,
  encodeQuery,
} from '../../../fargate-proxy/src/protocol/frontend-messages';
import { bind, cstr, int16, int32, parse, query, typed } from '../../support/wire';

/** Every proper prefix of a message, with its length field adjusted to claim exactly that much. */
function truncations(message: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let end = 5; end < message.length; end++) {
    const cut = Buffer.from(message.subarray(0, end));
    cut.writeInt32BE(end - 1, 1);
    out.push(cut);
  }
  return out;
}

describe('frontend message decoders', () => {
  it('decode what the specification encodes', () => {
    expect(decodeQuery(query('SELECT 1; SELECT 2'))).toBe('SELECT 1; SELECT 2');
    expect(decodeParse(parse('s1', 'SELECT $1, $2', [23, 0xffffffff]))).toEqual({
      statementName: 's1',
      query: 'SELECT $1, $2',
      parameterTypes: [23, 0xffffffff],
    });
    expect(decodePassword(typed('p', cstr('eyJ.token')))).toBe('eyJ.token');
    expect(decodeBind(bind('p1', 's1', ['role', 'x']))).toEqual({
      portal: 'p1',
      statementName: 's1',
      parameterFormats: [0, 0],
      parameters: [Buffer.from('role'), Buffer.from('x')],
      resultFormats: [],
    });
  });

  it('decode Bind with one format for all, per-parameter formats and NULLs', () => {
    const message = typed(
      'B',
      Buffer.concat([
        cstr(''),
        cstr('s'),
        int16(1),
        int16(1),
        int16(2),
        int32(-1),
        int32(2),
        Buffer.from([1, 2]),
        int16(2),
        int16(0),
        int16(1),
      ]),
    );
    expect(decodeBind(message)).toEqual({
      portal: '',
      statementName: 's',
      parameterFormats: [1, 1],
      parameters: [null, Buffer.from([1, 2])],
      resultFormats: [0, 1],
    });
    const mismatched = typed(
      'B',
      Buffer.concat([cstr(''), cstr(''), int16(2), int16(0), int16(0), int16(1), int32(0), int16(0)]),
    );
    expect(() => decodeBind(mismatched)).toThrow(ProtocolError);
    for (const cut of truncations(bind('p', 's', ['abc'])))
      expect(() => decodeBind(cut)).toThrow(ProtocolError);
  });

  it('decode Describe and Close targets, and refuse an unknown kind', () => {
    const describe = typed('D', Buffer.concat([Buffer.from('S'), cstr('stmt')]));
    expect(decodeTarget(describe, FrontendCode.Describe)).toEqual({ kind: 'S', name: 'stmt' });
    const close = typed('C', Buffer.concat([Buffer.from('P'), cstr('')]));
    expect(decodeTarget(close, FrontendCode.Close)).toEqual({ kind: 'P', name: '' });
    const odd = typed('D', Buffer.concat([Buffer.from('X'), cstr('s')]));
    expect(() => decodeTarget(odd, FrontendCode.Describe)).toThrow(ProtocolError);
  });

  it('round-trip through their encoders, byte for byte', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('a', 'é', '😀', ' ', ';') }),
        fc.string({ maxLength: 10, unit: fc.constantFrom('a', 'b', '_') }),
        fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 5 }),
        (text, name, types) => {
          expect(encodeQuery(text).equals(query(text))).toBe(true);
          const message = encodeParse({ statementName: name, query: text, parameterTypes: types });
          expect(message.equals(parse(name, text, types))).toBe(true);
          expect(decodeParse(message)).toEqual({ statementName: name, query: text, parameterTypes: types });
        },
      ),
    );
  });

  it.each([
    ['Query', query('SELECT 1'), decodeQuery],
    ['Parse', parse('n', 'SELECT $1', [23]), decodeParse],
    ['PasswordMessage', typed('p', cstr('token')), decodePassword],
  ])('reject every truncation of a %s', (_name, message, decode) => {
    for (const cut of truncations(message as Buffer))
      expect(() => (decode as (m: Buffer) => unknown)(cut)).toThrow(ProtocolError);
  });

  it('reject trailing bytes and a wrong type byte', () => {
    expect(() => decodeQuery(typed('Q', Buffer.from('SELECT 1\0extra')))).toThrow(ProtocolError);
    expect(() => decodeQuery(parse('', 'SELECT 1'))).toThrow(ProtocolError);
    expect(() =>
      decodeParse(typed('P', Buffer.concat([cstr(''), cstr('x'), Buffer.from([0xff, 0xff])]))),
    ).toThrow(ProtocolError);
  });

  it('throw only ProtocolError for arbitrary bodies', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.constantFrom('Q', 'P', 'p'), (body, code) => {
        const message = typed(code, Buffer.from(body));
        const decode = code === 'Q' ? decodeQuery : code === 'P' ? decodeParse : decodePassword;
        try {
          decode(message);
        } catch (error) {
          expect(error).toBeInstanceOf(ProtocolError);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
