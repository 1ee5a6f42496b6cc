import {
  type ClientEvent,
  type Cut,
  FrameKind,
  RECORDING_FORMAT_VERSION,
} from '../../../core/recording/frames';
import { nowMicros } from '../observability/clock';
import { BackendCode } from '../protocol/codes';
import type { RecordingWriter } from './recording-writer';

export interface RecordingCaps {
  /** Bytes a session's recording may hold; past it, the rest of the session is left out. */
  maxSessionBytes: number;
  /** Result bytes one statement's recording may hold; past it, its further rows are left out. */
  maxStatementBytes: number;
}

/** What the audit record of a statement says when its recorded result is incomplete. */
export type RecordingNote = { cut: Cut['cap']; omittedBytes: number };

/** Row messages: the only ones a statement's cap leaves out (the rest say how the statement went). */
function isRow(code: number): boolean {
  return code === BackendCode.DataRow || code === BackendCode.CopyData;
}

/**
 * One session's recording: what the client asked for and, byte for byte, what it received, with
 * timings, within the caps. Fed by the session's audit (client events) and by the walk over the bytes
 * sent to the client (server messages).
 */
export class SessionRecorder {
  private sessionBytes = 0;
  private statementBytes = 0;
  private omittedMessages = 0;
  private omittedBytes = 0;
  private sessionCut = false;

  constructor(
    private readonly writer: RecordingWriter,
    private readonly session: string,
    private readonly caps: RecordingCaps,
    writerName: string,
  ) {
    this.writer.frame(
      FrameKind.Start,
      session,
      nowMicros(),
      JSON.stringify({ v: RECORDING_FORMAT_VERSION, writer: writerName }),
    );
  }

  client(event: ClientEvent): void {
    if (this.sessionCut) return;
    const payload = JSON.stringify(event);
    this.sessionBytes += payload.length;
    this.writer.frame(FrameKind.Client, this.session, nowMicros(), payload);
  }

  /** Whether a message about to be sent to the client is kept (called at its first byte). */
  keep(code: number, total: number): boolean {
    if (!this.sessionCut && this.sessionBytes + total > this.caps.maxSessionBytes) {
      this.sessionCut = true;
      this.cut('session');
    }
    if (this.sessionCut || (isRow(code) && this.statementBytes + total > this.caps.maxStatementBytes)) {
      this.omittedMessages++;
      this.omittedBytes += total;
      return false;
    }
    this.statementBytes += total;
    this.sessionBytes += total;
    return true;
  }

  /** Kept bytes, in order; copied (they may be views of a reused read buffer). */
  server(bytes: Buffer): void {
    this.writer.frame(FrameKind.Server, this.session, nowMicros(), bytes);
  }

  /**
   * A statement's result ended (its last message was just visited): returns what its recording is
   * missing, if anything, and notes it in the recording before that last message.
   */
  statementEnded(): RecordingNote | undefined {
    this.statementBytes = 0;
    if (this.omittedBytes === 0) return undefined;
    const note: RecordingNote = {
      cut: this.sessionCut ? 'session' : 'statement',
      omittedBytes: this.omittedBytes,
    };
    if (!this.sessionCut) this.cut('statement');
    this.omittedMessages = 0;
    this.omittedBytes = 0;
    return note;
  }

  private cut(cap: Cut['cap']): void {
    const cut: Cut = { cap, omittedMessages: this.omittedMessages, omittedBytes: this.omittedBytes };
    this.writer.frame(FrameKind.Cut, this.session, nowMicros(), JSON.stringify(cut));
  }

  end(reason: string): void {
    this.writer.frame(FrameKind.End, this.session, nowMicros(), JSON.stringify({ reason }));
  }
}
