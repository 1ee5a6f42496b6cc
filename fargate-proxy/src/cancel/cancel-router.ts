import { cancelKeyId, instanceTagOf, workerSlotOf } from './cancel-key';

/** Something that can cancel the statement running in one session (forward a cancel upstream). */
export type CancelTarget = () => void;

/** Where a cancel that does not belong to this worker goes: another worker, or another instance. */
export interface CancelForwarder {
  toWorker(workerSlot: number, processId: number, secretKey: number): void;
  toPeers(processId: number, secretKey: number): void;
}

/**
 * Routes CancelRequests. Each worker registers its sessions' keys; a cancel that names another worker of
 * this instance, or another instance, is forwarded there. Unknown keys are dropped without an answer.
 */
export class CancelRouter {
  private readonly sessions = new Map<string, CancelTarget>();

  constructor(
    readonly instanceTag: number,
    readonly workerSlot: number,
    private readonly forwarder?: CancelForwarder,
  ) {}

  register(processId: number, secretKey: number, target: CancelTarget): () => void {
    const id = cancelKeyId(processId, secretKey);
    this.sessions.set(id, target);
    return () => {
      if (this.sessions.get(id) === target) this.sessions.delete(id);
    };
  }

  has(processId: number, secretKey: number): boolean {
    return this.sessions.has(cancelKeyId(processId, secretKey));
  }

  /** A cancel that arrived from a client, on any worker. */
  route(processId: number, secretKey: number): 'local' | 'worker' | 'peer' | 'dropped' {
    if (instanceTagOf(processId) !== this.instanceTag) {
      if (!this.forwarder) return 'dropped';
      this.forwarder.toPeers(processId, secretKey);
      return 'peer';
    }
    const slot = workerSlotOf(processId);
    if (slot !== this.workerSlot) {
      if (!this.forwarder) return 'dropped';
      this.forwarder.toWorker(slot, processId, secretKey);
      return 'worker';
    }
    return this.deliver(processId, secretKey) ? 'local' : 'dropped';
  }

  /** A cancel forwarded to this worker: only ever delivered here, never forwarded again. */
  deliver(processId: number, secretKey: number): boolean {
    const target = this.sessions.get(cancelKeyId(processId, secretKey));
    if (!target) return false;
    target();
    return true;
  }
}
