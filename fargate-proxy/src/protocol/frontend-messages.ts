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

/** PasswordMessage: String password (here, the token). */
export function decodePassword(message: Buffer): string {
  const reader = bodyReader(message, FrontendCode.Password);
  const password = reader.cstring();
  expectEnd(reader, 'PasswordMessage');
  return password;
}
