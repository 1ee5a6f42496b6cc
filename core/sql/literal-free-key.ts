/**
 * A cache key for simple-protocol statements that drops literal values: `… WHERE id = 42` and
 * `… = 43` get the same key, so they share one analysis. It is a single pass of a small lexer, far
 * cheaper than parsing or the parser's own normaliser.
 *
 * Safety rests on one property: everything outside a literal is kept verbatim, so two statements with
 * the same key differ only inside literals. The lexer follows PostgreSQL's scanner (with
 * standard_conforming_strings on, which the gateway pins for everyone who is not an admin) for what a
 * literal is: '…' with '' escapes; E'…' with backslash escapes; B'…', X'…', N'…' and U&'…'; $tag$…$tag$;
 * numbers that start a token. Identifiers ("…" included), comments and everything else stay as they
 * are. Where it is unsure (an unterminated literal) it returns undefined, and the caller parses.
 */

const QUOTE = 39; // '
const DOUBLE_QUOTE = 34; // "
const DOLLAR = 36; // $
const BACKSLASH = 92;
const DASH = 45;
const SLASH = 47;
const STAR = 42;
const DOT = 46;

function isIdentifierChar(code: number): boolean {
  return (
    (code >= 97 && code <= 122) || // a-z
    (code >= 65 && code <= 90) || // A-Z
    (code >= 48 && code <= 57) || // 0-9
    code === 95 || // _
    code === DOLLAR ||
    code >= 128
  );
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function isIdentifierStart(code: number): boolean {
  return (code >= 97 && code <= 122) || (code >= 65 && code <= 90) || code === 95 || code >= 128;
}

/** End (exclusive) of a '…' literal starting at `start` (the quote), or -1 when unterminated. */
function endOfQuoted(sql: string, start: number, backslashEscapes: boolean): number {
  let i = start + 1;
  while (i < sql.length) {
    const code = sql.charCodeAt(i);
    if (backslashEscapes && code === BACKSLASH) {
      i += 2;
      continue;
    }
    if (code === QUOTE) {
      if (sql.charCodeAt(i + 1) === QUOTE) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return -1;
}

/** End of a $tag$…$tag$ literal starting at `start`, undefined when `$` does not open one, -1 unterminated. */
function endOfDollarQuoted(sql: string, start: number): number | undefined {
  let i = start + 1;
  if (i < sql.length && isIdentifierStart(sql.charCodeAt(i))) {
    while (i < sql.length && isIdentifierChar(sql.charCodeAt(i)) && sql.charCodeAt(i) !== DOLLAR) i++;
  }
  if (sql.charCodeAt(i) !== DOLLAR) return undefined;
  const tag = sql.slice(start, i + 1);
  const close = sql.indexOf(tag, i + 1);
  return close === -1 ? -1 : close + tag.length;
}

export function literalFreeKey(sql: string): string | undefined {
  let out = '';
  let copied = 0; // sql[copied, i) is still to be copied verbatim
  let i = 0;
  const length = sql.length;
  const replace = (from: number, to: number) => {
    out += `${sql.slice(copied, from)}?`;
    copied = to;
  };
  while (i < length) {
    const code = sql.charCodeAt(i);
    if (code === DASH && sql.charCodeAt(i + 1) === DASH) {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? length : end;
      continue;
    }
    if (code === SLASH && sql.charCodeAt(i + 1) === STAR) {
      // Comments nest in PostgreSQL.
      let depth = 1;
      i += 2;
      while (i < length && depth > 0) {
        if (sql.charCodeAt(i) === SLASH && sql.charCodeAt(i + 1) === STAR) {
          depth++;
          i += 2;
        } else if (sql.charCodeAt(i) === STAR && sql.charCodeAt(i + 1) === SLASH) {
          depth--;
          i += 2;
        } else i++;
      }
      if (depth > 0) return undefined;
      continue;
    }
    if (code === DOUBLE_QUOTE) {
      const end = sql.indexOf('"', i + 1);
      if (end === -1) return undefined;
      // "" inside an identifier is an escaped quote: keep scanning as identifier.
      i = end + 1;
      while (sql.charCodeAt(i) === DOUBLE_QUOTE) {
        const next = sql.indexOf('"', i + 1);
        if (next === -1) return undefined;
        i = next + 1;
      }
      continue;
    }
    if (code === QUOTE) {
      const end = endOfQuoted(sql, i, false);
      if (end === -1) return undefined;
      replace(i, end);
      i = end;
      continue;
    }
    if (code === DOLLAR && (i === 0 || !isIdentifierChar(sql.charCodeAt(i - 1)))) {
      if (isDigit(sql.charCodeAt(i + 1))) {
        // $1: a parameter, kept.
        i += 2;
        while (isDigit(sql.charCodeAt(i))) i++;
        continue;
      }
      const end = endOfDollarQuoted(sql, i);
      if (end === -1) return undefined;
      if (end !== undefined) {
        replace(i, end);
        i = end;
        continue;
      }
      i++;
      continue;
    }
    if (isIdentifierStart(code)) {
      const start = i;
      while (i < length && isIdentifierChar(sql.charCodeAt(i))) i++;
      // A one-letter prefix glued to a quote starts a literal: E'…', B'…', X'…', N'…', U&'…'.
      if (sql.charCodeAt(i) === QUOTE && i - start === 1) {
        const prefix = sql.charCodeAt(start) | 0x20;
        if (
          prefix === 0x65 /* e */ ||
          prefix === 0x62 /* b */ ||
          prefix === 0x78 /* x */ ||
          prefix === 0x6e /* n */
        ) {
          const end = endOfQuoted(sql, i, prefix === 0x65);
          if (end === -1) return undefined;
          replace(start, end);
          i = end;
        }
      } else if (i - start === 1 && (code | 0x20) === 0x75 && sql.charCodeAt(i) === 38 /* & */) {
        // U&'…' (kept whole with any UESCAPE that follows: rare enough to parse every time).
        return undefined;
      }
      continue;
    }
    if (isDigit(code) || (code === DOT && isDigit(sql.charCodeAt(i + 1)))) {
      const start = i;
      const digits = () => {
        while (isDigit(sql.charCodeAt(i)) || sql.charCodeAt(i) === 95) i++;
      };
      digits();
      if (sql.charCodeAt(i) === DOT && sql.charCodeAt(i + 1) !== DOT) {
        i++;
        digits();
      }
      if ((sql.charCodeAt(i) | 0x20) === 0x65 /* e */) {
        const sign = sql.charCodeAt(i + 1) === 43 || sql.charCodeAt(i + 1) === DASH ? 1 : 0;
        if (isDigit(sql.charCodeAt(i + 1 + sign))) {
          i += 1 + sign;
          digits();
        }
      }
      // Anything glued to a number (0x1F, 1FROM, 1.2.3) is lexed differently by server versions:
      // no key, so the statement is parsed on its own.
      if (isIdentifierChar(sql.charCodeAt(i)) || sql.charCodeAt(i) === DOT) return undefined;
      replace(start, i);
      continue;
    }
    i++;
  }
  return copied === 0 ? sql : out + sql.slice(copied);
}
