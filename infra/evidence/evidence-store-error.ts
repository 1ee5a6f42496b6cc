/** Stable codes of the props the `EvidenceStore` construct refuses, one per rule. */
export type EvidenceStoreErrorCode =
  | 'ObjectLockModeInvalid'
  | 'RetentionOutOfRange'
  | 'DaysOutOfRange'
  | 'PrefixInvalid'
  | 'AliasInvalid'
  | 'LogGroupNameInvalid'
  | 'RecoveryPeriodOutOfRange';

/**
 * A prop of `EvidenceStore` that cannot deploy or would deploy wrong. Thrown at synth time, so the
 * message names the prop, the value, what is allowed and how to fix it.
 */
export class EvidenceStoreError extends Error {
  constructor(
    readonly code: EvidenceStoreErrorCode,
    /** The prop at fault, as written in `EvidenceStoreProps`. */
    readonly prop: string,
    message: string,
  ) {
    super(`EvidenceStore ${prop}: ${message}`);
    this.name = 'EvidenceStoreError';
  }
}
