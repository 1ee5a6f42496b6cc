/**
 * Message type bytes of the PostgreSQL v3 protocol.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html
 *
 * The same letter means different things in each direction ('D' is Describe from the client and
 * DataRow from the server), so the two directions have separate tables.
 */
export const FrontendCode = {
  Bind: 0x42, // 'B'
  Close: 0x43, // 'C'
  CopyData: 0x64, // 'd'
  CopyDone: 0x63, // 'c'
  CopyFail: 0x66, // 'f'
  Describe: 0x44, // 'D'
  Execute: 0x45, // 'E'
  Flush: 0x48, // 'H'
  FunctionCall: 0x46, // 'F'
  Parse: 0x50, // 'P'
  Password: 0x70, // 'p' (also SASLInitialResponse / SASLResponse / GSSResponse)
  Query: 0x51, // 'Q'
  Sync: 0x53, // 'S'
  Terminate: 0x58, // 'X'
} as const;

export const BackendCode = {
  Authentication: 0x52, // 'R'
  BackendKeyData: 0x4b, // 'K'
  BindComplete: 0x32, // '2'
  CloseComplete: 0x33, // '3'
  CommandComplete: 0x43, // 'C'
  CopyBothResponse: 0x57, // 'W'
  CopyData: 0x64, // 'd'
  CopyDone: 0x63, // 'c'
  CopyInResponse: 0x47, // 'G'
  CopyOutResponse: 0x48, // 'H'
  DataRow: 0x44, // 'D'
  EmptyQueryResponse: 0x49, // 'I'
  ErrorResponse: 0x45, // 'E'
  FunctionCallResponse: 0x56, // 'V'
  NegotiateProtocolVersion: 0x76, // 'v'
  NoData: 0x6e, // 'n'
  NoticeResponse: 0x4e, // 'N'
  NotificationResponse: 0x41, // 'A'
  ParameterDescription: 0x74, // 't'
  ParameterStatus: 0x53, // 'S'
  ParseComplete: 0x31, // '1'
  PortalSuspended: 0x73, // 's'
  ReadyForQuery: 0x5a, // 'Z'
  RowDescription: 0x54, // 'T'
} as const;

/** Request codes of the packets that have no type byte (they come before or instead of a session). */
export const StartupCode = {
  Protocol30: 196608, // 3.0
  CancelRequest: 80877102, // 1234.5678
  SSLRequest: 80877103, // 1234.5679
  GSSENCRequest: 80877104, // 1234.5680
} as const;

/** Authentication request subtypes carried in an 'R' message. */
export const AuthCode = {
  Ok: 0,
  CleartextPassword: 3,
  MD5Password: 5,
  SASL: 10,
  SASLContinue: 11,
  SASLFinal: 12,
} as const;

/** Type byte (1) plus length (4). */
export const HEADER_LENGTH = 5;
/** The length field counts itself. */
export const LENGTH_FIELD = 4;

/** Every type byte a client may send once the session is established. */
export const FRONTEND_SESSION_CODES: ReadonlySet<number> = new Set([
  FrontendCode.Bind,
  FrontendCode.Close,
  FrontendCode.CopyData,
  FrontendCode.CopyDone,
  FrontendCode.CopyFail,
  FrontendCode.Describe,
  FrontendCode.Execute,
  FrontendCode.Flush,
  FrontendCode.FunctionCall,
  FrontendCode.Parse,
  FrontendCode.Query,
  FrontendCode.Sync,
  FrontendCode.Terminate,
]);

/** Every type byte a server may send during a session. */
export const BACKEND_SESSION_CODES: ReadonlySet<number> = new Set(Object.values(BackendCode));
