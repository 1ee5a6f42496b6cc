import { randomUUID } from 'node:crypto';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type { AuditWriter } from '../audit/audit-writer';
import { SessionAudit } from '../audit/session-audit';
import type { StatementTracker } from '../audit/statement-tracker';
import type { FailureThrottle } from '../auth/failure-throttle';
import type { TokenVerifier, VerifiedIdentity } from '../auth/token-verifier';
import { TokenRejectedError } from '../auth/token-verifier';
import { newCancelKey } from '../cancel/cancel-key';
import type { CancelRouter } from '../cancel/cancel-router';
import { PeerClosedError } from '../io/stream-reader';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import type { AdmittedSession, PolicyEngine } from '../policy/policy-engine';
import {
  authenticationOk,
  backendKeyData,
  parameterStatus,
  readyForQuery,
} from '../protocol/backend-messages';
import { HEADER_LENGTH } from '../protocol/codes';
import { decodeErrorFields } from '../protocol/error-fields';
import { InvalidStartupLengthError } from '../protocol/startup-packet';
import type { KillRequest, LiveSession } from '../sessions/session-registry';
import type { CredentialSource } from '../upstream/credential-source';
import {
  connectUpstream,
  sendUpstreamCancel,
  type UpstreamEndpoint,
  UpstreamError,
  type UpstreamSession,
} from '../upstream/upstream-connection';
import { type ClientStart, type HandshakeOptions, performHandshake } from './handshake';
import type { IdleSweeper } from './idle-sweeper';
import { Relay, type RelayLimits } from './relay';
import { SessionError } from './session-errors';
import { ApprovalOutcomes, endAfterWithdrawal, startupFailure } from './session-outcomes';
import type { StatementGate } from './statement-gate';
import { forwardedParameters } from './upstream-parameters';

export interface SessionDependencies {
  handshake: HandshakeOptions;
  limits: RelayLimits & { authTimeoutMs: number };
  verifier: TokenVerifier;
  credentials: CredentialSource;
  upstream: UpstreamEndpoint;
  cancelRouter: CancelRouter;
  policy: PolicyEngine;
  audit: AuditWriter;
  authThrottle: FailureThrottle;
  /** Replaces the policy's statement decisions (tests of the refusal mechanism). */
  gate?: StatementGate;
  idle: IdleSweeper;
  metrics: Metrics;
  log: Logger;
}

const NOTHING = Buffer.alloc(0);
/** The server setting a held statement must stay within (see ApprovalStage.holdLimitMs). */
const IDLE_IN_TRANSACTION = 'idle_in_transaction_session_timeout';

/**
 * One client connection, from accept to close: handshake, token, upstream session, greeting, relay.
 * Anything that goes wrong before the relay starts reaches the client as one FATAL with a real SQLSTATE.
 */
export class ClientSession {
  readonly id = randomUUID();
  private relay: Relay | undefined;
  /** The upstream socket, for cleanup; the rest of the upstream session is not kept (memory per session). */
  private upstreamSocket: Duplex | undefined;
  private stream: Duplex;
  private ended = false;
  private admitted: AdmittedSession | undefined;
  /** Set once the startup packet and token are in: from then on the session is audited. */
  private audit: SessionAudit | undefined;
  private database = '';
  private identity: VerifiedIdentity | undefined;
  private authFailure: string | undefined;
  private lifetime: NodeJS.Timeout | undefined;
  private readonly log: Logger;
  /** Once the relay runs: the facts the live-session registry publishes, counters read when asked. */
  private live:
    | {
        facts: Omit<LiveSession, 'statements' | 'bytesIn' | 'bytesOut' | 'updated'>;
        counters?: StatementTracker;
      }
    | undefined;
  /** Why the gateway ended the session, when it says more than the relay knows (an operator's kill). */
  private endReason: string | undefined;

  constructor(
    private readonly socket: net.Socket,
    private readonly deps: SessionDependencies,
    private readonly onEnd: (session: ClientSession) => void,
  ) {
    this.stream = socket;
    this.log = deps.log.child({ session: this.id, client: socket.remoteAddress });
    socket.setNoDelay(true);
    socket.on('error', () => undefined); // reported through close; never crash the process
  }

