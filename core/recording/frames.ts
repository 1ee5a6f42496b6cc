/**
 * The session recording format, version 1. A recording file is a gzip stream (possibly several gzip
 * members one after another, each a flush) of frames from all sessions of one writer:
 *
 *   kind      u8    FrameKind
 *   idLength  u8    bytes of the session id
 *   session   idLength bytes, ASCII
 *   time      f64le microseconds since the epoch
 *   length    u32le bytes of the payload
 *   payload   `length` bytes: JSON for every kind but `server`, whose payload is the bytes the client
 *             received, exactly (PostgreSQL backend messages, possibly less what a cap left out)
 *
 * Pure encoding and decoding; no I/O. Documented in docs/recordings.md.
 */
export const RECORDING_FORMAT_VERSION = 1;

export const FrameKind = {
  /** Payload: {v, writer}: the session's recording starts (or resumes in a new file). */
  Start: 1,
  /** Payload: ClientEvent: what the client asked for (statement texts redacted like the audit's). */
  Client: 2,
  /** Payload: backend message bytes as sent to the client. */
  Server: 3,
  /** Payload: Cut: result messages the caps left out of the recording. */
  Cut: 4,
  /** Payload: {reason}: the session ended. */
  End: 5,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

export type ClientEvent =
  | { type: 'query'; text: string; redacted?: boolean }
  | { type: 'parse'; statement: string; text: string; redacted?: boolean }
  /** Parameter values are never recorded; the audit record keeps their SHA-256. */
  | { type: 'bind'; portal: string; statement: string; parameters: number }
  | { type: 'execute'; portal: string; maxRows: number }
  | { type: 'sync' };

export interface Cut {
  /** `statement`: the statement's cap was reached; `session`: the session's, nothing more is kept. */
  cap: 'statement' | 'session';
  omittedMessages: number;
  omittedBytes: number;
}

export interface Frame {
  kind: FrameKind;
  session: string;
  time: number;
  payload: Buffer;
}

const FIXED = 1 + 1 + 8 + 4;

/** Bytes a frame takes, for callers that size buffers. */
export function frameSize(session: string, payloadLength: number): number {
  return FIXED + session.length + payloadLength;
}

/** Writes one frame at `offset` of `target` (which must have room: see frameSize); returns the end. */
export function writeFrame(
  target: Buffer,
  offset: number,
  kind: FrameKind,
  session: string,
  time: number,
  payload: Buffer | string,
): number {
  let at = offset;
  target[at++] = kind;
  target[at++] = session.length;
  at += target.write(session, at, 'latin1');
  target.writeDoubleLE(time, at);
  at += 8;
  const payloadLength = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  target.writeUInt32LE(payloadLength, at);
  at += 4;
  if (typeof payload === 'string') at += target.write(payload, at, 'utf8');
  else at += payload.copy(target, at);
  return at;
}

export class RecordingFormatError extends Error {}

/** The frames of an uncompressed recording, in order; throws on a truncated or malformed frame. */
export function* readFrames(bytes: Buffer): Generator<Frame> {
  let at = 0;
  while (at < bytes.length) {
    if (bytes.length - at < FIXED) throw new RecordingFormatError(`truncated frame at byte ${at}`);
    const kind = bytes[at]!;
    if (kind < FrameKind.Start || kind > FrameKind.End)
      throw new RecordingFormatError(`unknown frame kind ${kind} at byte ${at}`);
    const idLength = bytes[at + 1]!;
    const session = bytes.toString('latin1', at + 2, at + 2 + idLength);
    let p = at + 2 + idLength;
    if (bytes.length - p < 12) throw new RecordingFormatError(`truncated frame at byte ${at}`);
    const time = bytes.readDoubleLE(p);
    const length = bytes.readUInt32LE(p + 8);
    p += 12;
    if (bytes.length - p < length) throw new RecordingFormatError(`truncated frame at byte ${at}`);
    yield { kind: kind as FrameKind, session, time, payload: bytes.subarray(p, p + length) };
    at = p + length;
  }
}
