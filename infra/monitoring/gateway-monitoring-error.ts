/** Stable codes of the props the `GatewayMonitoring` construct refuses, one per rule. */
export type GatewayMonitoringErrorCode =
  | 'ThresholdOutOfRange'
  | 'PeriodInvalid'
  | 'DashboardNameInvalid'
  | 'TopicConflict'
  | 'EmailInvalid'
  | 'NamespaceInvalid';

/**
 * A prop of `GatewayMonitoring` that cannot deploy or would deploy wrong. Thrown at synth time, so the
 * message names the prop, the value, what is allowed and how to fix it.
 */
export class GatewayMonitoringError extends Error {
  constructor(
    readonly code: GatewayMonitoringErrorCode,
    /** The prop at fault, as written in `GatewayMonitoringProps` (dotted for nested props). */
    readonly prop: string,
    message: string,
  ) {
    super(`GatewayMonitoring ${prop}: ${message}`);
    this.name = 'GatewayMonitoringError';
  }
}
