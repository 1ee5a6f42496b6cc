import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { KillRequest, KillTarget, LiveSession, SessionRegistry } from './session-registry';

/**
 * The registry in a directory (local mode, one machine): one file per writer with its live sessions,
 * replaced atomically at each publish, and one file per kill request.
 */
export class LocalSessionRegistry implements SessionRegistry {
  constructor(private readonly directory: string) {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
  }

  async publish(writer: string, sessions: readonly LiveSession[]): Promise<void> {
    const file = path.join(this.directory, `live-${writer}.json`);
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(sessions), { mode: 0o600 });
    renameSync(temporary, file);
  }

  async list(freshMs: number): Promise<LiveSession[]> {
    const oldest = Date.now() - freshMs;
    return this.files(/^live-.+\.json$/)
      .flatMap((file) => this.read<LiveSession[]>(file) ?? [])
      .filter((session) => session.updated >= oldest);
  }

  async requestKill(target: KillTarget, requestedBy: string): Promise<KillRequest> {
    const request: KillRequest = { id: randomUUID(), time: Date.now(), requestedBy, ...target };
    const file = path.join(this.directory, `kill-${request.time}-${request.id}.json`);
    writeFileSync(`${file}.tmp`, JSON.stringify(request), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
    return request;
  }

  async killRequestsSince(time: number): Promise<KillRequest[]> {
    return this.files(/^kill-\d+-[0-9a-f-]+\.json$/)
      .map((file) => this.read<KillRequest>(file))
      .filter((request): request is KillRequest => request !== undefined && request.time > time)
      .sort((a, b) => a.time - b.time);
  }

  private files(pattern: RegExp): string[] {
    return readdirSync(this.directory).filter((name) => pattern.test(name));
  }

  /** A file that vanished or is half-written (it is renamed into place, so rarely) reads as absent. */
  private read<T>(name: string): T | undefined {
    try {
      return JSON.parse(readFileSync(path.join(this.directory, name), 'utf8')) as T;
    } catch {
      return undefined;
    }
  }
}
