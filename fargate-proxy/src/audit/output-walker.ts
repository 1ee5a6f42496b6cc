import { HEADER_LENGTH } from '../protocol/codes';

/**
 * Decides, at the start of each message the client receives, whether the recording keeps it. Called
 * once per message with its type byte and whole length (type byte included), before any of its bytes.
 */
export type MessageVisitor = (code: number, total: number) => boolean;

/** Receives the kept bytes of a walked chunk, in order; views into it, valid only during the call. */
export type KeptBytes = (bytes: Buffer) => void;

/**
 * Walks the byte stream the client receives, message by message, without buffering or copying: only
 * headers are read, and a header split across two chunks is the only thing carried over. A message
 * may run across chunks; one left out stays out for all of its bytes. The stream was framed and
 * checked on its way in (or made by the gateway), so lengths are trusted here.
 */
export class OutputWalker {
  /** Bytes of the current message still to come in later chunks. */
  private remaining = 0;
  private keepingCurrent = true;
  private readonly carry = Buffer.alloc(HEADER_LENGTH);
  private carried = 0;

  constructor(private readonly visit: MessageVisitor) {}

  walk(bytes: Buffer, kept?: KeptBytes): void {
    const length = bytes.length;
    let position = 0;
    let keptStart = 0;
    const flushKept = (end: number) => {
      if (kept && end > keptStart)
        kept(keptStart === 0 && end === length ? bytes : bytes.subarray(keptStart, end));
    };
    if (this.carried > 0) {
      // The rest of a header split across chunks: its message is visited once the header is whole.
      const take = Math.min(HEADER_LENGTH - this.carried, length);
      bytes.copy(this.carry, this.carried, 0, take);
      this.carried += take;
      if (this.carried < HEADER_LENGTH) return;
      this.carried = 0;
      this.startMessage(this.carry[0]!, this.carry.readInt32BE(1) + 1);
      if (this.keepingCurrent && kept) kept(this.carry);
      this.remaining -= HEADER_LENGTH;
      position = take;
      keptStart = take;
    }
    if (this.remaining > 0) {
      const take = Math.min(this.remaining, length - position);
      this.remaining -= take;
      position += take;
      if (!this.keepingCurrent) keptStart = position;
    }
    while (position < length) {
      if (length - position < HEADER_LENGTH) {
        if (this.keepingCurrent) flushKept(position);
        bytes.copy(this.carry, 0, position, length);
        this.carried = length - position;
        return;
      }
      const wasKeeping = this.keepingCurrent;
      const total = this.startMessage(bytes[position]!, bytes.readInt32BE(position + 1) + 1);
      if (wasKeeping && !this.keepingCurrent) flushKept(position);
      else if (!wasKeeping && this.keepingCurrent) keptStart = position;
      this.remaining = 0;
      if (position + total <= length) {
        position += total;
      } else {
        this.remaining = position + total - length;
        position = length;
      }
    }
    if (this.keepingCurrent) flushKept(length);
  }

  /** Visits a message; returns its whole length (at least a header, whatever the bytes say). */
  private startMessage(code: number, total: number): number {
    const whole = Math.max(total, HEADER_LENGTH);
    this.keepingCurrent = this.visit(code, whole);
    this.remaining = whole;
    return whole;
  }
}
