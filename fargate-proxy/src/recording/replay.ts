import { constants, gunzipSync } from 'node:zlib';
import { type ClientEvent, type Cut, FrameKind, readFrames } from '../../../core/recording/frames';
import { BufferReader } from '../protocol/buffer-reader';
import { BackendCode, HEADER_LENGTH } from '../protocol/codes';
import { decodeErrorFields } from '../protocol/error-fields';

/** One step of a session as it happened; `time` in microseconds since the epoch. */
export type ReplayEvent = { time: number } & (
  | { kind: 'start'; writer: string }
  | { kind: 'client'; event: ClientEvent }
  | { kind: 'columns'; names: string[] }
  /** Text-format values as sent; binary ones as `\x` hex; null for SQL NULL. */
  | { kind: 'row'; values: (string | null)[] }
  | { kind: 'complete'; tag: string }
  | { kind: 'error'; severity: string; code: string; message: string; detail?: string }
  | { kind: 'notice'; severity: string; message: string }
  | { kind: 'copy'; bytes: number }
  | { kind: 'ready'; status: string }
  | { kind: 'cut'; cut: Cut }
  | { kind: 'end'; reason: string }
);

/**
 * A recording file's frames, uncompressed. A file whose last gzip member was torn by a crash gives
 * everything before the tear (and the frames of the torn member that came through whole).
 */
export function decompressRecording(stored: Buffer): Buffer {
  return gunzipSync(stored, { finishFlush: constants.Z_SYNC_FLUSH });
}

/** Session ids found in uncompressed recordings, with the time their recording starts. */
export function recordedSessions(recordings: readonly Buffer[]): Map<string, number> {
  const sessions = new Map<string, number>();
  for (const bytes of recordings) {
    for (const frame of framesOf(bytes)) {
      if (frame.kind === FrameKind.Start && !sessions.has(frame.session))
        sessions.set(frame.session, frame.time);
    }
  }
  return sessions;
}

/** Frames of an uncompressed recording, stopping quietly at a torn last frame. */
function* framesOf(bytes: Buffer) {
  try {
    yield* readFrames(bytes);
  } catch {
    // A crash can leave a half-written frame at the end; everything before it is good.
  }
}

function decodeRow(message: Buffer, formats: number[]): (string | null)[] {
  const reader = new BufferReader(message, HEADER_LENGTH);
  const count = reader.int16();
  const values: (string | null)[] = [];
  for (let i = 0; i < count; i++) {
    const length = reader.int32();
    if (length < 0) {
      values.push(null);
      continue;
    }
    const value = reader.bytes(length);
    values.push(formats[i] === 1 ? `\\x${value.toString('hex')}` : value.toString('utf8'));
  }
  return values;
}

function decodeColumns(message: Buffer): { names: string[]; formats: number[] } {
  const reader = new BufferReader(message, HEADER_LENGTH);
  const count = reader.int16();
  const names: string[] = [];
  const formats: number[] = [];
  for (let i = 0; i < count; i++) {
    names.push(reader.cstring());
    reader.bytes(16); // table OID, attribute, type OID, size, modifier
    formats.push(reader.int16());
  }
  return { names, formats };
}

/** Turns the server messages of a session's recording into events (messages may span frames). */
class ServerStream {
  private pending = Buffer.alloc(0);
  private formats: number[] = [];

  constructor(private readonly out: ReplayEvent[]) {}

  push(time: number, bytes: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, bytes]) : Buffer.from(bytes);
    let at = 0;
    while (this.pending.length - at >= HEADER_LENGTH) {
      const total = this.pending.readInt32BE(at + 1) + 1;
      if (this.pending.length - at < total) break;
      this.message(time, this.pending.subarray(at, at + total));
      at += total;
    }
    this.pending = this.pending.subarray(at);
  }

  private message(time: number, message: Buffer): void {
    const code = message[0];
    switch (code) {
      case BackendCode.RowDescription: {
        const { names, formats } = decodeColumns(message);
        this.formats = formats;
        this.out.push({ time, kind: 'columns', names });
        return;
      }
      case BackendCode.DataRow:
        this.out.push({ time, kind: 'row', values: decodeRow(message, this.formats) });
        return;
      case BackendCode.CommandComplete:
        this.out.push({
          time,
          kind: 'complete',
          tag: message.toString('utf8', HEADER_LENGTH, message.length - 1),
        });
        return;
      case BackendCode.EmptyQueryResponse:
        this.out.push({ time, kind: 'complete', tag: '(empty query)' });
        return;
      case BackendCode.ErrorResponse: {
        const {
          severity,
          code: sqlstate,
          message: text,
          detail,
        } = decodeErrorFields(message.subarray(HEADER_LENGTH));
        this.out.push({ time, kind: 'error', severity, code: sqlstate, message: text, detail });
        return;
      }
      case BackendCode.NoticeResponse: {
        const fields = decodeErrorFields(message.subarray(HEADER_LENGTH));
        this.out.push({ time, kind: 'notice', severity: fields.severity, message: fields.message });
        return;
      }
      case BackendCode.CopyData:
        this.out.push({ time, kind: 'copy', bytes: message.length - HEADER_LENGTH });
        return;
      case BackendCode.ReadyForQuery:
        this.out.push({ time, kind: 'ready', status: String.fromCharCode(message[HEADER_LENGTH] ?? 0x49) });
        return;
      default:
      // ParseComplete, BindComplete, ParameterStatus…: protocol bookkeeping, not shown.
    }
  }
}

/** One session's events, in order, from the uncompressed recordings that hold it. */
export function replaySession(recordings: readonly Buffer[], session: string): ReplayEvent[] {
  const events: ReplayEvent[] = [];
  const server = new ServerStream(events);
  for (const bytes of recordings) {
    for (const frame of framesOf(bytes)) {
      if (frame.session !== session) continue;
      const { time, payload } = frame;
      switch (frame.kind) {
        case FrameKind.Start:
          events.push({
            time,
            kind: 'start',
            writer: (JSON.parse(payload.toString()) as { writer: string }).writer,
          });
          break;
        case FrameKind.Client:
          events.push({ time, kind: 'client', event: JSON.parse(payload.toString()) as ClientEvent });
          break;
        case FrameKind.Server:
          server.push(time, payload);
          break;
        case FrameKind.Cut:
          events.push({ time, kind: 'cut', cut: JSON.parse(payload.toString()) as Cut });
          break;
        case FrameKind.End:
          events.push({
            time,
            kind: 'end',
            reason: (JSON.parse(payload.toString()) as { reason: string }).reason,
          });
          break;
      }
    }
  }
  return events;
}
