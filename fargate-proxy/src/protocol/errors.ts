/** A message on the wire that breaks the protocol. The connection that sent it is closed with FATAL 08P01. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly sqlstate = '08P01';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}
