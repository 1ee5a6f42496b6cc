import {
  substituteParameters,
  substituteTokens,
} from '../../../fargate-proxy/src/masking/token-substitution';
import { TokenVault } from '../../../fargate-proxy/src/masking/token-vault';

describe('token substitution', () => {
  const vault = new TokenVault(100);
  vault.issued('tok_A', "O'Brien \\ 1");
  vault.issued('12345', '-7');

  it('replaces a quoted token at its byte offset, after multi-byte characters, escaping the value', () => {
    const sql = "SELECT 'é' AS e FROM t WHERE c = 'tok_A'";
    const location = Buffer.byteLength("SELECT 'é' AS e FROM t WHERE c = ");
    expect(substituteTokens(sql, [{ location, text: 'tok_A' }], vault)).toEqual({
      sql: "SELECT 'é' AS e FROM t WHERE c = E'O''Brien \\\\ 1'",
    });
  });

  it('replaces an integer token with the integer it stands for', () => {
    const sql = 'SELECT 1 FROM t WHERE n = 12345';
    expect(substituteTokens(sql, [{ location: sql.indexOf('12345'), text: '12345' }], vault)).toEqual({
      sql: 'SELECT 1 FROM t WHERE n = -7',
    });
  });

  it('refuses what is not a token it issued, and a token not written as a plain literal', () => {
    const unknown = "SELECT 1 FROM t WHERE c = 'tok_B'";
    expect(
      substituteTokens(unknown, [{ location: unknown.indexOf("'tok_B'"), text: 'tok_B' }], vault),
    ).toMatchObject({
      refused: expect.stringMatching(/token this gateway returned/),
    });
    const escaped = "SELECT 1 FROM t WHERE c = E'tok_A'";
    expect(
      substituteTokens(escaped, [{ location: escaped.indexOf("E'"), text: 'tok_A' }], vault),
    ).toMatchObject({
      refused: expect.stringMatching(/plain quoted literal/),
    });
  });

  it('replaces token parameters of a Bind, in text format only', () => {
    const bind = {
      portal: '',
      statementName: 's',
      parameterFormats: [0, 0],
      parameters: [Buffer.from('x'), Buffer.from('tok_A')],
      resultFormats: [],
    };
    const done = substituteParameters(bind, [2], vault);
    expect('bind' in done && done.bind.parameters[1]?.toString()).toBe("O'Brien \\ 1");
    expect(substituteParameters({ ...bind, parameterFormats: [0, 1] }, [2], vault)).toMatchObject({
      refused: expect.stringMatching(/text format/),
    });
  });
});
