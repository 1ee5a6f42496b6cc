import { canonicalJson } from './canonical-json';
import { AUDIT_SCHEMA_VERSION, type AuditRecord, type RecordBody, type StatementRecord } from './records';

/** What the chain adds to every record body. */
export interface ChainLinks {
  session: string;
  seq: number;
  writer: string;
  prev: string;
}

/**
 * A statement record's canonical JSON (without `hash`), built as an object whose members are already in
 * sorted order so the engine's own JSON.stringify produces the canonical bytes. Statement records are
 * the hot path (one per statement); this is about four times cheaper than the generic walk, and a test
 * holds it equal to `canonicalJson` for every member combination.
 */
function statementCanonical(body: RecordBody<StatementRecord>, links: ChainLinks): string {
  const { outcome } = body;
  return JSON.stringify({
    approval: body.approval && { by: body.approval.by, id: body.approval.id },
    bytesIn: body.bytesIn,
    bytesOut: body.bytesOut,
    class: body.class,
    command: body.command,
    decision: body.decision,
    end: body.end,
    masking: body.masking && {
      columns: body.masking.columns.map((c) => ({ name: c.name, rule: c.rule, values: c.values })),
      withheld: body.masking.withheld,
    },
    outcome: {
      rows: outcome.rows,
      sqlstate: outcome.sqlstate,
      suspended: outcome.suspended,
      tag: outcome.tag,
    },
    parameters: body.parameters?.map((p) => ({ format: p.format, sha256: p.sha256 })),
    prev: links.prev,
    protocol: body.protocol,
    query: body.query && {
      index: body.query.index,
      refusedFor: body.query.refusedFor,
      statements: body.query.statements,
    },
    reads: body.reads,
    recording: body.recording && { cut: body.recording.cut, omittedBytes: body.recording.omittedBytes },
    redacted: body.redacted,
    rule: body.rule,
    seq: links.seq,
    session: links.session,
    start: body.start,
    text: body.text,
    textSha256: body.textSha256,
    time: body.time,
    type: body.type,
    v: AUDIT_SCHEMA_VERSION,
    writer: links.writer,
    writes: body.writes,
  });
}

function finite(...numbers: number[]): boolean {
  for (const n of numbers) if (!Number.isFinite(n)) return false;
  return true;
}

/** The canonical JSON of a record about to be chained, `hash` left out. */
export function canonicalRecord(body: RecordBody<AuditRecord>, links: ChainLinks): string {
  if (
    body.type === 'statement' &&
    // JSON.stringify writes null where canonicalJson refuses; leave the odd record to the strict path.
    finite(body.time, body.start, body.end, body.bytesIn, body.bytesOut, body.outcome.rows ?? 0) &&
    (body.masking?.columns.every((c) => Number.isFinite(c.values)) ?? true)
  ) {
    return statementCanonical(body, links);
  }
  return canonicalJson({ ...body, v: AUDIT_SCHEMA_VERSION, ...links });
}
