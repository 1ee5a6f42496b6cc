import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { decompressRecording } from './replay';

/** Sealed files by number, then the open one: the order their frames were written in. */
function recordingOrder(name: string): number {
  const match = /^recording-(\d+)\.gz$/.exec(name);
  return match ? Number(match[1]) : Number.MAX_SAFE_INTEGER;
}

/**
 * Every writer's recordings in a local store, uncompressed, each writer's in the order written. A
 * file that cannot be read at all is reported through `onUnreadable` and skipped.
 */
export function readLocalRecordings(
  root: string,
  onUnreadable: (file: string, error: Error) => void = () => undefined,
): Buffer[] {
  const out: Buffer[] = [];
  for (const writer of readdirSync(root).sort()) {
    const directory = path.join(root, writer);
    if (!statSync(directory).isDirectory()) continue;
    const files = readdirSync(directory)
      .filter((f) => /^recording-(\d+|open)\.gz$/.test(f))
      .sort((a, b) => recordingOrder(a) - recordingOrder(b));
    for (const file of files) {
      try {
        out.push(decompressRecording(readFileSync(path.join(directory, file))));
      } catch (error) {
        onUnreadable(path.join(directory, file), error as Error);
      }
    }
  }
  return out;
}
