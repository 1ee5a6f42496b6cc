import { hash } from 'node:crypto';
import { canonicalJson } from './canonical-json';
import { canonicalRecord } from './canonical-record';
import { AUDIT_SCHEMA_VERSION, type AuditRecord, type RecordBody } from './records';

export function sha256Hex(data: string | Buffer): string {
  return hash('sha256', data, 'hex');
}

/**
 * The `prev` of a session's first record: its chain starts from the session id and the version of
 * the schema the record was written under (a store keeps chains of every version).
 */
export function genesisHash(session: string, version: number = AUDIT_SCHEMA_VERSION): string {
  return sha256Hex(`gatehouse-audit-v${version}:${session}`);
}

/** The hash a record must carry: SHA-256 of its canonical JSON without `hash`. */
export function recordHash(record: Omit<AuditRecord, 'hash'> | AuditRecord): string {
  const { hash: _omitted, ...rest } = record as AuditRecord;
  return sha256Hex(canonicalJson(rest));
}

/**
 * One session's hash chain, as one writer extends it: each record names the previous record's hash
 * and its own position, so a changed, removed, reordered or inserted record breaks the chain.
 */
export class SessionChain {
  private seq = 0;
  private head: string;

  /** `from`: the head an earlier process of this writer left (the chain continues after it). */
  constructor(
    readonly session: string,
    private readonly writer: string,
    from?: { hash: string; seq: number },
  ) {
    this.head = from?.hash ?? genesisHash(session);
    this.seq = from ? from.seq + 1 : 0;
  }

  get lastHash(): string {
    return this.head;
  }

  get length(): number {
    return this.seq;
  }

  /**
   * Appends a record; returns it as one JSON line (its canonical form with `hash` added, so the writer
   * serialises each record once) and its hash.
   */
  appendLine(body: RecordBody): { line: string; hash: string } {
    const canonical = canonicalRecord(body, {
      session: this.session,
      seq: this.seq,
      writer: this.writer,
      prev: this.head,
    });
    const hash = sha256Hex(canonical);
    this.head = hash;
    this.seq++;
    return { hash, line: `${canonical.slice(0, -1)},"hash":"${hash}"}\n` };
  }
}
