import cluster, { type Worker } from 'node:cluster';
import type http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { loadParser } from '../../../core/sql/parser';
import { instanceTagOf, randomInstanceTag, workerSlotOf } from '../cancel/cancel-key';
import { type HostResolver, peerDirectoryFor } from '../cancel/peer-directory';
import { type GatewayConfig, workerSettingsToEnv } from '../config';
import type { Logger } from '../observability/logger';
import {
  emptySnapshot,
  type MetricsSnapshot,
  sumSnapshots,
  toEmbeddedMetric,
} from '../observability/metrics';
import type { StatementGate } from '../session/statement-gate';
import type { CredentialSource } from '../upstream/credential-source';
import { createGatewayProcess } from './gateway-process';
import { canReach, type ReadinessReport, startHealthServer } from './health-server';
import type { PrimaryToWorker, WorkerToPrimary } from './ipc';
import { PeerCancelForwarder, startPeerCancelListener } from './peer-cancel';
import { checkStartupPrerequisites } from './startup-checks';

export interface RunningGateway {
  /** The port clients connect to. */
  port: number;
  healthPort?: number;
  peerPort?: number;
  instanceTag: number;
  /** Drains every session (up to the configured drain period) and stops. */
  stop(): Promise<void>;
}

export interface StartOptions {
  log: Logger;
  /** Extra environment for worker processes (e.g. the upstream password in local mode). */
  workerEnv?: Record<string, string>;
  /** In-process mode only: a statement gate and a credential source to use. */
  gate?: StatementGate;
  credentials?: CredentialSource;
  /**
   * The DNS look-up of `cancel.peerDiscovery` (tests point it at loopback addresses).
   *
   * @default the system's DNS servers
   */
  peerResolver?: HostResolver;
}

interface Backend {
  port: number;
  deliverCancel(workerSlot: number, processId: number, secretKey: number): void;
  status(): Promise<{ metrics: MetricsSnapshot; keysReady: boolean; workers: number }>;
  drain(drainMs: number): Promise<void>;
}

/** workers = 0: the gateway serves from this process (tests, small deployments). */
async function startInProcess(
  config: GatewayConfig,
  instanceTag: number,
  options: StartOptions,
  peers: PeerCancelForwarder,
): Promise<Backend> {
  const gateway = await createGatewayProcess({
    config,
    workerSlot: 0,
    instanceTag,
    log: options.log,
    gate: options.gate,
    credentials: options.credentials,
    forwarder: {
      toWorker: () => undefined, // there is only slot 0
      toPeers: (processId, secretKey) => void peers.forward(processId, secretKey),
    },
  });
  await Promise.all([gateway.verifier.hydrate(), loadParser()]);
  const port = await gateway.server.listen();
  return {
    port,
    deliverCancel: (_slot, processId, secretKey) => void gateway.cancelRouter.deliver(processId, secretKey),
    status: async () => {
      if (!gateway.verifier.ready) await gateway.verifier.hydrate();
      return { metrics: gateway.metrics.snapshot(), keysReady: gateway.verifier.ready, workers: 1 };
    },
    drain: async (drainMs) => {
      await gateway.server.drain(drainMs);
      await gateway.close();
    },
  };
}

/** workers > 0: one forked worker per slot, sharing the listening port through the cluster module. */
async function startCluster(
  config: GatewayConfig,
  instanceTag: number,
  options: StartOptions,
  peers: PeerCancelForwarder,
): Promise<Backend> {
  const { log } = options;
  const workers = new Map<number, Worker>();
  let stopping = false;
  let nextRequest = 1;
  const pending = new Map<number, { replies: WorkerToPrimary[]; expected: number; done: () => void }>();
  cluster.setupPrimary({
    exec: path.join(__dirname, '..', 'worker.js'),
    execArgv: [...process.execArgv, `--max-semi-space-size=${config.workerSemiSpaceMb}`],
    silent: false,
  });

  let resolvePort: (port: number) => void = () => undefined;
  const firstPort = new Promise<number>((resolve) => {
    resolvePort = resolve;
  });
  let listening = 0;

  const sendTo = (slot: number, message: PrimaryToWorker) => {
    const worker = workers.get(slot);
    if (worker?.isConnected()) worker.send(message);
  };

  const fork = (slot: number) => {
    const worker = cluster.fork({
      ...options.workerEnv,
      ...workerSettingsToEnv({ config, workerSlot: slot, instanceTag }),
    });
    workers.set(slot, worker);
    worker.on('message', (message: WorkerToPrimary) => {
      switch (message.type) {
        case 'listening':
          listening++;
          if (listening >= config.workers) resolvePort(message.port);
          break;
        case 'cancel-to-worker':
          sendTo(message.workerSlot, {
            type: 'cancel',
            processId: message.processId,
            secretKey: message.secretKey,
          });
          break;
        case 'cancel-to-peers':
          void peers.forward(message.processId, message.secretKey);
          break;
        case 'status': {
          const request = pending.get(message.requestId);
          if (request) {
            request.replies.push(message);
            if (request.replies.length >= request.expected) request.done();
          }
          break;
        }
      }
    });
    worker.on('exit', (code, signal) => {
      if (workers.get(slot) === worker) workers.delete(slot);
      if (stopping) return;
      log.error('worker exited; starting a new one', { slot, code, signal });
      setTimeout(() => fork(slot), 500).unref();
    });
  };
  for (let slot = 0; slot < config.workers; slot++) fork(slot);
  const port = await firstPort;

  return {
    port,
    deliverCancel: (slot, processId, secretKey) => sendTo(slot, { type: 'cancel', processId, secretKey }),
    status: () =>
      new Promise((resolve) => {
        const requestId = nextRequest++;
        const live = [...workers.values()].filter((w) => w.isConnected());
        const finish = () => {
          pending.delete(requestId);
          const replies = request.replies.filter(
            (r): r is Extract<WorkerToPrimary, { type: 'status' }> => r.type === 'status',
          );
          resolve({
            metrics: replies.length ? sumSnapshots(replies.map((r) => r.metrics)) : emptySnapshot(),
            keysReady: replies.length > 0 && replies.every((r) => r.keysReady),
            workers: replies.length,
          });
        };
        const request = { replies: [] as WorkerToPrimary[], expected: live.length, done: finish };
        pending.set(requestId, request);
        if (live.length === 0) return finish();
        for (const worker of live)
          worker.send({ type: 'status-request', requestId } satisfies PrimaryToWorker);
        setTimeout(finish, 2000).unref();
      }),
    drain: async (drainMs) => {
      stopping = true;
      const exits = [...workers.values()].map(
        (worker) => new Promise<void>((resolve) => worker.once('exit', () => resolve())),
      );
      for (const worker of workers.values())
        if (worker.isConnected()) worker.send({ type: 'drain', drainMs } satisfies PrimaryToWorker);
      await Promise.race([
        Promise.all(exits),
        new Promise((resolve) => setTimeout(resolve, drainMs + 10_000)),
      ]);
      for (const worker of workers.values()) worker.process.kill('SIGKILL');
    },
  };
}

