import type { MetricsSnapshot } from '../observability/metrics';

/** Messages between the primary and its workers (cluster IPC). */
export type WorkerToPrimary =
  | { type: 'listening'; port: number }
  | { type: 'cancel-to-worker'; workerSlot: number; processId: number; secretKey: number }
  | { type: 'cancel-to-peers'; processId: number; secretKey: number }
  | { type: 'status'; requestId: number; metrics: MetricsSnapshot; keysReady: boolean };

export type PrimaryToWorker =
  | { type: 'cancel'; processId: number; secretKey: number }
  | { type: 'status-request'; requestId: number }
  | { type: 'drain'; drainMs: number };
