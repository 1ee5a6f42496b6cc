import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { openSessionRegistry } from '../fargate-proxy/src/sessions/registry-for';
import {
  type KillTarget,
  killMatches,
  type LiveSession,
  type SessionRegistry,
  validKillTarget,
} from '../fargate-proxy/src/sessions/session-registry';

export class SessionsUsageError extends Error {}

const USAGE = `gatehouse sessions list [--home .gatehouse | --directory DIR | --table TABLE [--region R]] [--json]
gatehouse sessions kill (--session ID | --subject SUBJECT [--issuer ISSUER]) [--by NAME] [--wait SECONDS]`;

function age(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  return `${Math.round(seconds / 3600)}h`;
}

function table(sessions: readonly LiveSession[]): string {
  const now = Date.now();
  const rows = [
    ['SESSION', 'IDENTITY', 'DATABASE', 'GRANT', 'FROM', 'AGE', 'STATEMENTS', 'HELD BY'],
    ...sessions.map((s) => [
      s.id,
      `${s.subject} (${s.issuer})`,
      s.database,
      s.grant,
      s.vpcEndpointId ? `${s.address} via ${s.vpcEndpointId}` : s.address,
      age(now - s.started),
      String(s.statements),
      `${s.writer} pid ${s.pid}`,
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return `${rows
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}

/**
 * `gatehouse sessions`: lists the live sessions of every gateway process that publishes to the
 * registry, and ends sessions (by id, or all of an identity) wherever they run; the kill is recorded
 * in each ended session's audit trail with who asked.
 */
export async function sessionsCommand(argv: string[], write: (text: string) => void): Promise<number> {
  const [action, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      home: { type: 'string', default: '.gatehouse' },
      directory: { type: 'string' },
      table: { type: 'string' },
      region: { type: 'string' },
      endpoint: { type: 'string' },
      json: { type: 'boolean', default: false },
      session: { type: 'string' },
      subject: { type: 'string' },
      issuer: { type: 'string' },
      by: { type: 'string' },
      wait: { type: 'string', default: '10' },
      'fresh-ms': { type: 'string', default: '10000' },
    },
  });
  if (values.table && values.directory) throw new SessionsUsageError('name --directory or --table, not both');
  const registry: SessionRegistry = openSessionRegistry(
    values.table
      ? { dynamodb: { table: values.table, region: values.region, endpoint: values.endpoint } }
      : { directory: path.resolve(values.directory ?? path.join(values.home, 'sessions')) },
  );
  const freshMs = Number(values['fresh-ms']);
  switch (action) {
    case 'list': {
      const sessions = (await registry.list(freshMs)).sort((a, b) => a.started - b.started);
      if (values.json) write(`${JSON.stringify(sessions, null, 2)}\n`);
      else if (sessions.length === 0) write('no live sessions\n');
      else write(table(sessions));
      return 0;
    }
    case 'kill': {
      const target: KillTarget = { session: values.session, subject: values.subject, issuer: values.issuer };
      const problem = validKillTarget(target);
      if (problem) throw new SessionsUsageError(`${problem}\n\n${USAGE}`);
      const waitMs = Number(values.wait) * 1000;
      if (!(waitMs >= 0)) throw new SessionsUsageError('--wait takes a number of seconds');
      const before = (await registry.list(freshMs)).filter((s) => killMatches(target, s));
      const request = await registry.requestKill(target, values.by ?? os.userInfo().username);
      write(
        `kill request ${request.id} recorded (by ${request.requestedBy}); ${before.length} matching session(s) live\n`,
      );
      const deadline = Date.now() + waitMs;
      let remaining = before;
      while (remaining.length > 0 && Date.now() < deadline) {
        await sleep(200);
        const live = new Set((await registry.list(freshMs)).map((s) => s.id));
        remaining = remaining.filter((s) => live.has(s.id));
      }
      for (const ended of before.filter((s) => !remaining.includes(s)))
        write(`ended ${ended.id} (${ended.subject}) on ${ended.writer}\n`);
      for (const left of remaining) write(`still live after ${values.wait}s: ${left.id} on ${left.writer}\n`);
      return remaining.length === 0 ? 0 : 1;
    }
    default:
      throw new SessionsUsageError(USAGE);
  }
}
