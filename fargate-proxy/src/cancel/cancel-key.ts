import { randomBytes } from 'node:crypto';

/**
 * The BackendKeyData the gateway gives each client instead of the upstream server's.
 *
 * processId (Int32, kept positive because some tools mishandle negative pids):
 *   bit 31      0
 *   bits 16-30  instance tag: random per gateway instance, so a cancel that reaches the wrong instance
 *               can be forwarded to the right one
 *   bits 8-15   worker slot in that instance
 *   bits 0-7    random
 * secretKey (Int32): random.
 * Together 40 random bits per session; a wrong key is dropped silently, as PostgreSQL does.
 */
export interface CancelKey {
  processId: number;
  secretKey: number;
}

export const MAX_WORKER_SLOT = 255;
export const INSTANCE_TAG_BITS = 15;

export function randomInstanceTag(): number {
  return randomBytes(2).readUInt16BE(0) & ((1 << INSTANCE_TAG_BITS) - 1);
}

export function newCancelKey(instanceTag: number, workerSlot: number): CancelKey {
  const random = randomBytes(5);
  const processId = ((instanceTag & 0x7fff) << 16) | ((workerSlot & 0xff) << 8) | random[0]!;
  return { processId, secretKey: random.readInt32BE(1) };
}

export function instanceTagOf(processId: number): number {
  return (processId >>> 16) & 0x7fff;
}

export function workerSlotOf(processId: number): number {
  return (processId >>> 8) & 0xff;
}

export function cancelKeyId(processId: number, secretKey: number): string {
  return `${processId}:${secretKey}`;
}
