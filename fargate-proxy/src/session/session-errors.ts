import type { PgErrorFields } from '../protocol/error-fields';

/**
 * A refusal the client must see as a PostgreSQL error (FATAL during startup), with a real SQLSTATE.
 * Anything thrown that is not a SessionError is logged and reaches the client as a generic 58000.
 */
export class SessionError extends Error {
  override readonly name = 'SessionError';
  constructor(
    readonly sqlstate: string,
    message: string,
    readonly extra: Partial<Pick<PgErrorFields, 'detail' | 'hint'>> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
