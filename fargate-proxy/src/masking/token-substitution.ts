import type { Operand } from '../../../core/masking/expression-lineage';
import type { BindMessage } from '../protocol/frontend-messages';
import type { TokenVault } from './token-vault';

const NOT_A_TOKEN =
  'a masked column may only be compared with a token this gateway returned (it may have been forgotten: fetch it again)';

/** A string literal that is the same whatever standard_conforming_strings says. */
function escapedLiteral(value: string): string {
  return `E'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/**
 * The statement with each token it compares a masked column with replaced by the value the token
 * stands for (locations are UTF-8 byte offsets, as the parser reports them); refused when a constant
 * is not a token this gateway issued, or is not written as a plain literal.
 */
export function substituteTokens(
  sql: string,
  operands: readonly Operand[],
  vault: TokenVault,
): { sql: string } | { refused: string } {
  const constants = operands
    .filter((o): o is Extract<Operand, { location: number }> => 'location' in o)
    .sort((a, b) => b.location - a.location);
  let bytes = Buffer.from(sql, 'utf8');
  for (const { location, text } of constants) {
    const value = vault.valueOf(text);
    if (value === undefined) return { refused: NOT_A_TOKEN };
    const quoted = `'${text}'`;
    const written = bytes.toString('utf8', location, location + Buffer.byteLength(quoted));
    let length: number;
    let replacement: string;
    if (written === quoted) {
      length = Buffer.byteLength(quoted);
      replacement = escapedLiteral(value);
    } else if (bytes.toString('utf8', location, location + text.length) === text && /^\d+$/.test(text)) {
      length = text.length;
      replacement = /^-?\d+$/.test(value) ? value : escapedLiteral(value);
    } else {
      return { refused: 'write the token compared with a masked column as a plain quoted literal' };
    }
    bytes = Buffer.concat([
      bytes.subarray(0, location),
      Buffer.from(replacement),
      bytes.subarray(location + length),
    ]);
  }
  return { sql: bytes.toString('utf8') };
}

/** The Bind with each token parameter (1-based numbers) replaced by its value, in text format. */
export function substituteParameters(
  bind: BindMessage,
  numbers: readonly number[],
  vault: TokenVault,
): { bind: BindMessage } | { refused: string } {
  const parameters = [...bind.parameters];
  const formats = [...bind.parameterFormats];
  for (const number of numbers) {
    const value = parameters[number - 1];
    if (value === undefined || value === null) continue;
    if (formats[number - 1] !== 0)
      return { refused: 'a token compared with a masked column must be sent in text format' };
    const original = vault.valueOf(value.toString('utf8'));
    if (original === undefined) return { refused: NOT_A_TOKEN };
    parameters[number - 1] = Buffer.from(original, 'utf8');
  }
  return { bind: { ...bind, parameters, parameterFormats: formats } };
}
