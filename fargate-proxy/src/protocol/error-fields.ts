import { BufferReader } from './buffer-reader';

/**
 * The fields of an ErrorResponse or NoticeResponse, by their one-letter codes.
 * @see https://www.postgresql.org/docs/current/protocol-error-fields.html
 */
export interface PgErrorFields {
  /** 'S': ERROR, FATAL, PANIC (errors) or WARNING, NOTICE, INFO, LOG, DEBUG (notices). */
  severity: string;
  /** 'C': the SQLSTATE. */
  code: string;
  /** 'M': the primary message. */
  message: string;
  /** 'D' */
  detail?: string;
  /** 'H' */
  hint?: string;
  /** Any other field, keyed by its code letter. */
  other?: Record<string, string>;
}

const FIELD = {
  severity: 0x53,
  severityV: 0x56,
  code: 0x43,
  message: 0x4d,
  detail: 0x44,
  hint: 0x48,
} as const;

/** Decodes the body of an ErrorResponse/NoticeResponse (everything after the 5-byte header). */
export function decodeErrorFields(body: Buffer): PgErrorFields {
  const reader = new BufferReader(body);
  const fields: PgErrorFields = { severity: '', code: '', message: '' };
  for (;;) {
    const type = reader.byte();
    if (type === 0) break;
    const value = reader.cstring();
    switch (type) {
      case FIELD.severity:
        if (!fields.severity) fields.severity = value;
        break;
      case FIELD.severityV:
        fields.severity = value;
        break;
      case FIELD.code:
        fields.code = value;
        break;
      case FIELD.message:
        fields.message = value;
        break;
      case FIELD.detail:
        fields.detail = value;
        break;
      case FIELD.hint:
        fields.hint = value;
        break;
      default:
        fields.other ??= {};
        fields.other[String.fromCharCode(type)] = value;
    }
  }
  return fields;
}
