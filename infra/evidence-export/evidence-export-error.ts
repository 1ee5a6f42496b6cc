/** Stable codes of the props the `EvidenceExport` construct refuses, one per rule. */
export type EvidenceExportErrorCode =
  | 'ExportsPrefixInvalid'
  | 'ExportsPrefixOverlapsAudit'
  | 'PeriodInvalid'
  | 'TimeoutOutOfRange'
  | 'MemorySizeOutOfRange'
  | 'IssuerInvalid'
  | 'EntryNotFound';

/**
 * A prop of `EvidenceExport` that cannot deploy or would deploy wrong. Thrown at synth time, so the
 * message names the prop, the value, what is allowed and how to fix it.
 */
export class EvidenceExportError extends Error {
  constructor(
    readonly code: EvidenceExportErrorCode,
    /** The prop at fault, as written in `EvidenceExportProps` (dotted for nested props). */
    readonly prop: string,
    message: string,
  ) {
    super(`EvidenceExport ${prop}: ${message}`);
    this.name = 'EvidenceExportError';
  }
}
