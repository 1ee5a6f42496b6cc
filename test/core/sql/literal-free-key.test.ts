import fc from 'fast-check';
import { analyse } from '../../../core/sql/analyse';
import { literalFreeKey } from '../../../core/sql/literal-free-key';
import { loadParser } from '../../../core/sql/parser';

beforeAll(() => loadParser());

describe('literalFreeKey', () => {
  it.each([
    [
      'SELECT abalance FROM pgbench_accounts WHERE aid = 48291;',
      'SELECT abalance FROM pgbench_accounts WHERE aid = ?;',
    ],
    [
      "SELECT * FROM t WHERE a = 'x''y' AND b = E'\\'' AND c = 1.5e-3",
      'SELECT * FROM t WHERE a = ? AND b = ? AND c = ?',
    ],
    ["SELECT $tag$ it's $ here $tag$, $$x$$, $1 FROM t1", 'SELECT ?, ?, $1 FROM t1'],
    ["SELECT date'2020-01-01', B'101', X'ff', n'z'", 'SELECT date?, ?, ?, ?'],
    [
      'SELECT "we""ird" FROM "t 1" -- a \'comment\'\n WHERE x = .5',
      'SELECT "we""ird" FROM "t 1" -- a \'comment\'\n WHERE x = ?',
    ],
    ["SELECT /* nested /* ' */ still */ 1", "SELECT /* nested /* ' */ still */ ?"],
    ['SELECT a$b, 1_000 FROM t', 'SELECT a$b, ? FROM t'],
  ])('%s', (sql, key) => {
    expect(literalFreeKey(sql)).toBe(key);
  });

  it.each([
    ["SELECT 'unterminated"],
    ['SELECT 1 /* unterminated'],
    ['SELECT 1FROM secrets'], // lexed differently by server versions
    ['SELECT 0x1F'],
    ["SELECT U&'\\0061'"],
    ['SELECT $a$ unterminated'],
  ])('gives no key when unsure: %s', (sql) => {
    expect(literalFreeKey(sql)).toBeUndefined();
  });

  it('maps statements with the same key to the same analysis (property)', () => {
    const literal = fc.oneof(
      fc.integer({ min: 0, max: 1e9 }).map(String),
      fc.string({ maxLength: 12 }).map((s) => `'${s.replace(/'/g, "''")}'`),
      fc
        .string({ maxLength: 12 })
        .filter((s) => !s.includes('$q$'))
        .map((s) => `$q$${s}$q$`),
      fc.double({ min: 0, max: 1e6, noNaN: true }).map((n) => n.toFixed(3)),
    );
    const template = fc.constantFrom(
      'SELECT * FROM accounts WHERE id = {} AND owner <> {}',
      'UPDATE accounts SET balance = {} WHERE id = {}',
      "SELECT set_config('search_path', {}, false) WHERE {} IS NOT NULL",
      'DELETE FROM t WHERE a IN ({}, {})',
    );
    fc.assert(
      fc.property(template, literal, literal, literal, literal, (t, a, b, c, d) => {
        const fill = (x: string, y: string) => {
          const [head, middle, tail] = t.split('{}');
          return `${head}${x}${middle}${y}${tail}`;
        };
        const one = fill(a, b);
        const two = fill(c, d);
        expect(literalFreeKey(one)).toBe(literalFreeKey(two));
        const first = analyse(one);
        const second = analyse(two);
        if (!first.ok || !second.ok) return;
        const shape = (s: (typeof first.analysis.statements)[number]) => ({
          ...s,
          text: '',
          settings: s.settings.map((x) => x.name),
        });
        expect(first.analysis.statements.map(shape)).toEqual(second.analysis.statements.map(shape));
      }),
    );
  });
});
