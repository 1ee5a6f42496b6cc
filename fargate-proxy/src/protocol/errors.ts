/** A message on the wire that breaks the protocol. The connection that sent it is closed with FATAL 08P01. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly sqlstate = '08P01';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** A message whose declared length is above the configured limit for its direction. */
export class MessageTooLongError extends ProtocolError {
  constructor(
    readonly declaredLength: number,
    readonly limit: number,
    code: number,
  ) {
    super(
      `message of type '${String.fromCharCode(code)}' declares ${declaredLength} bytes, above the limit of ${limit}`,
    );
  }
}
