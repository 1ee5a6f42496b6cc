import { BufferReader } from './buffer-reader';
import { BufferWriter } from './buffer-writer';
import { FrontendCode, HEADER_LENGTH } from './codes';
import { ProtocolError } from './errors';

/**
 * Decoders for the client messages the gateway reads, and encoders for the ones it rewrites.
 * Every decoder takes a whole message, header included, as framed by MessageFramer.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html
 */

function bodyReader(message: Buffer, code: number): BufferReader {
  if (message[0] !== code) throw new ProtocolError(`expected message '${String.fromCharCode(code)}'`);
  return new BufferReader(message, HEADER_LENGTH);
}

function expectEnd(reader: BufferReader, what: string): void {
  if (reader.remaining !== 0) throw new ProtocolError(`trailing bytes in ${what} message`);
}

/** Query: String query. */
export function decodeQuery(message: Buffer): string {
  const reader = bodyReader(message, FrontendCode.Query);
  const text = reader.cstring();
  expectEnd(reader, 'Query');
  return text;
}

export function encodeQuery(text: string): Buffer {
  return new BufferWriter(text.length + 8).cstring(text).message(FrontendCode.Query);
}

export interface ParseMessage {
  statementName: string;
  query: string;
  parameterTypes: number[];
}

/** Parse: String name, String query, Int16 count, Int32[count] parameter type OIDs. */
export function decodeParse(message: Buffer): ParseMessage {
  const reader = bodyReader(message, FrontendCode.Parse);
  const statementName = reader.cstring();
  const query = reader.cstring();
  const count = reader.int16();
  if (count < 0) throw new ProtocolError('negative parameter type count');
  const parameterTypes: number[] = [];
  for (let i = 0; i < count; i++) parameterTypes.push(reader.int32() >>> 0);
  expectEnd(reader, 'Parse');
  return { statementName, query, parameterTypes };
}

export function encodeParse(parse: ParseMessage): Buffer {
  const writer = new BufferWriter(parse.query.length + 32).cstring(parse.statementName).cstring(parse.query);
  writer.int16(parse.parameterTypes.length);
  for (const oid of parse.parameterTypes) writer.int32(oid | 0);
  return writer.message(FrontendCode.Parse);
}

export interface BindMessage {
  portal: string;
  statementName: string;
  /** Per parameter: 0 text, 1 binary (already expanded from the 0/1/n format-code forms). */
  parameterFormats: number[];
  /** Parameter values; null for SQL NULL. */
  parameters: (Buffer | null)[];
  /** Result format codes as sent: none (all text), one (for every column), or one per column. */
  resultFormats: number[];
}

/**
 * Bind: String portal, String statement, Int16 n + Int16[n] parameter formats, Int16 m + m values
 * (Int32 length, -1 for NULL, then bytes), Int16 k + Int16[k] result formats.
 */
export function decodeBind(message: Buffer): BindMessage {
  const reader = bodyReader(message, FrontendCode.Bind);
  const portal = reader.cstring();
  const statementName = reader.cstring();
  const formatCount = reader.int16();
  const formats: number[] = [];
  for (let i = 0; i < formatCount; i++) formats.push(reader.int16());
  const count = reader.int16();
  if (formatCount < 0 || count < 0) throw new ProtocolError('negative count in Bind');
  if (formatCount > 1 && formatCount !== count)
    throw new ProtocolError('Bind has parameter formats for a different count');
  const parameters: (Buffer | null)[] = [];
  for (let i = 0; i < count; i++) {
    const length = reader.int32();
    parameters.push(length === -1 ? null : reader.bytes(length));
  }
  const resultFormatCount = reader.int16();
  const resultFormats: number[] = [];
  for (let i = 0; i < resultFormatCount; i++) resultFormats.push(reader.int16());
  expectEnd(reader, 'Bind');
  const parameterFormats = parameters.map((_, i) =>
    formatCount === 0 ? 0 : formatCount === 1 ? formats[0]! : formats[i]!,
  );
  return { portal, statementName, parameterFormats, parameters, resultFormats };
}

/** A Bind message, each parameter with its own format code. */
export function encodeBind(bind: BindMessage): Buffer {
  const writer = new BufferWriter(64).cstring(bind.portal).cstring(bind.statementName);
  writer.int16(bind.parameterFormats.length);
  for (const format of bind.parameterFormats) writer.int16(format);
  writer.int16(bind.parameters.length);
  for (const value of bind.parameters) {
    if (value === null) writer.int32(-1);
    else writer.int32(value.length).bytes(value);
  }
  writer.int16(bind.resultFormats.length);
  for (const format of bind.resultFormats) writer.int16(format);
  return writer.message(FrontendCode.Bind);
}

/** Describe and Close: Byte1 'S' (statement) or 'P' (portal), String name. */
export function decodeTarget(message: Buffer, code: number): { kind: 'S' | 'P'; name: string } {
  const reader = bodyReader(message, code);
  const kind = String.fromCharCode(reader.byte());
  if (kind !== 'S' && kind !== 'P') throw new ProtocolError(`unknown target '${kind}'`);
  const name = reader.cstring();
  expectEnd(reader, code === FrontendCode.Describe ? 'Describe' : 'Close');
  return { kind, name };
}

/** Execute: String portal, Int32 maximum rows. Returns the portal. */
export function decodeExecute(message: Buffer): { portal: string; maxRows: number } {
  const reader = bodyReader(message, FrontendCode.Execute);
  const portal = reader.cstring();
  const maxRows = reader.int32();
  expectEnd(reader, 'Execute');
  return { portal, maxRows };
}

/** PasswordMessage: String password (here, the token). */
export function decodePassword(message: Buffer): string {
  const reader = bodyReader(message, FrontendCode.Password);
  const password = reader.cstring();
  expectEnd(reader, 'PasswordMessage');
  return password;
}
