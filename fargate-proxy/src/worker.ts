import { loadParser } from '../../core/sql/parser';
import { loadWorkerSettingsFromEnv } from './config';
import { createLogger } from './observability/logger';
import { createGatewayProcess } from './server/gateway-process';
import type { PrimaryToWorker, WorkerToPrimary } from './server/ipc';

/**
 * Entry point of one gateway worker process, forked by the primary (cluster.ts). The worker owns the
 * sessions it accepts; it asks the primary to forward cancels that belong elsewhere.
 */
async function main(): Promise<void> {
  const { config, workerSlot, instanceTag } = loadWorkerSettingsFromEnv();
  const log = createLogger(config.logLevel, { worker: workerSlot });
  const send = (message: WorkerToPrimary) => process.send?.(message);
  const gateway = await createGatewayProcess({
    config,
    workerSlot,
    instanceTag,
    log,
    forwarder: {
      toWorker: (slot, processId, secretKey) =>
        send({ type: 'cancel-to-worker', workerSlot: slot, processId, secretKey }),
      toPeers: (processId, secretKey) => send({ type: 'cancel-to-peers', processId, secretKey }),
    },
  });
  await Promise.all([gateway.verifier.hydrate(), loadParser()]);
  let draining = false;
  const drain = async (drainMs: number) => {
    if (draining) return;
    draining = true;
    await gateway.server.drain(drainMs);
    await gateway.close(); // the last audit digest
    process.exit(0);
  };
  // Signals go to the primary, which drains the workers; a terminal's Ctrl-C must not kill sessions abruptly.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => undefined);
  process.on('disconnect', () => void drain(config.drainMs));
  process.on('message', (message: PrimaryToWorker) => {
    if (message.type === 'cancel') gateway.cancelRouter.deliver(message.processId, message.secretKey);
    else if (message.type === 'status-request') {
      send({
        type: 'status',
        requestId: message.requestId,
        metrics: gateway.metrics.snapshot(),
        keysReady: gateway.verifier.ready,
      });
      if (!gateway.verifier.ready) void gateway.verifier.hydrate();
    } else if (message.type === 'drain') void drain(message.drainMs);
  });
  const port = await gateway.server.listen();
  send({ type: 'listening', port });
}

main().catch((error) => {
  process.stderr.write(`gateway worker failed to start: ${(error as Error).message}\n`);
  process.exit(1);
});