/**
 * Starts the gateway: the workers (or the in-process server), the health/metrics endpoint, the peer
 * cancel port and the embedded-metric log lines. See docs/adr/0001-process-model.md.
 */
export async function startGateway(config: GatewayConfig, options: StartOptions): Promise<RunningGateway> {
  const { log } = options;
  // Fail fast, before any worker starts, on a policy that does not load (the error names file:line) or
  // cannot be fetched, and on a TLS certificate that cannot be had.
  await checkStartupPrerequisites(config, log);
  const instanceTag = randomInstanceTag();
  // Cancels for other instances are forwarded from here (workers ask over IPC), so one directory, and
  // one DNS cache, serves every worker.
  const peers = new PeerCancelForwarder(
    peerDirectoryFor(config.cancel, log, { resolver: options.peerResolver }),
    log,
  );
  const backend =
    config.workers === 0
      ? await startInProcess(config, instanceTag, options, peers)
      : await startCluster(config, instanceTag, options, peers);

  let upstreamReachable = { at: 0, ok: false };
  const readiness = async (): Promise<ReadinessReport> => {
    if (Date.now() - upstreamReachable.at > 5000) {
      upstreamReachable = {
        at: Date.now(),
        ok: await canReach(config.upstream.host, config.upstream.port, 2000),
      };
    }
    const status = await backend.status();
    const checks = {
      upstream: upstreamReachable.ok,
      tokenKeys: status.keysReady,
      workers: status.workers === Math.max(1, config.workers),
      accepting: !stopped,
    };
    return { ready: Object.values(checks).every(Boolean), checks };
  };
  let stopped = false;

  let health: http.Server | undefined;
  if (config.health.port !== undefined) {
    health = await startHealthServer(config.health.host, config.health.port, {
      metrics: async () => (await backend.status()).metrics,
      readiness,
    });
  }
  let peer: net.Server | undefined;
  if (config.cancel.peerPort !== undefined) {
    peer = await startPeerCancelListener(
      config.cancel.peerHost,
      config.cancel.peerPort,
      (processId, secretKey) => {
        // Only cancels for this instance are delivered; others are dropped, never forwarded again.
        if (instanceTagOf(processId) === instanceTag)
          backend.deliverCancel(workerSlotOf(processId), processId, secretKey);
      },
      log,
    );
  }
  let emfTimer: NodeJS.Timeout | undefined;
  if (config.health.emfIntervalMs > 0) {
    let previous = emptySnapshot();
    emfTimer = setInterval(() => {
      backend.status().then(({ metrics }) => {
        process.stdout.write(`${JSON.stringify(toEmbeddedMetric(metrics, previous))}\n`);
        previous = metrics;
      });
    }, config.health.emfIntervalMs);
    emfTimer.unref();
  }

  const address = (server: net.Server | http.Server | undefined) => {
    const a = server?.address();
    return a && typeof a === 'object' ? a.port : undefined;
  };
  const running: RunningGateway = {
    port: backend.port,
    healthPort: address(health),
    peerPort: address(peer),
    instanceTag,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      if (emfTimer) clearInterval(emfTimer);
      log.info('gateway stopping', { drainMs: config.drainMs });
      peer?.close();
      await backend.drain(config.drainMs);
      health?.close();
      log.info('gateway stopped');
    },
  };
  log.info('gateway listening', {
    port: running.port,
    workers: config.workers,
    healthPort: running.healthPort,
    peerPort: running.peerPort,
    instanceTag,
  });
  return running;
}
