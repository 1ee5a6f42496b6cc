import { genesisHash, recordHash, sha256Hex } from './chain';
import { type Digest, verifyDigestSignature } from './digest';
import type { AuditRecord } from './records';

/** What one writer left in a store: its chunk files and digest files, as stored bytes. */
export interface WriterContents {
  writer: string;
  chunks: ReadonlyMap<string, Buffer>;
  digests: readonly Buffer[];
}

export type ProblemKind =
  | 'digest-unreadable'
  | 'digest-signature'
  | 'digest-missing'
  | 'digest-chain'
  | 'time-gap'
  | 'chunk-missing'
  | 'chunk-altered'
  | 'chunk-undigested'
  | 'record-unreadable'
  | 'record-altered'
  | 'record-missing'
  | 'record-reordered'
  | 'record-inserted'
  | 'tail-deleted';

export interface Problem {
  writer: string;
  kind: ProblemKind;
  session?: string;
  detail: string;
}

export interface VerificationReport {
  writers: number;
  digests: number;
  chunks: number;
  sessions: number;
  records: number;
  problems: Problem[];
  /** Undigested chunks are the open tail of a running or crashed writer: reported, not failures. */
  ok: boolean;
}

/** Microseconds two consecutive digests may leave uncovered before it counts as a gap. */
const COVERAGE_TOLERANCE_US = 1_000_000;

function parseDigests(contents: WriterContents, problems: Problem[]): Digest[] {
  const digests: Digest[] = [];
  for (const bytes of contents.digests) {
    try {
      digests.push(JSON.parse(bytes.toString('utf8')) as Digest);
    } catch {
      problems.push({
        writer: contents.writer,
        kind: 'digest-unreadable',
        detail: 'a digest is not valid JSON',
      });
    }
  }
  return digests.sort((a, b) => a.seq - b.seq);
}

function checkDigestChain(
  contents: WriterContents,
  digests: Digest[],
  publicKeyPem: string,
  problems: Problem[],
): void {
  const { writer } = contents;
  digests.forEach((digest, index) => {
    if (!verifyDigestSignature(digest, publicKeyPem)) {
      problems.push({
        writer,
        kind: 'digest-signature',
        detail: `digest ${digest.seq} does not carry a valid signature`,
      });
    }
    const before = digests[index - 1];
    const expectedSeq = before ? before.seq + 1 : 0;
    if (digest.seq !== expectedSeq) {
      problems.push({
        writer,
        kind: 'digest-missing',
        detail: `digest ${expectedSeq}…${digest.seq - 1} missing`,
      });
    }
    if (before && digest.previousSignature !== before.signature) {
      problems.push({
        writer,
        kind: 'digest-chain',
        detail: `digest ${digest.seq} does not chain to digest ${before.seq}`,
      });
    }
    if (before && digest.from - before.to > COVERAGE_TOLERANCE_US) {
      problems.push({
        writer,
        kind: 'time-gap',
        detail: `no digest covers ${new Date(before.to / 1000).toISOString()} to ${new Date(digest.from / 1000).toISOString()}`,
      });
    }
  });
}

/** Verifies chunk bytes against the digests; returns the chunks whose records can be trusted to check. */
function checkChunks(contents: WriterContents, digests: Digest[], problems: Problem[]): string[] {
  const { writer, chunks } = contents;
  const listed = new Set<string>();
  for (const digest of digests) {
    for (const chunk of digest.chunks) {
      listed.add(chunk.name);
      const bytes = chunks.get(chunk.name);
      if (!bytes)
        problems.push({
          writer,
          kind: 'chunk-missing',
          detail: `chunk ${chunk.name} listed in digest ${digest.seq} is missing`,
        });
      else if (sha256Hex(bytes) !== chunk.sha256) {
        problems.push({
          writer,
          kind: 'chunk-altered',
          detail: `chunk ${chunk.name} does not match digest ${digest.seq}`,
        });
      }
    }
  }
  for (const name of chunks.keys()) {
    if (!listed.has(name))
      problems.push({ writer, kind: 'chunk-undigested', detail: `chunk ${name} is not in any digest yet` });
  }
  return [...chunks.keys()].sort();
}

function checkRecords(
  contents: WriterContents,
  chunkNames: string[],
  digests: Digest[],
  problems: Problem[],
): { sessions: number; records: number } {
  const { writer } = contents;
  const bySession = new Map<string, AuditRecord[]>();
  let records = 0;
  for (const name of chunkNames) {
    const lines = contents.chunks
      .get(name)!
      .toString('utf8')
      .split('\n')
      .filter((line) => line !== '');
    for (const line of lines) {
      let record: AuditRecord;
      try {
        record = JSON.parse(line) as AuditRecord;
      } catch {
        problems.push({ writer, kind: 'record-unreadable', detail: `a line of chunk ${name} is not JSON` });
        continue;
      }
      records++;
      if (recordHash(record) !== record.hash) {
        problems.push({
          writer,
          kind: 'record-altered',
          session: record.session,
          detail: `record ${record.seq} of chunk ${name} was changed`,
        });
      }
      const list = bySession.get(record.session) ?? [];
      list.push(record);
      bySession.set(record.session, list);
    }
  }
  for (const [session, list] of bySession) {
    let previous = genesisHash(session);
    let expected = 0;
    for (const record of list) {
      if (record.seq < expected) {
        problems.push({
          writer,
          kind: 'record-inserted',
          session,
          detail: `record ${record.seq} appears again or out of order`,
        });
        continue;
      }
      if (record.seq > expected) {
        problems.push({
          writer,
          kind: 'record-missing',
          session,
          detail: `records ${expected}…${record.seq - 1} are missing`,
        });
      } else if (record.prev !== previous) {
        problems.push({
          writer,
          kind: 'record-reordered',
          session,
          detail: `record ${record.seq} does not follow record ${record.seq - 1}`,
        });
      }
      previous = record.hash;
      expected = record.seq + 1;
    }
  }
  // The latest head a digest signed for each session must be there: a deleted tail is detected.
  const heads = new Map<string, { hash: string; seq: number }>();
  for (const digest of digests)
    for (const [session, head] of Object.entries(digest.heads)) heads.set(session, head);
  for (const [session, head] of heads) {
    const found = bySession.get(session)?.find((record) => record.seq === head.seq);
    if (!found || found.hash !== head.hash) {
      problems.push({
        writer,
        kind: 'tail-deleted',
        session,
        detail: `record ${head.seq}, signed as the chain head, is missing or different`,
      });
    }
  }
  return { sessions: bySession.size, records };
}

/** Verifies a whole store offline, with only the writers' public key. */
export function verifyStore(writers: readonly WriterContents[], publicKeyPem: string): VerificationReport {
  const problems: Problem[] = [];
  let digestCount = 0;
  let chunks = 0;
  let sessions = 0;
  let records = 0;
  for (const contents of writers) {
    const digests = parseDigests(contents, problems);
    digestCount += digests.length;
    chunks += contents.chunks.size;
    checkDigestChain(contents, digests, publicKeyPem, problems);
    const names = checkChunks(contents, digests, problems);
    const counted = checkRecords(contents, names, digests, problems);
    sessions += counted.sessions;
    records += counted.records;
  }
  return {
    writers: writers.length,
    digests: digestCount,
    chunks,
    sessions,
    records,
    problems,
    ok: problems.every((problem) => problem.kind === 'chunk-undigested'),
  };
}
