/**
 * The approval functions' logger: one JSON object per line on stdout (CloudWatch keeps one event per
 * line), with each invocation's awsRequestId bound by `child`. Callers pass facts as fields, never task
 * tokens, signing secrets, bot tokens or link MACs: the logger does not scrub.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(
  level: LogLevel = 'info',
  bound: LogFields = {},
  write: (line: string) => void = (line) => process.stdout.write(line),
): Logger {
  const log = (at: LogLevel, message: string, fields?: LogFields) => {
    if (LEVELS[at] < LEVELS[level]) return;
    const record = { time: new Date().toISOString(), level: at, msg: message, ...bound, ...fields };
    write(`${JSON.stringify(record, errorFields)}\n`);
  };
  return {
    debug: (message, fields) => log('debug', message, fields),
    info: (message, fields) => log('info', message, fields),
    warn: (message, fields) => log('warn', message, fields),
    error: (message, fields) => log('error', message, fields),
    child: (fields) => createLogger(level, { ...bound, ...fields }, write),
  };
}

/** Errors as their name and message only: an SDK error's other fields can echo request parameters. */
function errorFields(_key: string, value: unknown): unknown {
  return value instanceof Error ? { name: value.name, message: value.message } : value;
}

export const silentLogger: Logger = createLogger('error', {}, () => undefined);
