/** A live session as every gateway instance and an operator see it. Times in ms since the epoch. */
export interface LiveSession {
  id: string;
  /** The audit writer (instance and worker slot) whose process holds the session. */
  writer: string;
  pid: number;
  issuer: string;
  subject: string;
  database: string;
  grant: string;
  address: string;
  vpcEndpointId?: string;
  started: number;
  statements: number;
  bytesIn: number;
  bytesOut: number;
  /** When the holding process last published it. */
  updated: number;
}

/** An operator's request to end sessions: one by id, or every session of an identity. */
export interface KillRequest {
  id: string;
  /** ms since the epoch. */
  time: number;
  requestedBy: string;
  session?: string;
  subject?: string;
  /** With `subject`: only that issuer's identity (default: the subject under any issuer). */
  issuer?: string;
}

export type KillTarget = Pick<KillRequest, 'session' | 'subject' | 'issuer'>;

/**
 * Where live sessions and kill requests are kept so that every gateway instance and an operator can
 * read them: a directory in local mode, a DynamoDB table in AWS.
 */
export interface SessionRegistry {
  /** Replaces what `writer` published before with `sessions` (its live sessions now). */
  publish(writer: string, sessions: readonly LiveSession[]): Promise<void>;
  /** Sessions published within `freshMs`; older entries are of a process that died. */
  list(freshMs: number): Promise<LiveSession[]>;
  requestKill(target: KillTarget, requestedBy: string): Promise<KillRequest>;
  /** Kill requests made after `time` (ms since the epoch), oldest first. */
  killRequestsSince(time: number): Promise<KillRequest[]>;
}

/** Whether a kill request names a session. */
export function killMatches(
  request: KillTarget,
  session: Pick<LiveSession, 'id' | 'subject' | 'issuer'>,
): boolean {
  if (request.session !== undefined) return request.session === session.id;
  if (request.subject === undefined || request.subject !== session.subject) return false;
  return request.issuer === undefined || request.issuer === session.issuer;
}

/** Checks a kill target from an operator: exactly one of session or subject. */
export function validKillTarget(target: KillTarget): string | undefined {
  if ((target.session === undefined) === (target.subject === undefined))
    return 'name either a session (--session) or an identity (--subject)';
  if (target.issuer !== undefined && target.subject === undefined) return '--issuer goes with --subject';
  return undefined;
}
