import { VERSION } from '../../../core/version';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` (e.g. the connection id) to every line. */
  child(fields: LogFields): Logger;
}

export type LogWriter = (line: string) => void;

/**
 * Structured JSON logs, one object per line, each with the time, level, Gatehouse version and pid.
 * Callers pass facts as fields, never tokens, passwords or row values: the logger does not scrub.
 */
export function createLogger(
  level: LogLevel = 'info',
  bound: LogFields = {},
  write: LogWriter = (line) => process.stdout.write(line),
): Logger {
  return new JsonLogger(LEVELS[level], { version: VERSION, pid: process.pid, ...bound }, write);
}

/**
 * Methods on the prototype and one fields object per instance: every session has a child logger, and a
 * few thousand idle sessions should not each carry a set of closures.
 */
class JsonLogger implements Logger {
  constructor(
    private readonly threshold: number,
    private readonly fields: LogFields,
    private readonly write: LogWriter,
  ) {}

  private log(level: LogLevel, message: string, fields?: LogFields): void {
    if (LEVELS[level] < this.threshold) return;
    const record = { time: new Date().toISOString(), level, msg: message, ...this.fields, ...fields };
    this.write(`${JSON.stringify(record, errorReplacer)}\n`);
  }

  debug(message: string, fields?: LogFields): void {
    this.log('debug', message, fields);
  }

  info(message: string, fields?: LogFields): void {
    this.log('info', message, fields);
  }

  warn(message: string, fields?: LogFields): void {
    this.log('warn', message, fields);
  }

  error(message: string, fields?: LogFields): void {
    this.log('error', message, fields);
  }

  child(fields: LogFields): Logger {
    return new JsonLogger(this.threshold, { ...this.fields, ...fields }, this.write);
  }
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, code: (value as { code?: unknown }).code };
  }
  return value;
}

/** A logger that drops everything; for tests and tools that print their own output. */
export const silentLogger: Logger = createLogger('error', {}, () => undefined);
