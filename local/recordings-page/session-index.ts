import type { AuditRecord, SessionEndRecord, SessionStartRecord } from '../../core/audit/records';
import { readLocalStore } from '../../fargate-proxy/src/audit/local-store';
import { readLocalRecordings } from '../../fargate-proxy/src/recording/local-recordings';
import { type ReplayEvent, recordedSessions, replaySession } from '../../fargate-proxy/src/recording/replay';

/** One session as the page lists it: from its audit records, and whether it was recorded. */
export interface SessionSummary {
  id: string;
  /** Microseconds since the epoch. */
  start: number;
  subject?: string;
  issuer?: string;
  database: string;
  address: string;
  grant?: string;
  statements?: number;
  endReason?: string;
  recorded: boolean;
}

function records(store: string): AuditRecord[] {
  const out: AuditRecord[] = [];
  for (const writer of readLocalStore(store)) {
    for (const bytes of writer.chunks.values()) {
      for (const line of bytes.toString('utf8').split('\n')) {
        if (line === '') continue;
        try {
          out.push(JSON.parse(line) as AuditRecord);
        } catch {
          // A torn last line of a crashed writer's spool: `gatehouse verify` reports it.
        }
      }
    }
  }
  return out;
}

/** The admitted sessions of a local store, newest first. */
export function listSessions(store: string): SessionSummary[] {
  const recorded = recordedSessions(readLocalRecordings(store));
  const ends = new Map<string, SessionEndRecord>();
  const starts: SessionStartRecord[] = [];
  for (const record of records(store)) {
    if (record.type === 'session-end') ends.set(record.session, record);
    else if (record.type === 'session-start' && record.authentication === 'accepted') starts.push(record);
  }
  return starts
    .map((start) => ({
      id: start.session,
      start: start.time,
      subject: start.identity?.subject,
      issuer: start.identity?.issuer,
      database: start.database,
      address: start.source.address,
      grant: start.grant,
      statements: ends.get(start.session)?.statements,
      endReason: ends.get(start.session)?.reason,
      recorded: recorded.has(start.session),
    }))
    .sort((a, b) => b.start - a.start);
}

export function sessionEvents(store: string, session: string): ReplayEvent[] {
  return replaySession(readLocalRecordings(store), session);
}
