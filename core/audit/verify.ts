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
  | 'digest-tail-deleted'
  // Not failures: what restarts and crashes leave, reported so an auditor sees them.
  | 'restart'
  | 'legacy-restart'
  | 'recovered'
  | 'record-torn';

/**
 * Kinds that report what ordinary operation leaves, not tampering (the report's `notes`): a restart,
 * files a crashed process left that the next one sealed (with the bytes it found), the half-written
 * last line of such a file, and chains the previous release restarted.
 */
export const NOTE_KINDS: ReadonlySet<ProblemKind> = new Set([
  'restart',
  'legacy-restart',
  'recovered',
  'record-torn',
]);

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
  /** What restarts and crashes left (NOTE_KINDS): shown to the auditor, never a failure. */
  notes: Problem[];
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
    if (before?.process && digest.process && before.process !== digest.process) {
      problems.push({
        writer,
        kind: 'restart',
        detail: `digest ${digest.seq} is the first of a new process (a restart after ${new Date(before.to / 1000).toISOString()})`,
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
  listings: {
    digest: number;
    files: readonly { name: string; sha256: string; recovered?: unknown; bytes?: number }[];
  }[],
  problems: Problem[],
): void {
  const listed = new Set<string>();
  for (const { digest, files } of listings) {
    for (const file of files) {
      listed.add(file.name);
      if (file.recovered) {
        const bytes =
          typeof file.recovered === 'object' ? (file.recovered as { bytes: number }).bytes : file.bytes;
        problems.push({
          writer,
          kind: 'recovered',
          detail: `${kind} ${file.name} was left unsealed by a process that stopped without a digest; the next process sealed it with ${bytes} bytes (digest ${digest})`,
        });
      }
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
  const listings = (
    select: (
      d: Digest,
    ) => { name: string; sha256: string; recovered?: unknown; bytes?: number }[] | undefined,
  ) => digests.map((d) => ({ digest: d.seq, files: select(d) ?? [] }));
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
  const bySession = new Map<string, StoredRecord[]>();
  const recoveredChunks = new Set(
    digests.flatMap((d) => d.chunks.filter((c) => c.recovered).map((c) => c.name)),
  );
  const legacyChunks = new Set(digests.filter((d) => d.v === 1).flatMap((d) => d.chunks.map((c) => c.name)));
  let records = 0;
  for (const name of chunkNames) {
    const lines = contents.chunks.get(name)!.toString('utf8').split('\n');
    lines.forEach((line, index) => {
      if (line === '') return;
      let record: AuditRecord;
      try {
        record = JSON.parse(line) as AuditRecord;
      } catch {
        // The last line of a file sealed after a crash may be one the process died writing.
        const torn = recoveredChunks.has(name) && index === lines.length - 1;
        problems.push({
          writer,
          kind: torn ? 'record-torn' : 'record-unreadable',
          detail: torn
            ? `the last line of chunk ${name} was cut short when its process stopped (${line.length} bytes)`
            : `a line of chunk ${name} is not JSON`,
        });
        return;
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
      list.push({ record, legacy: legacyChunks.has(name) });
      bySession.set(record.session, list);
    });
  }
  for (const [session, list] of bySession) {
    for (const segment of segments(writer, session, list, problems))
      checkChain(writer, session, segment, problems);
  }
  // Every head a digest signed must be there: a deleted tail, or a changed signed record, shows.
  for (const digest of digests) {
    for (const [session, head] of Object.entries(digest.heads)) {
      const found = bySession
        .get(session)
        ?.some(({ record }) => record.seq === head.seq && record.hash === head.hash);
      if (!found) {
        problems.push({
          writer,
          kind: 'tail-deleted',
          session,
          detail: `record ${head.seq}, signed as the chain head in digest ${digest.seq}, is missing or different`,
        });
      }
    }
  }
  return { sessions: bySession.size, records };
}

interface StoredRecord {
  record: AuditRecord;
  /** In a chunk a digest of the previous release (v1) listed. */
  legacy: boolean;
}

/**
 * A session's records split where the previous release started a writer's chain again after a
 * restart (a record 0 chained to the session id, in a chunk its digests listed): reported as such,
 * not as tampering. Anywhere else a second start is an insertion.
 */
function segments(
  writer: string,
  session: string,
  list: StoredRecord[],
  problems: Problem[],
): AuditRecord[][] {
  const result: AuditRecord[][] = [[]];
  for (const { record, legacy } of list) {
    const current = result.at(-1)!;
    if (current.length > 0 && record.seq === 0 && record.prev === genesisHash(session, record.v) && legacy) {
      problems.push({
        writer,
        kind: 'legacy-restart',
        session,
        detail: `the chain starts again after record ${current.at(-1)!.seq}: a restart of its writer before chains continued across restarts`,
      });
      result.push([]);
    }
    result.at(-1)!.push(record);
  }
  return result;
}

/**
 * One unbroken chain: positions from 0 without gaps or repeats, stored in order, each record naming
 * its predecessor's hash. Each departure is named for what it is: missing, inserted or reordered.
 */
function checkChain(writer: string, session: string, records: AuditRecord[], problems: Problem[]): void {
  const bySeq = new Map<number, AuditRecord[]>();
  let max = -1;
  for (const record of records) {
    const same = bySeq.get(record.seq);
    if (same) same.push(record);
    else bySeq.set(record.seq, [record]);
    if (record.seq > max) max = record.seq;
  }
  const report = (kind: ProblemKind, detail: string) => problems.push({ writer, kind, session, detail });
  let gapStart: number | undefined;
  for (let seq = 0; seq <= max + 1; seq++) {
    const missing = seq <= max && !bySeq.has(seq);
    if (missing && gapStart === undefined) gapStart = seq;
    if (!missing && gapStart !== undefined) {
      report('record-missing', `records ${gapStart}…${seq - 1} are missing`);
      gapStart = undefined;
    }
  }
  for (const [seq, same] of bySeq) {
    if (same.length > 1) report('record-inserted', `record ${seq} appears ${same.length} times`);
  }
  let previous: AuditRecord | undefined;
  for (const record of records) {
    if (previous && record.seq < previous.seq && bySeq.get(record.seq)!.length === 1) {
      report('record-reordered', `record ${record.seq} is stored after record ${previous.seq}`);
    }
    previous = record;
  }
  for (const [seq, same] of bySeq) {
    if (same.length > 1) continue;
    const record = same[0]!;
    const before = seq === 0 ? undefined : bySeq.get(seq - 1);
    const expected =
      seq === 0 ? genesisHash(session, record.v) : before?.length === 1 ? before[0]!.hash : undefined;
    if (expected !== undefined && record.prev !== expected) {
      report('record-inserted', `record ${seq} does not follow record ${seq - 1} of this chain`);
    }
  }
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
    problems: problems.filter((problem) => !NOTE_KINDS.has(problem.kind)),
    notes: problems.filter((problem) => NOTE_KINDS.has(problem.kind)),
    ok: problems.every((problem) => NOTE_KINDS.has(problem.kind) || problem.kind.endsWith('-undigested')),
  };
}
