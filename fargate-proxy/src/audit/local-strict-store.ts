import { mkdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { GroupCommit, type StrictItem, type StrictStore } from './strict-store';

/**
 * Strict records on local disk (local mode): appended to `strict.jsonl` and `fdatasync`ed before they
 * are acknowledged, so they survive a machine crash. One machine is all local mode has; in AWS the
 * store is DynamoDB, which survives the loss of the instance.
 */
export class LocalStrictStore implements StrictStore {
  private readonly commit: GroupCommit;
  private file: Promise<import('node:fs/promises').FileHandle> | undefined;

  constructor(directory: string, timeoutMs: number) {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    const file = path.join(directory, 'strict.jsonl');
    this.commit = new GroupCommit(async (items) => {
      this.file ??= open(file, 'a', 0o600);
      const handle = await this.file.catch((error) => {
        this.file = undefined;
        throw error;
      });
      await handle.appendFile(items.map((item) => `${JSON.stringify(item)}\n`).join(''));
      await handle.datasync();
    }, timeoutMs);
  }

  put(items: readonly StrictItem[]): Promise<void> {
    return this.commit.put(items);
  }
}
