import { BufferWriter } from './buffer-writer';
import { AuthCode, BackendCode } from './codes';
import type { PgErrorFields } from './error-fields';

/**
 * Writers for the server messages the gateway itself sends to clients. Everything else the client
 * receives is the upstream server's own bytes.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html
 */

const writer = () => new BufferWriter(64);

/** AuthenticationCleartextPassword: R, Int32 3. The token arrives as the password. */
export function authenticationCleartextPassword(): Buffer {
  return writer().int32(AuthCode.CleartextPassword).message(BackendCode.Authentication);
}

export function authenticationOk(): Buffer {
  return writer().int32(AuthCode.Ok).message(BackendCode.Authentication);
}

export function parameterStatus(name: string, value: string): Buffer {
  return writer().cstring(name).cstring(value).message(BackendCode.ParameterStatus);
}

export function backendKeyData(processId: number, secretKey: number): Buffer {
  return writer().int32(processId).int32(secretKey).message(BackendCode.BackendKeyData);
}

export type TransactionStatus = 'I' | 'T' | 'E';

export function readyForQuery(status: TransactionStatus = 'I'): Buffer {
  return writer().byte(status.charCodeAt(0)).message(BackendCode.ReadyForQuery);
}

function fieldsMessage(code: number, fields: PgErrorFields): Buffer {
  const w = writer();
  // 'S' is localised in real servers; 'V' (never localised) is what drivers should read.
  w.byte(0x53).cstring(fields.severity);
  w.byte(0x56).cstring(fields.severity);
  w.byte(0x43).cstring(fields.code);
  w.byte(0x4d).cstring(fields.message);
  if (fields.detail !== undefined) w.byte(0x44).cstring(fields.detail);
  if (fields.hint !== undefined) w.byte(0x48).cstring(fields.hint);
  for (const [key, value] of Object.entries(fields.other ?? {})) {
    if (key.length === 1 && !'SVCMDH'.includes(key)) w.byte(key.charCodeAt(0)).cstring(value);
  }
  return w.byte(0).message(code);
}

export function errorResponse(fields: PgErrorFields): Buffer {
  return fieldsMessage(BackendCode.ErrorResponse, fields);
}

export function noticeResponse(fields: PgErrorFields): Buffer {
  return fieldsMessage(BackendCode.NoticeResponse, fields);
}

/** FATAL error: the server (here, the gateway) closes the connection right after sending it. */
export function fatal(code: string, message: string, extra: Partial<PgErrorFields> = {}): Buffer {
  return errorResponse({ ...extra, severity: 'FATAL', code, message });
}

/**
 * NegotiateProtocolVersion: the newest minor version we speak (3.0) and the protocol options (`_pq_.*`)
 * we did not recognise. Sent instead of refusing a client that asked for 3.2 (PostgreSQL 18 libpq).
 */
export function negotiateProtocolVersion(newestMinor: number, unsupportedOptions: readonly string[]): Buffer {
  const w = writer().int32(newestMinor).int32(unsupportedOptions.length);
  for (const option of unsupportedOptions) w.cstring(option);
  return w.message(BackendCode.NegotiateProtocolVersion);
}
