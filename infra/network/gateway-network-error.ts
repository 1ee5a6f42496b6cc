/** Stable codes of the props the `GatewayNetwork` construct refuses, one per rule. */
export type GatewayNetworkErrorCode =
  | 'PortOutOfRange'
  | 'DrainOutOfRange'
  | 'KeepAliveOutOfRange'
  | 'IdleTimeoutOutOfRange'
  | 'PrincipalNotAllowed'
  | 'CidrInvalid'
  | 'PrefixListInvalid'
  | 'HealthCheckInvalid'
  | 'SubnetsTooFewZones';

/**
 * A prop of `GatewayNetwork` that cannot deploy or would deploy wrong. Thrown at synth time, so the
 * message names the prop, the value, what is allowed and how to fix it.
 */
export class GatewayNetworkError extends Error {
  constructor(
    readonly code: GatewayNetworkErrorCode,
    /** The prop at fault, as written in `GatewayNetworkProps` (dotted for nested props). */
    readonly prop: string,
    message: string,
  ) {
    super(`GatewayNetwork ${prop}: ${message}`);
    this.name = 'GatewayNetworkError';
  }
}
