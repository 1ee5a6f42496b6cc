import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { readLocalRecordings } from '../fargate-proxy/src/recording/local-recordings';
import { type ReplayEvent, recordedSessions, replaySession } from '../fargate-proxy/src/recording/replay';

export class ReplayUsageError extends Error {}

const INDENT = '              ';

function seconds(microseconds: number): string {
  return `+${(microseconds / 1e6).toFixed(3)}s`.padEnd(INDENT.length);
}

/** One event as text lines (the first carries the time offset, the rest are indented under it). */
export function describeEvent(event: ReplayEvent): string[] {
  switch (event.kind) {
    case 'start':
      return [`session recorded by ${event.writer}, ${new Date(event.time / 1000).toISOString()}`];
    case 'client': {
      const e = event.event;
      switch (e.type) {
        case 'query':
          return [`=> ${e.text}${e.redacted ? '   (redacted)' : ''}`];
        case 'parse':
          return [
            `=> parse ${e.statement ? `"${e.statement}" ` : ''}${e.text}${e.redacted ? '   (redacted)' : ''}`,
          ];
        case 'bind':
          return [`=> bind ${e.parameters} parameter(s)${e.statement ? ` to "${e.statement}"` : ''}`];
        case 'execute':
          return [
            `=> execute${e.portal ? ` "${e.portal}"` : ''}${e.maxRows ? ` (${e.maxRows} rows at most)` : ''}`,
          ];
        case 'sync':
          return ['=> sync'];
      }
      return [];
    }
    case 'columns':
      return [`   ${event.names.join(' | ')}`];
    case 'row':
      return [`   ${event.values.map((v) => (v === null ? 'NULL' : v)).join(' | ')}`];
    case 'complete':
      return [`<= ${event.tag}`];
    case 'error':
      return [
        `<= ${event.severity} ${event.code}: ${event.message}${event.detail ? ` (${event.detail})` : ''}`,
      ];
    case 'notice':
      return [`<= ${event.severity}: ${event.message}`];
    case 'copy':
      return [`   (copy data, ${event.bytes} bytes)`];
    case 'ready':
      return [];
    case 'cut':
      return [
        `   … ${event.cut.omittedMessages} message(s), ${event.cut.omittedBytes} bytes not recorded (the ${event.cut.cap}'s recording cap)`,
      ];
    case 'end':
      return [`session ended: ${event.reason}`];
  }
}

/**
 * `gatehouse replay SESSION`: prints a recorded session as it happened, from a local store; with
 * `--speed N` (1 = real time) it waits between events as the session did.
 */
export async function replayCommand(argv: string[], write: (text: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      home: { type: 'string', default: '.gatehouse' },
      store: { type: 'string' },
      speed: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const store = path.resolve(values.store ?? path.join(path.resolve(values.home), 'audit'));
  if (!existsSync(store)) throw new ReplayUsageError(`no store at ${store}`);
  const speed = values.speed === undefined ? undefined : Number(values.speed);
  if (speed !== undefined && !(speed > 0)) throw new ReplayUsageError('--speed must be a number above 0');
  const recordings = readLocalRecordings(store, (file, error) =>
    write(`warning: ${file} could not be read (${error.message})\n`),
  );
  const sessions = recordedSessions(recordings);
  const wanted = positionals[0];
  if (!wanted) {
    // No session named: list what can be replayed, oldest first.
    for (const [id, time] of [...sessions].sort((a, b) => a[1] - b[1]))
      write(`${id}  ${new Date(time / 1000).toISOString()}\n`);
    return 0;
  }
  const matches = [...sessions.keys()].filter((id) => id.startsWith(wanted));
  if (matches.length !== 1) {
    write(
      matches.length === 0
        ? `no recorded session ${wanted} in ${store}\n`
        : `${wanted} is ambiguous: ${matches.join(', ')}\n`,
    );
    return 1;
  }
  const events = replaySession(recordings, matches[0]!);
  if (values.json) {
    write(`${JSON.stringify(events)}\n`);
    return 0;
  }
  const origin = events[0]?.time ?? 0;
  let previous = origin;
  for (const event of events) {
    if (speed !== undefined && event.time > previous) await sleep((event.time - previous) / 1000 / speed);
    previous = event.time;
    const [first, ...rest] = describeEvent(event);
    if (first === undefined) continue;
    write(`${seconds(event.time - origin)}${first}\n`);
    for (const line of rest) write(`${INDENT}${line}\n`);
  }
  return 0;
}
