import type { Problem, VerificationReport } from '../audit/verify';
import type { EvidencePeriod, VerificationSummary } from './evidence-package';
import type { StoredDigest, StoredRecord } from './stored-records';

/**
 * The period's part of a verification. The store is verified whole (chains and digest signatures run
 * across periods: a record of the period is only proven by the chain before it and the digest after
 * it); this says which of that concerns the period: the digests whose time overlaps it, the period's
 * records not yet under any digest, and the problems naming a session of the period or, when they
 * name no session (a chunk, a digest, a gap), a writer that wrote records of the period.
 */
export interface PeriodVerification {
  readonly records: number;
  readonly sessions: number;
  readonly writers: readonly string[];
  readonly digests: readonly {
    readonly writer: string;
    readonly seq: number;
    readonly from: number;
    readonly to: number;
  }[];
  /** Records of the period in chunks no digest lists (an open spool or an unsealed chunk). */
  readonly undigestedRecords: number;
  readonly problems: readonly Problem[];
  /** True when no problem other than undigested records concerns the period. */
  readonly ok: boolean;
}

export interface VerificationFile {
  /** Where the store was read (a directory, or s3://bucket/prefix/). */
  readonly store: string;
  readonly verifiedAt: string;
  /** The whole store's verification (what `gatehouse verify` reports). */
  readonly verification: VerificationSummary & { readonly recordings: number };
  readonly period: PeriodVerification;
  /** How to read it: what was verified and what the period's part means. */
  readonly notes: readonly string[];
}

export function verificationSummary(report: VerificationReport): VerificationSummary {
  return {
    ok: report.ok,
    writers: report.writers,
    digests: report.digests,
    chunks: report.chunks,
    sessions: report.sessions,
    records: report.records,
    problems: report.problems.map(summaryOf),
    notes: report.notes.map(summaryOf),
  };
}

function summaryOf(p: Problem): VerificationSummary['problems'][number] {
  return {
    writer: p.writer,
    kind: p.kind,
    ...(p.session !== undefined ? { session: p.session } : {}),
    detail: p.detail,
  };
}

export function periodVerification(
  report: VerificationReport,
  digests: readonly StoredDigest[],
  period: EvidencePeriod,
  periodRecords: readonly StoredRecord[],
  sessions: ReadonlySet<string>,
): PeriodVerification {
  const writers = new Set(periodRecords.map((r) => r.writer));
  const listed = new Set(digests.flatMap((d) => d.chunks.map((chunk) => `${d.writer}/${chunk}`)));
  const undigested = periodRecords.filter((r) => !listed.has(`${r.writer}/${r.chunk}`)).length;
  const overlapping = digests
    .filter((d) => d.to >= period.fromMicros && d.from < period.toMicros)
    .map(({ writer, seq, from, to }) => ({ writer, seq, from, to }));
  const problems = report.problems.filter((p) =>
    p.session !== undefined ? sessions.has(p.session) : writers.has(p.writer),
  );
  return {
    records: periodRecords.length,
    sessions: sessions.size,
    writers: [...writers].sort(),
    digests: overlapping,
    undigestedRecords: undigested,
    problems,
    ok: problems.every((p) => p.kind.endsWith('-undigested')),
  };
}

export function verificationFile(
  store: string,
  verifiedAt: string,
  report: VerificationReport,
  period: PeriodVerification,
): VerificationFile {
  return {
    store,
    verifiedAt,
    verification: { ...verificationSummary(report), recordings: report.recordings },
    period,
    notes: [
      'verification covers the whole store: every record hash and chain, every chunk against the digests listing it, every digest signature (ECDSA P-256) and the chain of digests, and gaps between digests',
      "period: the digests overlapping the period, the period's records not yet under a digest, and the problems naming a session of the period or (for problems naming no session) a writer of the period's records",
      'problems of kind *-undigested are the open tail of a running or stopped writer, not failures',
      'notes (restart, recovered, record-torn, legacy-restart) show what restarts and crashes left: a process that stopped without its last digest has its unsealed files sealed by the next process of the same writer, marked recovered with the bytes found; they are not tampering',
    ],
  };
}
