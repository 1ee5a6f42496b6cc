import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { WriterContents } from '../../../core/audit/verify';

/** One writer's directory: its closed chunks, the open chunk (if a process left one) and its digests. */
export function readWriterDirectory(directory: string): WriterContents {
  const files = readdirSync(directory);
  const load = (name: string) => readFileSync(path.join(directory, name));
  return {
    writer: path.basename(directory),
    chunks: new Map(files.filter((f) => /^(chunk-\d+|open)\.jsonl$/.test(f)).map((f) => [f, load(f)])),
    recordings: new Map(files.filter((f) => /^recording-(\d+|open)\.gz$/.test(f)).map((f) => [f, load(f)])),
    digests: files.filter((f) => /^digest-\d+\.json$/.test(f)).map(load),
  };
}

/** A local audit store: one directory per writer under `root`. */
export function readLocalStore(root: string): WriterContents[] {
  return readdirSync(root)
    .filter((name) => statSync(path.join(root, name)).isDirectory())
    .sort()
    .map((name) => readWriterDirectory(path.join(root, name)));
}
