import type { ValueMasker } from './mask-values';

/** DataRow: 'D', int32 length, int16 column count, then per column int32 length (-1: NULL) and bytes. */
const DATA_ROW = 0x44;
const HEADER = 7;

/**
 * Rewrites DataRow messages: the masked columns' values replaced, everything else byte for byte. A row
 * whose masked columns are all NULL is returned as it came (no copy).
 */
export class RowMasker {
  /** Values masked so far, per column index. */
  readonly counts: number[];

  constructor(private readonly maskers: readonly (ValueMasker | undefined)[]) {
    this.counts = maskers.map(() => 0);
  }

  /** Throws on a message that is not a well-formed DataRow of the expected width. */
  mask(row: Buffer): Buffer {
    if (row[0] !== DATA_ROW || row.length < HEADER) throw new Error('not a DataRow');
    const columns = row.readInt16BE(5);
    if (columns !== this.maskers.length)
      throw new Error(`the row has ${columns} columns where ${this.maskers.length} were described`);
    const parts: Buffer[] = [];
    let copiedFrom = 0;
    let at = HEADER;
    let changed = false;
    for (let i = 0; i < columns; i++) {
      if (at + 4 > row.length) throw new Error('DataRow ends inside a column');
      const length = row.readInt32BE(at);
      const end = length < 0 ? at + 4 : at + 4 + length;
      if (end > row.length) throw new Error('DataRow ends inside a column');
      const masker = this.maskers[i];
      if (masker && length >= 0) {
        const value = row.subarray(at + 4, end);
        const masked = masker(value);
        // A masker that leaves a value alone (a detector that recognised nothing) returns it as it is.
        if (masked !== value) {
          parts.push(row.subarray(copiedFrom, at), lengthPrefixed(masked));
          copiedFrom = end;
          changed = true;
          this.counts[i]!++;
        }
      }
      at = end;
    }
    if (at !== row.length) throw new Error('DataRow has bytes after its last column');
    if (!changed) return row;
    parts.push(row.subarray(copiedFrom));
    const out = Buffer.concat(parts);
    out.writeInt32BE(out.length - 1, 1);
    return out;
  }
}

function lengthPrefixed(value: Buffer | null): Buffer {
  if (value === null) return Buffer.from([0xff, 0xff, 0xff, 0xff]);
  const out = Buffer.allocUnsafe(4 + value.length);
  out.writeInt32BE(value.length, 0);
  value.copy(out, 4);
  return out;
}
