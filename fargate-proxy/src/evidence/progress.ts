/** Where progress goes: stderr, or what a test gives. */
export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/**
 * Progress of a long export on the terminal: on a TTY one line rewritten in place (at most every
 * 100 ms); elsewhere (asked for with --progress) a line at most every second. Silent when disabled.
 */
export class Progress {
  private last = 0;
  private shown = false;

  constructor(
    private readonly stream: ProgressStream,
    private readonly enabled: boolean,
    private readonly now: () => number = Date.now,
  ) {}

  private get tty(): boolean {
    return this.stream.isTTY === true;
  }

  /** Shows `text` unless a line was shown very recently (`force` shows it anyway). */
  update(text: string, force = false): void {
    if (!this.enabled) return;
    const now = this.now();
    if (!force && now - this.last < (this.tty ? 100 : 1000)) return;
    this.last = now;
    if (this.tty) {
      this.stream.write(`\r\x1b[K${text}`);
      this.shown = true;
    } else this.stream.write(`${text}\n`);
  }

  /** A step is over: its line stays. */
  done(text: string): void {
    if (!this.enabled) return;
    if (this.tty) this.stream.write(`\r\x1b[K${text}\n`);
    else this.stream.write(`${text}\n`);
    this.shown = false;
    this.last = 0;
  }

  /** Clears a line left in place (before an error message). */
  clear(): void {
    if (this.enabled && this.tty && this.shown) this.stream.write('\r\x1b[K');
    this.shown = false;
  }
}