  async run(): Promise<void> {
    const authTimer = setTimeout(
      () => this.failStartup(new SessionError('57014', 'canceling authentication due to timeout')),
      this.deps.limits.authTimeoutMs,
    );
    try {
      const result = await performHandshake(this.socket, this.deps.handshake, (stream) => {
        this.stream = stream;
      });
      if (result.kind === 'cancel') {
        clearTimeout(authTimer);
        this.deps.metrics.data.cancelRequests++;
        const routed = this.deps.cancelRouter.route(
          result.processId,
          result.secretKey.length === 4 ? result.secretKey.readInt32BE(0) : 0,
        );
        this.log.info('cancel request', { routed });
        this.finish();
        return;
      }
      if (result.kind === 'health-check') {
        clearTimeout(authTimer);
        this.finish();
        return;
      }
      this.stream = result.stream;
      const database = result.parameters.get('database') || result.parameters.get('user')!;
      this.database = database;
      this.audit = new SessionAudit(this.deps.audit, this.id, {
        address: this.sourceAddress(result),
        vpcEndpointId: result.proxy?.vpcEndpointId,
      });
      const identity = await this.authenticate(result);
      this.identity = identity;
      const admitted = this.deps.policy.admit(identity, database, (sqlstate, message) =>
        this.terminate(sqlstate, message),
      );
      this.admitted = admitted;
      if (this.ended) {
        this.finish();
        return;
      }
      const upstream = await this.openUpstream(result, database, identity, admitted);
      if (this.ended) {
        upstream.socket.destroy();
        return;
      }
      clearTimeout(authTimer);
      this.startRelay(result, upstream, identity, database, admitted);
    } catch (error) {
      clearTimeout(authTimer);
      this.failStartup(error);
    }
  }

  /** The client's address as the gateway knows it: from the PROXY header behind a load balancer. */
  private sourceAddress(start: ClientStart): string {
    return start.proxy?.sourceAddress ?? this.socket.remoteAddress ?? 'unknown';
  }

  private async authenticate(start: ClientStart): Promise<VerifiedIdentity> {
    const source = this.sourceAddress(start);
    const { authThrottle, metrics } = this.deps;
    if (authThrottle.blocked(source)) {
      metrics.data.authFailures++;
      this.authFailure = 'throttled';
      this.log.warn('token refused unchecked: too many failures from this source', { source });
      throw new SessionError(
        '28000',
        'too many failed authentication attempts from this address; try again later',
      );
    }
    try {
      const identity = await this.deps.verifier.verify(start.token);
      this.log.info('token accepted', {
        issuer: identity.issuer,
        subject: identity.subject,
        claims: identity.identityClaims,
        tls: start.tls,
      });
      return identity;
    } catch (error) {
      metrics.data.authFailures++;
      authThrottle.record(source);
      const reason = error instanceof TokenRejectedError ? error.reason : 'keys-unavailable';
      this.authFailure = reason;
      const message = error instanceof TokenRejectedError ? error.message : 'token could not be verified';
      this.log.warn('token rejected', { reason, source, startupUser: start.parameters.get('user') });
      throw new SessionError('28000', `authentication failed: ${message}`, {
        detail: `check failed: ${reason}`,
      });
    }
  }

  private async openUpstream(
    start: ClientStart,
    database: string,
    identity: VerifiedIdentity,
    admitted: AdmittedSession,
  ): Promise<UpstreamSession> {
    const parameters = forwardedParameters(start.parameters, database, admitted.policy.grant);
    Object.assign(parameters, admitted.settings);
    let credential = await this.deps.credentials.get();
    // The token decides who the client is; the startup user may only name that identity or the role
    // it will get. Anything else is a client asking for a role it will not get: refuse, do not substitute.
    const requested = start.parameters.get('user')!;
    const role = admitted.policy.grant.role ?? credential.user;
    if (requested !== identity.subject && requested !== role && requested !== credential.user) {
      throw new SessionError(
        '28000',
        `role "${requested}" is not available to identity "${identity.subject}"`,
        {
          hint: 'Connect with the token subject or the granted role as the user name.',
        },
      );
    }
    // A grant whose statements may wait for approval keeps its holds within the server's limit.
    const read = admitted.policy.holdsStatements ? [IDLE_IN_TRANSACTION] : [];
    try {
      return await connectUpstream(this.deps.upstream, credential, parameters, read);
    } catch (error) {
      if (!(error instanceof UpstreamError) || error.failure !== 'authentication') throw error;
      // The secret may have been rotated: read it again once.
      this.deps.credentials.invalidate();
      credential = await this.deps.credentials.get();
      return await connectUpstream(this.deps.upstream, credential, parameters, read);
    }
  }

