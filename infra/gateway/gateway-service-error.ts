/** Stable codes of the props the `GatewayService` construct refuses, one per rule. */
export type GatewayServiceErrorCode =
  | 'TasksOutOfRange'
  | 'SizingInvalid'
  | 'EphemeralStorageOutOfRange'
  | 'PortInvalid'
  | 'DrainTooLong'
  | 'SubnetsTooFewZones'
  | 'ScalingTargetInvalid'
  | 'AuditPrefixInvalid'
  | 'PeerServiceNameInvalid'
  | 'PolicyKeyInvalid'
  | 'ConfigIncomplete'
  | 'ConfigConflict'
  | 'IdleTimeoutNotBelowLoadBalancer'
  | 'MetricsDisabled'
  | 'ArtifactMissing';

/**
 * A prop of `GatewayService` that cannot deploy or would deploy wrong. Thrown at synth time, so the
 * message names the prop, the value, what is allowed and how to fix it.
 */
export class GatewayServiceError extends Error {
  constructor(
    readonly code: GatewayServiceErrorCode,
    /** The prop at fault, as written in `GatewayServiceProps` (dotted for nested props and config keys). */
    readonly prop: string,
    message: string,
  ) {
    super(`GatewayService ${prop}: ${message}`);
    this.name = 'GatewayServiceError';
  }
}
