import { scrubMessage } from '../../../core/masking/scrub-messages';

describe('scrubMessage', () => {
  it('hides the values of a key in unique and foreign-key violations, keeping the columns', () => {
    expect(
      scrubMessage({
        code: '23505',
        message: 'duplicate key value violates unique constraint "people_ssn_key"',
        detail: 'Key (ssn)=(123-45-6789) already exists.',
      }),
    ).toMatchObject({
      message: 'duplicate key value violates unique constraint "people_ssn_key"',
      detail: 'Key (ssn)=(masked) already exists.',
    });
    expect(
      scrubMessage({
        code: '23503',
        message: 'insert or update violates foreign key',
        detail: 'Key (a, b)=(1, x) is not present in table "t".',
      }).detail,
    ).toBe('Key (a, b)=(masked) is not present in table "t".');
  });

  it('hides failing rows, values quoted by data exceptions, and COPY input in the context', () => {
    expect(
      scrubMessage({
        code: '23502',
        message: 'null value in column "x"',
        detail: 'Failing row contains (1, 123-45-6789, null).',
      }).detail,
    ).toBe('Failing row contains (masked).');
    expect(
      scrubMessage({ code: '22P02', message: 'invalid input syntax for type integer: "123-45-6789"' })
        .message,
    ).toBe('invalid input syntax for type integer: (masked)');
    expect(
      scrubMessage({ code: '22P02', message: 'bad', where: 'COPY people, line 1, column ssn: "123-45-6789"' })
        .where,
    ).toBe('COPY people, line 1, column ssn: (masked)');
  });

  it('returns the same object when nothing echoes a value', () => {
    const fields = { code: '42P01', message: 'relation "nowhere" does not exist' };
    expect(scrubMessage(fields)).toBe(fields);
  });
});
