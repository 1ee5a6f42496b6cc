import type { StatementLineage } from '../../../core/masking/lineage';
import { TypeOid } from '../../../core/masking/mask-values';
import type { MaskingPlan } from '../../../core/masking/masking-policy';
import type { PlannedStatement } from '../../../fargate-proxy/src/masking/masking-planner';
import { ResultMasking } from '../../../fargate-proxy/src/masking/result-masking';
import { BackendCode } from '../../../fargate-proxy/src/protocol/codes';
import { typed } from '../../support/wire';

const KEY = Buffer.alloc(32, 1);

function planned(masked: boolean[], maskedAttributes: string[] = []): PlannedStatement {
  const lineage = {
    predicates: new Map(),
    written: new Set(),
    sideEffects: new Set(),
    untraceable: [],
    relations: [],
  };
  const plan: MaskingPlan = {
    columns: masked.some(Boolean)
      ? masked.map((on) =>
          on ? { rule: 'r', spec: { method: 'redact' as const }, because: ['s.t.c'] } : undefined,
        )
      : undefined,
    maskedAttributes: new Set(maskedAttributes),
    tokenOperands: [],
  };
  return { lineage: lineage as unknown as StatementLineage, plan };
}

/** RowDescription of text columns: [name, tableOid, attnum]. */
function rowDescription(fields: [string, number, number][]): Buffer {
  const parts = fields.map(([name, table, attnum]) => {
    const out = Buffer.alloc(name.length + 1 + 18);
    out.write(name, 0);
    let at = name.length + 1;
    at = out.writeUInt32BE(table, at);
    at = out.writeInt16BE(attnum, at);
    at = out.writeUInt32BE(TypeOid.text, at);
    at = out.writeInt16BE(-1, at);
    at = out.writeInt32BE(-1, at);
    out.writeInt16BE(0, at);
    return out;
  });
  const count = Buffer.alloc(2);
  count.writeInt16BE(fields.length);
  return typed('T', Buffer.concat([count, ...parts]));
}

function dataRow(values: string[]): Buffer {
  const count = Buffer.alloc(2);
  count.writeInt16BE(values.length);
  return typed(
    'D',
    Buffer.concat([
      count,
      ...values.map((value) => {
        const length = Buffer.alloc(4);
        length.writeInt32BE(Buffer.byteLength(value));
        return Buffer.concat([length, Buffer.from(value)]);
      }),
    ]),
  );
}

const complete = typed('C', Buffer.from('SELECT 1\0'));
const ready = typed('Z', Buffer.from('I'));

describe('ResultMasking', () => {
  it('masks the rows of a masked result and asks for rows only while one is under way', () => {
    const masking = new ResultMasking(KEY);
    masking.query([planned([false, true])]);
    expect(masking.needsRows()).toBe(true);
    masking.server(
      BackendCode.RowDescription,
      rowDescription([
        ['id', 0, 0],
        ['ssn', 0, 0],
      ]),
    );
    const masked = masking.server(BackendCode.DataRow, dataRow(['1', '123-45-6789']));
    expect(masked).toEqual(dataRow(['1', '****']));
    masking.server(BackendCode.CommandComplete, complete);
    masking.server(BackendCode.ReadyForQuery, ready);
    expect(masking.needsRows()).toBe(false);
    masking.query([planned([false, false])]);
    expect(masking.needsRows()).toBe(false);
  });

  it('follows a statement described once and executed again, with its Bind formats', () => {
    const masking = new ResultMasking(KEY);
    masking.parse('s', planned([true]));
    masking.describe('S', 's');
    masking.sync();
    masking.server(BackendCode.ParseComplete, typed('1'));
    masking.server(BackendCode.ParameterDescription, typed('t', Buffer.from([0, 0])));
    masking.server(BackendCode.RowDescription, rowDescription([['ssn', 0, 0]]));
    masking.server(BackendCode.ReadyForQuery, ready);
    for (let i = 0; i < 2; i++) {
      masking.bind('', 's', []);
      masking.execute('');
      masking.sync();
      masking.server(BackendCode.BindComplete, typed('2'));
      expect(masking.server(BackendCode.DataRow, dataRow(['123-45-6789']))).toEqual(dataRow(['****']));
      masking.server(BackendCode.CommandComplete, complete);
      masking.server(BackendCode.ReadyForQuery, ready);
    }
  });

  it('drops the rows and ends in an error when the server names a masked column the lineage missed', () => {
    const masking = new ResultMasking(KEY);
    masking.query([planned([false], ['16400:3'])]);
    masking.server(BackendCode.RowDescription, rowDescription([['x', 16400, 3]]));
    expect(masking.server(BackendCode.DataRow, dataRow(['123-45-6789']))).toBeNull();
    const end = masking.server(BackendCode.CommandComplete, complete);
    expect(end?.[0]).toBe(BackendCode.ErrorResponse);
    expect(end?.toString()).toContain('not traced as such');
  });

  it('never forwards a row it cannot attribute to a statement', () => {
    const masking = new ResultMasking(KEY);
    expect(masking.server(BackendCode.DataRow, dataRow(['x']))).toBeNull();
  });

  it('after an error, skips what the server skips up to the Sync', () => {
    const masking = new ResultMasking(KEY);
    masking.parse('a', planned([false]));
    masking.bind('', 'a', []);
    masking.execute('');
    masking.sync();
    masking.query([planned([true])]);
    masking.server(BackendCode.ErrorResponse, typed('E', Buffer.from('SERROR\0C42P01\0Mno\0\0')));
    masking.server(BackendCode.ReadyForQuery, ready);
    // The Query that follows is the head now: its rows are masked.
    masking.server(BackendCode.RowDescription, rowDescription([['ssn', 0, 0]]));
    expect(masking.server(BackendCode.DataRow, dataRow(['123-45-6789']))).toEqual(dataRow(['****']));
  });
});
