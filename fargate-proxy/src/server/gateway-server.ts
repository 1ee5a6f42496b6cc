import net from 'node:net';
import { adoptWithSharedBuffer } from '../io/shared-read-buffer';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import { fatal } from '../protocol/backend-messages';
import { ClientSession, type SessionDependencies } from '../session/client-session';
import { type KillRequest, killMatches, type LiveSession } from '../sessions/session-registry';

export interface GatewayServerOptions {
  host: string;
  port: number;
  maxConnections: number;
  /** The sessions' dependencies; `limits.tcpKeepAliveMs` (config `limits`) also sets TCP keepalive. */
  dependencies: SessionDependencies & { limits: { tcpKeepAliveMs: number } };
  metrics: Metrics;
  log: Logger;
}

/**
 * Accepts client connections in one process and owns their sessions. In cluster mode every worker runs
 * one of these on the shared port; see docs/adr/0001-process-model.md.
 */
export class GatewayServer {
  private readonly server: net.Server;
  private readonly sessions = new Set<ClientSession>();
  private draining = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: GatewayServerOptions) {
    // Paused on connect so that the socket can be re-wrapped to read through the shared buffer.
    this.server = net.createServer({ noDelay: true, pauseOnConnect: true }, (socket) =>
      this.accept(adoptWithSharedBuffer(socket)),
    );
    this.server.on('error', (error) => options.log.error('listener error', { error }));
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host: this.options.host, port: this.options.port }, () => {
        this.server.off('error', reject);
        const address = this.server.address() as net.AddressInfo;
        resolve(address.port);
      });
    });
  }

  private accept(socket: net.Socket): void {
    const { metrics, maxConnections } = this.options;
    metrics.data.connectionsAccepted++;
    // Probes after this long without a packet keep a quiet session alive through the load balancer
    // (which counts them as traffic) and find clients that went away without a FIN.
    const keepAliveMs = this.options.dependencies.limits.tcpKeepAliveMs;
    if (keepAliveMs > 0) socket.setKeepAlive(true, keepAliveMs);
    if (this.draining || this.sessions.size >= maxConnections) {
      metrics.data.connectionsRejected++;
      socket.on('error', () => undefined);
      // Answer in the protocol's terms even before the startup packet, as PostgreSQL does.
      const reason = this.draining
        ? fatal('57P03', 'the gateway is shutting down')
        : fatal('53300', 'sorry, too many clients already');
      socket.end(reason);
      return;
    }
    const session = new ClientSession(socket, this.options.dependencies, (ended) => this.forget(ended));
    this.sessions.add(session);
    session.run().catch((error) => this.options.log.error('session crashed', { error }));
  }

  private forget(session: ClientSession): void {
    this.sessions.delete(session);
    if (this.sessions.size === 0) {
      for (const waiter of this.idleWaiters) waiter();
      this.idleWaiters = [];
    }
  }

  /** The sessions that are relaying, as the live-session registry publishes them. */
  liveSessions(): LiveSession[] {
    const now = Date.now();
    const live: LiveSession[] = [];
    for (const session of this.sessions) {
      const facts = session.liveSession(now);
      if (facts) live.push(facts);
    }
    return live;
  }

  /**
   * Ends the sessions an operator's request names; returns how many. Sessions that started after the
   * request are not its target (to keep an identity out, change the policy).
   */
  kill(request: KillRequest): number {
    let killed = 0;
    for (const session of this.sessions) {
      const facts = session.liveSession(0);
      if (facts && facts.started <= request.time && killMatches(request, facts)) {
        session.kill(request);
        killed++;
      }
    }
    return killed;
  }

  /**
   * Graceful stop: refuse new connections, let sessions finish for up to `drainMs`, then end the rest
   * with 57P01 (as PostgreSQL does on a fast shutdown).
   */
  async drain(drainMs: number): Promise<void> {
    this.draining = true;
    this.server.close();
    if (this.sessions.size > 0) {
      this.options.log.info('draining sessions', { sessions: this.sessions.size, drainMs });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, drainMs);
        this.idleWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    if (this.sessions.size > 0) {
      this.options.log.info('ending remaining sessions', { sessions: this.sessions.size });
      for (const session of this.sessions)
        session.terminate('57P01', 'terminating connection due to administrator command');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 5000);
        this.idleWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}
