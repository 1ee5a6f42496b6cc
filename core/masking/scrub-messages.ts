/**
 * Server messages that can echo stored values: a unique violation's `Key (ssn)=(123-45-6789)`, a
 * not-null or check violation's `Failing row contains (…)`, a failed cast's `invalid input syntax for
 * type integer: "123-45-6789"`. Under masking the values are taken out of them (the column names and
 * the rest of the message stay). Pure; the gateway applies it to errors and notices of masked sessions.
 */

const HIDDEN = '(masked)';

export interface MessageFields {
  readonly code: string;
  readonly message: string;
  readonly detail?: string;
  /** 'W': where the error happened; a COPY FROM context quotes the offending value. */
  readonly where?: string;
}

/** `Key (a, b)=(x, y) already exists.` and `Key (a)=(x) is not present in table "t".` */
const KEY_VALUES = /^(Key \([^)]*\)=)\(.*\)( .*)?$/s;
/** `Failing row contains (1, 123-45-6789, …).` */
const FAILING_ROW = /^Failing row contains \(.*\)\.?$/s;
/** The value a data exception quotes at the end of its message: `…: "value"`. */
const QUOTED_VALUE = /: ".*"$/s;
/** COPY's context quotes the input: `COPY t, line 1, column ssn: "value"`. */
const COPY_CONTEXT = /^(COPY [^,]+, line \d+(?:, column [^:]+)?): .*$/s;

/** The fields with echoed values removed; the same object when nothing had to change. */
export function scrubMessage<F extends MessageFields>(fields: F): F {
  let changed = false;
  const out: { -readonly [K in keyof MessageFields]: MessageFields[K] } = { ...fields };
  if (fields.detail !== undefined) {
    const key = KEY_VALUES.exec(fields.detail);
    if (key) {
      out.detail = `${key[1]}${HIDDEN}${key[2] ?? ''}`;
      changed = true;
    } else if (FAILING_ROW.test(fields.detail)) {
      out.detail = `Failing row contains ${HIDDEN}.`;
      changed = true;
    }
  }
  if (fields.code.startsWith('22') && QUOTED_VALUE.test(fields.message)) {
    out.message = fields.message.replace(QUOTED_VALUE, `: ${HIDDEN}`);
    changed = true;
  }
  if (fields.where !== undefined && COPY_CONTEXT.test(fields.where)) {
    out.where = fields.where.replace(COPY_CONTEXT, `$1: ${HIDDEN}`);
    changed = true;
  }
  return changed ? ({ ...fields, ...out } as F) : fields;
}
