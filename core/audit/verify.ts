import { genesisHash, recordHash, sha256Hex } from './chain';
import { type Digest, verifyDigestSignature } from './digest';
import type { AuditRecord } from './records';

/** What one writer left in a store: its chunk files and digest files, as stored bytes. */
export interface WriterContents {
  writer: string;
  chunks: ReadonlyMap<string, Buffer>;
  /** Session recording files (sealed ones and an open one); absent when not read. */
  recordings?: ReadonlyMap<string, Buffer>;
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
  | 'recording-missing'
  | 'recording-altered'
  | 'recording-undigested'
  | 'record-unreadable'
  | 'record-altered'
  | 'record-missing'
  | 'record-reordered'
  | 'record-inserted'
  | 'tail-deleted'
  | 'digest-tail-deleted';

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
  recordings: number;
  /**
   * Undigested chunks and recordings are the open tail of a running or crashed writer: reported, not
   * failures.
   */
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

/** Chunks in the order written: by number (chunk-10 after chunk-9), the open one last. */
function chunkOrder(name: string): number {
  const match = /^chunk-(\d+)\.jsonl$/.exec(name);
  return match ? Number(match[1]) : Number.MAX_SAFE_INTEGER;
}

/**
 * Verifies stored files of one kind (audit chunks or recordings) against the digests that list them.
 */
function checkFiles(
  writer: string,
  kind: 'chunk' | 'recording',
  stored: ReadonlyMap<string, Buffer>,
  listings: { digest: number; files: readonly { name: string; sha256: string }[] }[],
  problems: Problem[],
): void {
  const listed = new Set<string>();
  for (const { digest, files } of listings) {
    for (const file of files) {
      listed.add(file.name);
      const bytes = stored.get(file.name);
      if (!bytes)
        problems.push({
          writer,
          kind: `${kind}-missing`,
          detail: `${kind} ${file.name} listed in digest ${digest} is missing`,
        });
      else if (sha256Hex(bytes) !== file.sha256) {
        problems.push({
          writer,
          kind: `${kind}-altered`,
          detail: `${kind} ${file.name} does not match digest ${digest}`,
        });
      }
    }
  }
  for (const name of stored.keys()) {
    if (!listed.has(name))
      problems.push({
        writer,
        kind: `${kind}-undigested`,
        detail: `${kind} ${name} is not in any digest yet`,
      });
  }
}

/** Verifies chunk bytes against the digests; returns the chunks whose records can be trusted to check. */
function checkChunks(contents: WriterContents, digests: Digest[], problems: Problem[]): string[] {
  const { writer, chunks } = contents;
  const listings = (select: (d: Digest) => { name: string; sha256: string }[] | undefined) =>
    digests.map((d) => ({ digest: d.seq, files: select(d) ?? [] }));
  checkFiles(
    writer,
    'chunk',
    chunks,
    listings((d) => d.chunks),
    problems,
  );
  if (contents.recordings)
    checkFiles(
      writer,
      'recording',
      contents.recordings,
      listings((d) => d.recordings),
      problems,
    );
  return [...chunks.keys()].sort((a, b) => chunkOrder(a) - chunkOrder(b));
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
/** A writer's newest digest as registered apart from the store (the gateway's DynamoDB table). */
export interface RegisteredHead {
  seq: number;
  signature: string;
}

/** The store must reach each writer's registered head: digests deleted from its end show here. */
function checkRegisteredHeads(
  digestsOf: Map<string, Digest[]>,
  heads: ReadonlyMap<string, RegisteredHead>,
  problems: Problem[],
): void {
  for (const [writer, head] of heads) {
    const digests = digestsOf.get(writer) ?? [];
    const match = digests.find((d) => d.seq === head.seq);
    if (!match) {
      const last = digests.at(-1);
      problems.push({
        writer,
        kind: 'digest-tail-deleted',
        detail: `the store ends at digest ${last ? last.seq : '(none)'}, but digest ${head.seq} was registered`,
      });
    } else if (match.signature !== head.signature) {
      problems.push({
        writer,
        kind: 'digest-tail-deleted',
        detail: `digest ${head.seq} is not the one registered (its signature differs)`,
      });
    }
  }
}

export function verifyStore(
  writers: readonly WriterContents[],
  publicKeyPem: string,
  registeredHeads?: ReadonlyMap<string, RegisteredHead>,
): VerificationReport {
  const problems: Problem[] = [];
  const digestsOf = new Map<string, Digest[]>();
  let digestCount = 0;
  let chunks = 0;
  let recordings = 0;
  let sessions = 0;
  let records = 0;
  for (const contents of writers) {
    const digests = parseDigests(contents, problems);
    digestsOf.set(contents.writer, digests);
    digestCount += digests.length;
    chunks += contents.chunks.size;
    recordings += contents.recordings?.size ?? 0;
    checkDigestChain(contents, digests, publicKeyPem, problems);
    const names = checkChunks(contents, digests, problems);
    const counted = checkRecords(contents, names, digests, problems);
    sessions += counted.sessions;
    records += counted.records;
  }
  if (registeredHeads) checkRegisteredHeads(digestsOf, registeredHeads, problems);
  return {
    writers: writers.length,
    digests: digestCount,
    chunks,
    recordings,
    sessions,
    records,
    problems,
    ok: problems.every((problem) => problem.kind.endsWith('-undigested')),
  };
}
