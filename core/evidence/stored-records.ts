import type { Digest } from '../audit/digest';
import type { AuditRecord } from '../audit/records';
import type { WriterContents } from '../audit/verify';

/** One audit record as a store holds it: parsed, with its exact line and where it was found. */
export interface StoredRecord {
  readonly record: AuditRecord;
  /** The line as stored (without its newline): audit/records.jsonl carries these bytes unchanged. */
  readonly line: string;
  readonly writer: string;
  readonly chunk: string;
}

/** What an export needs of one digest: which writer, which period it covers, which chunks it lists. */
export interface StoredDigest {
  readonly writer: string;
  readonly seq: number;
  readonly from: number;
  readonly to: number;
  readonly chunks: readonly string[];
}

/** Chunks in the order written: by number (chunk-10 after chunk-9), the open one last. */
function chunkOrder(name: string): number {
  const match = /^chunk-(\d+)\.jsonl$/.exec(name);
  return match ? Number(match[1]) : Number.MAX_SAFE_INTEGER;
}

/**
 * Every record of a store, writer by writer (sorted by name), chunk by chunk in the order written,
 * line by line: the order of each session's chain. Lines that are not JSON are counted, not returned
 * (verification reports them as `record-unreadable`). `onProgress` is told the records read so far.
 */
export function readStoredRecords(
  writers: readonly WriterContents[],
  onProgress?: (records: number) => void,
): { records: StoredRecord[]; unreadable: number } {
  const records: StoredRecord[] = [];
  let unreadable = 0;
  for (const contents of [...writers].sort((a, b) => a.writer.localeCompare(b.writer))) {
    const names = [...contents.chunks.keys()].sort((a, b) => chunkOrder(a) - chunkOrder(b));
    for (const chunk of names) {
      for (const line of contents.chunks.get(chunk)!.toString('utf8').split('\n')) {
        if (line === '') continue;
        try {
          const record = JSON.parse(line) as AuditRecord;
          if (record === null || typeof record !== 'object' || typeof record.time !== 'number') {
            unreadable++;
            continue;
          }
          records.push({ record, line, writer: contents.writer, chunk });
        } catch {
          unreadable++;
        }
      }
      onProgress?.(records.length);
    }
  }
  return { records, unreadable };
}

/** The digests of a store that parse (verification reports the others). */
export function storedDigests(writers: readonly WriterContents[]): StoredDigest[] {
  const digests: StoredDigest[] = [];
  for (const contents of writers) {
    for (const bytes of contents.digests) {
      try {
        const digest = JSON.parse(bytes.toString('utf8')) as Digest;
        digests.push({
          writer: contents.writer,
          seq: digest.seq,
          from: digest.from,
          to: digest.to,
          chunks: (digest.chunks ?? []).map((chunk) => chunk.name),
        });
      } catch {
        // Unreadable: `verifyStore` names it.
      }
    }
  }
  return digests.sort((a, b) => a.writer.localeCompare(b.writer) || a.seq - b.seq);
}
