import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json';
import { AUDIT_SCHEMA_VERSION, type AuditRecord, type RecordBody } from './records';

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The `prev` of a session's first record: its chain starts from the session id. */
export function genesisHash(session: string): string {
  return sha256Hex(`gatehouse-audit-v${AUDIT_SCHEMA_VERSION}:${session}`);
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

  constructor(
    readonly session: string,
    private readonly writer: string,
  ) {
    this.head = genesisHash(session);
  }

  get lastHash(): string {
    return this.head;
  }

  get length(): number {
    return this.seq;
  }

  append<R extends AuditRecord>(body: RecordBody<R>): R {
    const unsigned = {
      ...body,
      v: AUDIT_SCHEMA_VERSION,
      session: this.session,
      seq: this.seq,
      writer: this.writer,
      prev: this.head,
    } as unknown as Omit<R, 'hash'>;
    const record = { ...unsigned, hash: recordHash(unsigned as Omit<AuditRecord, 'hash'>) } as R;
    this.head = record.hash;
    this.seq++;
    return record;
  }
}
