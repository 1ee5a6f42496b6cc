import type { CopyFormat } from './lineage';
import type { ValueMasker } from './mask-values';

/**
 * Rewrites the rows of `COPY … TO STDOUT` (the payload of each CopyData message) in the statement's
 * format: text (escapes, a NULL marker), CSV (quoting) or binary (length-prefixed fields after a
 * signature). The server sends one row per message, the binary header with the first and the
 * trailer on its own; anything else is refused (thrown), and the caller drops the result.
 */
export class CopyMasker {
  private headerPending: boolean;
  private binaryHeaderPending: boolean;
  /** Values masked so far, per column index. */
  readonly counts: number[];

  constructor(
    private readonly format: CopyFormat,
    /** Per column: its masker, or undefined for a column passed as it is. Values are text here. */
    private readonly maskers: readonly (ValueMasker | undefined)[],
  ) {
    this.counts = maskers.map(() => 0);
    this.headerPending = format.header && format.format !== 'binary';
    this.binaryHeaderPending = format.format === 'binary';
  }

  mask(data: Buffer): Buffer {
    if (this.headerPending) {
      this.headerPending = false;
      return data;
    }
    if (this.format.format === 'binary') return this.binary(data);
    const text = data.toString('utf8');
    if (!text.endsWith('\n')) throw new Error('a COPY row does not end with a newline');
    const line = text.slice(0, -1);
    const out = this.format.format === 'csv' ? this.csv(line) : this.text(line);
    return Buffer.from(`${out}\n`, 'utf8');
  }

  private checkWidth(fields: number): void {
    if (fields !== this.maskers.length) {
      throw new Error(`a COPY row has ${fields} columns where ${this.maskers.length} were traced`);
    }
  }

  /** Text format: fields split on the (unescaped) delimiter; the NULL marker is compared raw. */
  private text(line: string): string {
    const { delimiter } = this.format;
    const raw: string[] = [];
    let start = 0;
    for (let i = 0; i < line.length; i++) {
      if (line[i] === '\\') i++;
      else if (line[i] === delimiter) {
        raw.push(line.slice(start, i));
        start = i + 1;
      }
    }
    raw.push(line.slice(start));
    this.checkWidth(raw.length);
    return raw
      .map((field, i) => {
        const masker = this.maskers[i];
        if (!masker || field === this.format.null) return field;
        const value = Buffer.from(unescapeText(field), 'utf8');
        const masked = masker(value);
        if (masked === value) return field;
        this.counts[i]!++;
        return masked === null ? this.format.null : escapeText(masked.toString('utf8'), delimiter);
      })
      .join(delimiter);
  }

  /** CSV: quoted fields may hold the delimiter, quotes (escaped) and newlines; NULL is an unquoted marker. */
  private csv(line: string): string {
    const { delimiter, quote, escape: escaper } = this.format;
    const fields: { value: string; quoted: boolean; raw: string }[] = [];
    let i = 0;
    for (;;) {
      const start = i;
      let value = '';
      let quoted = false;
      if (line[i] === quote) {
        quoted = true;
        i++;
        for (;;) {
          if (i >= line.length) throw new Error('a quoted CSV field does not end');
          const character = line[i]!;
          const next = line[i + 1];
          // The escape character stands before a quote (or itself); by default it is the quote: "".
          if (character === escaper && (next === quote || (escaper !== quote && next === escaper))) {
            value += next;
            i += 2;
            continue;
          }
          if (character === quote) {
            i++;
            break;
          }
          value += character;
          i++;
        }
      } else {
        while (i < line.length && line[i] !== delimiter) value += line[i++];
      }
      fields.push({ value, quoted, raw: line.slice(start, i) });
      if (i >= line.length) break;
      if (line[i] !== delimiter) throw new Error('a CSV field has bytes after its closing quote');
      i++;
    }
    this.checkWidth(fields.length);
    return fields
      .map((field, index) => {
        const masker = this.maskers[index];
        if (!masker || (!field.quoted && field.value === this.format.null)) return field.raw;
        const value = Buffer.from(field.value, 'utf8');
        const masked = masker(value);
        if (masked === value) return field.raw;
        this.counts[index]!++;
        if (masked === null) return this.format.null;
        // Always quoted: a masked value may keep characters that need it.
        let body = '';
        for (const character of masked.toString('utf8')) {
          body += character === quote || character === escaper ? escaper + character : character;
        }
        return `${quote}${body}${quote}`;
      })
      .join(delimiter);
  }

  private binary(data: Buffer): Buffer {
    let at = 0;
    const parts: Buffer[] = [];
    if (this.binaryHeaderPending) {
      this.binaryHeaderPending = false;
      if (data.length < 19 || data.toString('latin1', 0, 11) !== 'PGCOPY\n\xff\r\n\0') {
        throw new Error('a binary COPY does not start with its signature');
      }
      const extension = data.readInt32BE(15);
      at = 19 + extension;
      parts.push(data.subarray(0, at));
    }
    while (at < data.length) {
      const fields = data.readInt16BE(at);
      if (fields === -1) {
        parts.push(data.subarray(at, at + 2));
        at += 2;
        continue;
      }
      this.checkWidth(fields);
      parts.push(data.subarray(at, at + 2));
      at += 2;
      for (let i = 0; i < fields; i++) {
        if (at + 4 > data.length) throw new Error('a binary COPY row ends inside a field');
        const length = data.readInt32BE(at);
        const end = length < 0 ? at + 4 : at + 4 + length;
        if (end > data.length) throw new Error('a binary COPY row ends inside a field');
        const masker = this.maskers[i];
        if (!masker || length < 0) {
          parts.push(data.subarray(at, end));
        } else {
          const value = data.subarray(at + 4, end);
          const masked = masker(value);
          if (masked === value) {
            parts.push(data.subarray(at, end));
            at = end;
            continue;
          }
          this.counts[i]!++;
          const prefix = Buffer.alloc(4);
          prefix.writeInt32BE(masked === null ? -1 : masked.length);
          parts.push(prefix);
          if (masked !== null) parts.push(masked);
        }
        at = end;
      }
    }
    return Buffer.concat(parts);
  }
}

const TEXT_ESCAPES: Readonly<Record<string, string>> = {
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

/** COPY text format's backslash escapes, decoded. */
function unescapeText(field: string): string {
  return field.replace(/\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)/g, (_, code: string) => {
    if (code[0] === 'x') return String.fromCharCode(Number.parseInt(code.slice(1), 16));
    if (/^[0-7]+$/.test(code)) return String.fromCharCode(Number.parseInt(code, 8));
    return TEXT_ESCAPES[code] ?? code;
  });
}

/** What the server writes for these characters in text format. */
const WRITTEN_ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\\\',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
};

function escapeText(value: string, delimiter: string): string {
  let out = '';
  for (const character of value) {
    const named = WRITTEN_ESCAPES[character];
    if (named !== undefined) out += named;
    else if (character === delimiter) out += `\\${character}`;
    else out += character;
  }
  return out;
}
