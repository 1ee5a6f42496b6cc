import { BufferReader } from './buffer-reader';
import { BackendCode, HEADER_LENGTH } from './codes';
import { ProtocolError } from './errors';

/** One column of a RowDescription. */
export interface FieldDescription {
  readonly name: string;
  /** The column's table (0 when it is not a plain column of a table). */
  readonly tableOid: number;
  readonly attnum: number;
  readonly typeOid: number;
  /** 0 text, 1 binary (0 in the answer to a Describe of a statement: not yet known). */
  readonly format: number;
}

/** RowDescription: Int16 n, then per field String name, Int32 table, Int16 attnum, Int32 type, Int16 size, Int32 modifier, Int16 format. */
export function decodeRowDescription(message: Buffer): FieldDescription[] {
  if (message[0] !== BackendCode.RowDescription) throw new ProtocolError('expected a RowDescription');
  const reader = new BufferReader(message, HEADER_LENGTH);
  const count = reader.int16();
  const fields: FieldDescription[] = [];
  for (let i = 0; i < count; i++) {
    const name = reader.cstring();
    const tableOid = reader.int32() >>> 0;
    const attnum = reader.int16();
    const typeOid = reader.int32() >>> 0;
    reader.int16();
    reader.int32();
    const format = reader.int16();
    fields.push({ name, tableOid, attnum, typeOid, format });
  }
  return fields;
}
