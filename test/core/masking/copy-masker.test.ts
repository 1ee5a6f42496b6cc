import { CopyMasker } from '../../../core/masking/copy-masker';
import type { CopyFormat } from '../../../core/masking/lineage';
import type { ValueMasker } from '../../../core/masking/mask-values';

const TEXT: CopyFormat = {
  format: 'text',
  delimiter: '\t',
  null: '\\N',
  quote: '"',
  escape: '"',
  header: false,
};
const CSV: CopyFormat = { format: 'csv', delimiter: ',', null: '', quote: '"', escape: '"', header: true };

/** Shows what it was given, so the tests see the decoded value. */
const bracket: ValueMasker = (value) => Buffer.from(`[${value.toString('utf8')}]`);

function line(masker: CopyMasker, text: string): string {
  return masker.mask(Buffer.from(text)).toString('utf8');
}

describe('CopyMasker', () => {
  it('text: decodes escapes before masking, escapes what it writes, leaves NULL and other columns alone', () => {
    const masker = new CopyMasker(TEXT, [undefined, bracket]);
    expect(line(masker, 'a\\tb\tx\\\\y\n')).toBe('a\\tb\t[x\\\\y]\n');
    expect(line(masker, '1\t\\N\n')).toBe('1\t\\N\n');
    // A delimiter inside a value comes back escaped.
    expect(line(masker, '1\tp\\tq\n')).toBe('1\t[p\\tq]\n');
  });

  it('csv: skips the header, unquotes doubled quotes, and always quotes a masked value', () => {
    const masker = new CopyMasker(CSV, [undefined, bracket]);
    expect(line(masker, 'id,ssn\n')).toBe('id,ssn\n');
    expect(line(masker, '1,"say ""hi"", ok"\n')).toBe('1,"[say ""hi"", ok]"\n');
    expect(line(masker, '2,plain\n')).toBe('2,"[plain]"\n');
    expect(line(masker, '3,\n')).toBe('3,\n');
    expect(line(masker, '4,""\n')).toBe('4,"[]"\n');
  });

  it('binary: rewrites fields after the signature and keeps the trailer', () => {
    const masker = new CopyMasker({ ...TEXT, format: 'binary' }, [undefined, () => Buffer.from('**')]);
    const header = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
    const field = (value: string | null) => {
      if (value === null) return Buffer.from([0xff, 0xff, 0xff, 0xff]);
      const length = Buffer.alloc(4);
      length.writeInt32BE(Buffer.byteLength(value));
      return Buffer.concat([length, Buffer.from(value)]);
    };
    const tuple = (...values: (string | null)[]) =>
      Buffer.concat([Buffer.from([0, values.length]), ...values.map(field)]);
    expect(masker.mask(Buffer.concat([header, tuple('1', 'secret')]))).toEqual(
      Buffer.concat([header, tuple('1', '**')]),
    );
    expect(masker.mask(tuple('2', null))).toEqual(tuple('2', null));
    expect(masker.mask(Buffer.from([0xff, 0xff]))).toEqual(Buffer.from([0xff, 0xff]));
  });

  it('refuses rows it cannot read with certainty', () => {
    const masker = new CopyMasker(TEXT, [undefined, bracket]);
    expect(() => masker.mask(Buffer.from('1\tno newline'))).toThrow(/newline/);
    expect(() => masker.mask(Buffer.from('1\t2\t3\n'))).toThrow(/3 columns/);
    const csv = new CopyMasker({ ...CSV, header: false }, [undefined, bracket]);
    expect(() => csv.mask(Buffer.from('1,"open\n'))).toThrow(/does not end/);
    const binary = new CopyMasker({ ...TEXT, format: 'binary' }, [bracket]);
    expect(() => binary.mask(Buffer.from('not a copy'))).toThrow(/signature/);
  });
});
