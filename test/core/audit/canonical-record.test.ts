import { canonicalJson } from '../../../core/audit/canonical-json';
import { canonicalRecord } from '../../../core/audit/canonical-record';
import { AUDIT_SCHEMA_VERSION, type RecordBody, type StatementRecord } from '../../../core/audit/records';

const links = { session: 's-1', seq: 7, writer: 'gw-w1', prev: 'a'.repeat(64) };

function statement(overrides: Partial<RecordBody<StatementRecord>>): RecordBody<StatementRecord> {
  return {
    type: 'statement',
    time: 1_700_000_000_000_123,
    start: 1_700_000_000_000_001,
    end: 1_700_000_000_000_123,
    protocol: 'simple',
    text: 'SELECT 1',
    textSha256: 'b'.repeat(64),
    decision: 'allowed',
    outcome: { tag: 'SELECT 1', rows: 1 },
    bytesIn: 14,
    bytesOut: 40,
    ...overrides,
  };
}

/** Every optional member present or absent, in an order other than the sorted one. */
const variants: Partial<RecordBody<StatementRecord>>[] = [
  {},
  { command: 'select', class: 'read', reads: ['public.t'], writes: [], rule: 'grant ci' },
  { redacted: true, text: 'ALTER ROLE x PASSWORD ?' },
  { parameters: [{ sha256: null, format: 'text' } as never, { format: 'binary', sha256: 'c'.repeat(64) }] },
  { outcome: { suspended: true }, recording: { omittedBytes: 70, cut: 'statement' } as never },
  { outcome: { sqlstate: '42501' }, decision: 'refused' },
  { outcome: { tag: 'INSERT 0 3', rows: 3, sqlstate: undefined } },
  { text: "SELECT '\"\\\u2028 ünïcode'", writes: ['public.a', 'x."quoted.name"'] },
  { masking: { columns: [{ values: 2, rule: 'ssn', name: 'ssn' } as never] } },
  { approval: { id: 'apr-1', by: ['bob', 'alice'] }, decision: 'approved' },
  { approval: { id: 'apr-2' }, decision: 'refused' },
  { masking: { withheld: 'a reason', columns: [] } as never, outcome: { sqlstate: '42501' } },
];

describe('canonicalRecord', () => {
  it.each(variants.map((v, i) => [i, v] as const))(
    'statement variant %i matches the generic canonical form',
    (_i, v) => {
      const body = statement(v);
      expect(canonicalRecord(body, links)).toBe(
        canonicalJson({ ...body, v: AUDIT_SCHEMA_VERSION, ...links }),
      );
    },
  );

  it('serialises other record types through the generic walk', () => {
    const body = {
      type: 'session-end' as const,
      time: 5,
      reason: 'client',
      statements: 1,
      bytesIn: 2,
      bytesOut: 3,
    };
    expect(canonicalRecord(body, links)).toBe(canonicalJson({ ...body, v: AUDIT_SCHEMA_VERSION, ...links }));
  });

  it('refuses a statement record with a non-finite number, as the generic form does', () => {
    expect(() => canonicalRecord(statement({ bytesOut: Number.NaN }), links)).toThrow(/non-finite/);
  });
});