  private startRelay(
    start: ClientStart,
    upstream: UpstreamSession,
    identity: VerifiedIdentity,
    database: string,
    admitted: AdmittedSession,
  ): void {
    this.upstreamSocket = upstream.socket;
    const { cancelRouter } = this.deps;
    let key = newCancelKey(cancelRouter.instanceTag, cancelRouter.workerSlot);
    while (cancelRouter.has(key.processId, key.secretKey))
      key = newCancelKey(cancelRouter.instanceTag, cancelRouter.workerSlot);
    const { processId, secretKey } = upstream;
    const cancelUpstream = () => {
      // A statement held for approval has not reached the server: it is cancelled at the gateway.
      if (admitted.policy.cancelHeld()) return;
      sendUpstreamCancel(this.deps.upstream, processId, secretKey).catch((error) =>
        this.log.warn('cancel forward failed', { error }),
      );
    };
    const unregister = cancelRouter.register(key.processId, key.secretKey, cancelUpstream);
    const greeting = [authenticationOk()];
    for (const [name, value] of upstream.parameters) greeting.push(parameterStatus(name, value));
    greeting.push(backendKeyData(key.processId, key.secretKey), readyForQuery('I'));
    this.stream.write(Buffer.concat(greeting));
    this.deps.metrics.data.connectionsActive++;
    const maxSeconds = admitted.policy.grant.limits.maxSessionSeconds;
    if (maxSeconds !== undefined) {
      this.lifetime = setTimeout(
        () =>
          this.terminate(
            '57P01',
            `terminating connection: the session reached the ${maxSeconds} s limit of its grant`,
          ),
        maxSeconds * 1000,
      );
    }
    this.log.info('session started', {
      subject: identity.subject,
      grant: admitted.policy.grant.name,
      database,
      vpce: start.proxy?.vpcEndpointId,
      application: start.parameters.get('application_name'),
    });
    const grant = admitted.policy.grant;
    const relayAudit = this.audit?.accepted(
      identity,
      database,
      { grant: grant.name, role: grant.role, policyDigest: this.deps.policy.policy.digest },
      grant.audit,
    );
    this.live = {
      facts: {
        id: this.id,
        writer: this.deps.audit.writer,
        pid: process.pid,
        issuer: identity.issuer,
        subject: identity.subject,
        database,
        grant: grant.name,
        address: this.socket.remoteAddress ?? '',
        vpcEndpointId: start.proxy?.vpcEndpointId,
        started: Date.now(),
      },
      counters: relayAudit?.tracker,
    };
    admitted.policy.idleInTransactionMs = Number(upstream.settings.get(IDLE_IN_TRANSACTION) ?? 0);
    const outcomes = new ApprovalOutcomes(this.deps.metrics);
    admitted.policy.onApproval = (event) => {
      outcomes.count(event.id, event.event);
      this.audit?.approval(event);
    };
    this.relay = new Relay({
      client: this.stream,
      upstream: upstream.socket,
      limits: this.deps.limits,
      gate: this.deps.gate ?? admitted.policy,
      metrics: this.deps.metrics,
      log: this.log,
      idle: this.deps.idle,
      audit: relayAudit,
      onClose: (reason) => {
        this.live = undefined;
        unregister();
        this.deps.metrics.data.connectionsActive--;
        const end = () => {
          this.audit?.end(this.endReason ?? reason);
          this.log.info('session ended');
          this.finish();
        };
        // A statement still waiting for approval withdraws its request first, so the session's trail
        // says how the request ended before the session's end.
        endAfterWithdrawal(admitted.policy.close(), end, this.log);
      },
    });
    const relay = this.relay;
    admitted.policy.inTransaction = () => relay.inTransaction;
    this.relay.start(start.leftover, upstream.pending);
    upstream.pending = NOTHING;
  }

  /** What the live-session registry shows of this session; undefined until it relays. */
  liveSession(now: number): LiveSession | undefined {
    if (!this.live) return undefined;
    const { facts, counters } = this.live;
    return {
      ...facts,
      statements: counters?.executed ?? 0,
      bytesIn: counters?.bytesIn ?? 0,
      bytesOut: counters?.bytesOut ?? 0,
      updated: now,
    };
  }

  /** An operator's kill request: the session ends at once, and its audit trail says who asked. */
  kill(request: KillRequest): void {
    this.endReason = `killed by ${request.requestedBy} (request ${request.id})`;
    this.log.info('session killed by an operator', { request: request.id, by: request.requestedBy });
    this.terminate('57P01', `terminating connection: ended by an operator (request ${request.id})`);
  }

  /** Ends the session from the gateway side (drain, admin); a session still starting is just closed. */
  terminate(sqlstate: string, message: string): void {
    if (this.relay) this.relay.terminate(sqlstate, message);
    else this.failStartup(new SessionError(sqlstate, message));
  }

  private failStartup(error: unknown): void {
    if (this.ended) return;
    if (error instanceof PeerClosedError) {
      this.audit?.refused(
        this.database,
        this.authFailure ?? 'client-disconnected',
        { sqlstate: '08006', message: 'the client closed the connection' },
        this.identity,
      );
      this.finish();
      return;
    }
    if (error instanceof InvalidStartupLengthError) {
      this.deps.metrics.data.protocolErrors++;
      this.log.warn('closing connection', { reason: error.message });
      this.socket.destroy();
      this.finish();
      return;
    }
    const message = startupFailure(error, this.deps.metrics, this.log);
    this.deps.metrics.data.connectionsRejected++;
    const sent = decodeErrorFields(message.subarray(HEADER_LENGTH));
    this.audit?.refused(
      this.database,
      this.authFailure ?? (this.identity ? 'refused' : 'failed'),
      { sqlstate: sent.code, message: sent.message },
      this.identity,
    );
    // Half-close and keep discarding what the client still sends: closing with unread input would reset
    // the connection, and the client could lose the error before reading it.
    this.stream.on('data', () => undefined);
    this.stream.resume();
    this.stream.end(message);
    setTimeout(() => this.socket.destroy(), 1000).unref();
    this.upstreamSocket?.destroy();
    this.finish();
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.lifetime);
    this.admitted?.release();
    if (!this.relay) this.stream.end();
    this.onEnd(this);
  }
}
