import fc from 'fast-check';
import {
  backendKeyData,
  errorResponse,
  fatal,
  negotiateProtocolVersion,
  parameterStatus,
  readyForQuery,
} from '../../../fargate-proxy/src/protocol/backend-messages';
import { decodeErrorFields } from '../../../fargate-proxy/src/protocol/error-fields';
import { ProtocolError } from '../../../fargate-proxy/src/protocol/errors';
import { cstr, int32, typed } from '../../support/wire';

describe('messages the gateway writes', () => {
  it('match the byte layout of the specification', () => {
    expect(readyForQuery('T').equals(typed('Z', Buffer.from('T')))).toBe(true);
    expect(
      parameterStatus('TimeZone', 'UTC').equals(typed('S', Buffer.concat([cstr('TimeZone'), cstr('UTC')]))),
    ).toBe(true);
    expect(backendKeyData(7, -2).equals(typed('K', Buffer.concat([int32(7), int32(-2)])))).toBe(true);
    expect(
      negotiateProtocolVersion(0, ['_pq_.x']).equals(
        typed('v', Buffer.concat([int32(0), int32(1), cstr('_pq_.x')])),
      ),
    ).toBe(true);
  });

  it('write error fields that decode back to the same values', () => {
    fc.assert(
      fc.property(fc.string(), fc.option(fc.string()), fc.option(fc.string()), (message, detail, hint) => {
        const clean = (s: string) => s.replace(/\0/g, '');
        const fields = {
          severity: 'ERROR',
          code: '42501',
          message: clean(message),
          detail: detail === null ? undefined : clean(detail),
          hint: hint === null ? undefined : clean(hint),
        };
        const decoded = decodeErrorFields(errorResponse(fields).subarray(5));
        expect(decoded).toEqual(
          Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)),
        );
      }),
    );
  });

  it('mark a fatal error FATAL with its SQLSTATE', () => {
    expect(decodeErrorFields(fatal('57P01', 'bye').subarray(5))).toMatchObject({
      severity: 'FATAL',
      code: '57P01',
      message: 'bye',
    });
  });
});

describe('decodeErrorFields', () => {
  it('rejects fields without their terminators', () => {
    const body = errorResponse({ severity: 'ERROR', code: '22012', message: 'division by zero' }).subarray(5);
    for (let end = 0; end < body.length; end++)
      expect(() => decodeErrorFields(body.subarray(0, end))).toThrow(ProtocolError);
  });
});
