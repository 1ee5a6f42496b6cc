import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Digest } from '../../../core/audit/digest';

/** What one self-check found: files compared, and those changed or gone before they were shipped. */
export interface SelfCheckResult {
  checked: number;
  problems: string[];
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The writer's own check of what waits on its disk: every digest this process wrote, and every file
 * those digests list, is hashed again and compared with what was signed, until the shipper has
 * moved it to the store (where Object Lock keeps it). The local spool is the one place a file can be
 * changed after it was signed and before it is out of reach; this notices it within a period,
 * rather than at the next `gatehouse verify`.
 */
export class AuditSelfCheck {
  /** Signed files of this process still on the local disk: name → SHA-256 as signed. */
  private readonly signed = new Map<string, string>();

  constructor(private readonly directory: string) {}

  /** A digest was written: it and the files it lists are checked from now on. */
  digestWritten(name: string, bytes: Buffer, digest: Digest): void {
    this.signed.set(name, sha256(bytes));
    for (const file of [...digest.chunks, ...(digest.recordings ?? [])])
      this.signed.set(file.name, file.sha256);
  }

  check(): SelfCheckResult {
    const problems: string[] = [];
    let checked = 0;
    for (const [name, expected] of this.signed) {
      const file = path.join(this.directory, name);
      if (!existsSync(file)) {
        // Shipped: the shipper leaves a marker in its place, and the store keeps the file.
        if (existsSync(`${file}.shipped`)) this.signed.delete(name);
        else problems.push(`${name} is missing (it was signed, and not shipped)`);
        continue;
      }
      checked++;
      if (sha256(readFileSync(file)) !== expected) problems.push(`${name} changed after it was signed`);
    }
    return { checked, problems };
  }
}
