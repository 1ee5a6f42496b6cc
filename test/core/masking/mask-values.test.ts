import { canMask, TypeOid, valueMasker } from '../../../core/masking/mask-values';
import { RowMasker } from '../../../core/masking/row-masker';

const KEY = Buffer.from('a test key, not a secret');
const TEXT = 0;
const BINARY = 1;

function text(value: Buffer | null): string | null {
  return value === null ? null : value.toString('utf8');
}

describe('masked values', () => {
  it('partial keeps the ends it is told to, whatever the characters', () => {
    const keepLast4 = valueMasker({ method: 'partial', keepLast: 4 }, TypeOid.text, TEXT, KEY);
    expect(text(keepLast4(Buffer.from('123-45-6789')))).toBe('*******6789');
    expect(text(keepLast4(Buffer.from('abc')))).toBe('***');
    const keepFirst1 = valueMasker({ method: 'partial', keepFirst: 1 }, TypeOid.varchar, TEXT, KEY);
    expect(text(keepFirst1(Buffer.from('Zoë')))).toBe('Z**');
  });

  it('token is deterministic per key, differs between values, and is the same in both formats', () => {
    const token = valueMasker({ method: 'token' }, TypeOid.text, TEXT, KEY);
    const a = text(token(Buffer.from('4111111111111111')));
    expect(a).toMatch(/^tok_[A-Za-z0-9_-]{22}$/);
    expect(text(token(Buffer.from('4111111111111111')))).toBe(a);
    expect(text(token(Buffer.from('4111111111111112')))).not.toBe(a);
    const other = valueMasker({ method: 'token' }, TypeOid.text, TEXT, Buffer.from('another key'));
    expect(text(other(Buffer.from('4111111111111111')))).not.toBe(a);

    const asText = valueMasker({ method: 'token' }, TypeOid.int8, TEXT, KEY)(Buffer.from('1234567'));
    const binaryValue = Buffer.alloc(8);
    binaryValue.writeBigInt64BE(1234567n);
    const asBinary = valueMasker({ method: 'token' }, TypeOid.int8, BINARY, KEY)(binaryValue)!;
    expect(asBinary.length).toBe(8);
    expect(asBinary.readBigInt64BE(0).toString()).toBe(text(asText));
    expect(asBinary.readBigInt64BE(0) >= 0n).toBe(true);
  });

  it('redact gives a value the type accepts, in text and binary', () => {
    expect(text(valueMasker({ method: 'redact' }, TypeOid.int4, TEXT, KEY)(Buffer.from('42')))).toBe('0');
    expect(text(valueMasker({ method: 'redact' }, TypeOid.date, TEXT, KEY)(Buffer.from('1990-02-03')))).toBe(
      '2000-01-01',
    );
    expect(valueMasker({ method: 'redact' }, TypeOid.int8, BINARY, KEY)(Buffer.alloc(8, 7))).toEqual(
      Buffer.alloc(8),
    );
    expect(valueMasker({ method: 'redact' }, TypeOid.numeric, BINARY, KEY)(Buffer.alloc(12, 1))).toEqual(
      Buffer.alloc(8),
    );
    expect(text(valueMasker({ method: 'redact' }, TypeOid.json, TEXT, KEY)(Buffer.from('{"a":1}')))).toBe(
      '"****"',
    );
    // jsonb in binary: a version byte, then the text.
    expect(
      valueMasker({ method: 'redact' }, TypeOid.jsonb, BINARY, KEY)(Buffer.from('\u0001{"a":1}')),
    ).toEqual(Buffer.from('\u0001"****"'));
    expect(valueMasker({ method: 'null' }, 600, BINARY, KEY)(Buffer.from('x'))).toBeNull();
  });

  it('says which types have no masked value in a format', () => {
    const point = 600;
    expect(canMask(point, TEXT, 'redact')).toBe(false);
    expect(canMask(point, BINARY, 'token')).toBe(false);
    expect(canMask(point, BINARY, 'null')).toBe(true);
    expect(canMask(TypeOid.text, BINARY, 'partial')).toBe(true);
  });
});

/** A DataRow of text values (null: SQL NULL). */
function dataRow(values: (string | null)[]): Buffer {
  const columns = values.map((value) => {
    if (value === null) return Buffer.from([0xff, 0xff, 0xff, 0xff]);
    const bytes = Buffer.from(value);
    const length = Buffer.alloc(4);
    length.writeInt32BE(bytes.length);
    return Buffer.concat([length, bytes]);
  });
  const body = Buffer.concat([Buffer.from([0, values.length]), ...columns]);
  const header = Buffer.alloc(5);
  header[0] = 0x44;
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

describe('RowMasker', () => {
  const redactSecond = new RowMasker([undefined, valueMasker({ method: 'redact' }, TypeOid.text, TEXT, KEY)]);

  it('rewrites only the masked columns and keeps the message well formed', () => {
    expect(redactSecond.mask(dataRow(['1', '123-45-6789']))).toEqual(dataRow(['1', '****']));
    expect(redactSecond.counts).toEqual([0, 1]);
  });

  it('forwards a row whose masked columns are NULL without copying it', () => {
    const row = dataRow(['1', null]);
    expect(redactSecond.mask(row)).toBe(row);
  });

  it('refuses rows that do not match the description or are malformed', () => {
    expect(() => redactSecond.mask(dataRow(['1']))).toThrow(/described/);
    const truncated = dataRow(['1', 'abc']).subarray(0, 14);
    truncated.writeInt32BE(truncated.length - 1, 1);
    expect(() => redactSecond.mask(truncated)).toThrow(/ends inside a column/);
  });
});
