import type { Logger } from '../observability/logger';
import type { KillRequest, LiveSession, SessionRegistry } from './session-registry';

export interface SessionPublisherOptions {
  registry: SessionRegistry;
  writer: string;
  /** The process's sessions. */
  sessions: { liveSessions(): LiveSession[]; kill(request: KillRequest): number };
  /** How often live sessions are published and kill requests looked for. */
  refreshMs: number;
  log: Logger;
}

/**
 * Keeps one process's entry in the session registry current and carries out operators' kill
 * requests: every `refreshMs` it publishes its live sessions and ends those a new request names. A
 * request is looked for over several periods (a store may show it late) and applied once.
 */
export class SessionPublisher {
  private readonly applied = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private ticking: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: SessionPublisherOptions) {
    this.timer = setInterval(() => void this.tick(), options.refreshMs);
    this.timer.unref();
  }

  private get lookbackMs(): number {
    return this.options.refreshMs * 10;
  }

  /** One round; rounds never overlap (a slow store skips a beat rather than piling up). */
  tick(): Promise<void> {
    this.ticking ??= this.round().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  private async round(): Promise<void> {
    const { registry, writer, sessions, log } = this.options;
    try {
      if (this.stopped) return;
      await registry.publish(writer, sessions.liveSessions());
      const now = Date.now();
      for (const request of await registry.killRequestsSince(now - this.lookbackMs)) {
        if (this.applied.has(request.id)) continue;
        this.applied.set(request.id, request.time);
        const ended = sessions.kill(request);
        if (ended > 0)
          log.info('kill request applied', { request: request.id, by: request.requestedBy, ended });
      }
      for (const [id, time] of this.applied) if (time < now - 2 * this.lookbackMs) this.applied.delete(id);
    } catch (error) {
      log.warn('session registry unreachable', { error });
    }
  }

  /** Stops, and withdraws this process's sessions from the registry. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.ticking;
    this.stopped = true;
    try {
      await this.options.registry.publish(this.options.writer, []);
    } catch (error) {
      this.options.log.warn('session registry unreachable', { error });
    }
  }
}
