/** Where sealed audit files (chunks, recordings, digests) end up: S3 with Object Lock in AWS. */
export interface AuditStore {
  /** Stores one file of a writer under its name; storing the same bytes again is harmless. */
  put(writer: string, name: string, bytes: Buffer): Promise<void>;
}

/** Where each writer's latest digest is registered, so a store whose tail was deleted shows it. */
export interface HeadRegistry {
  register(writer: string, head: { seq: number; signature: string; to: number }): Promise<void>;
}
