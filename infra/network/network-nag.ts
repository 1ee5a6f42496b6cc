import { Validations } from 'aws-cdk-lib';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';

/** The parts of the network that carry an acknowledgment. */
export interface NetworkNagParts {
  readonly loadBalancer: elbv2.NetworkLoadBalancer;
  readonly listener: elbv2.NetworkListener;
}

/**
 * The cdk-nag (v3) findings that stand by design, each acknowledged on the construct it concerns with
 * the reason it stands; everything else is fixed in the construct.
 */
export function acknowledgeNetworkFindings({ loadBalancer, listener }: NetworkNagParts): void {
  Validations.of(listener).acknowledge({
    id: 'NIST.800.53.R5-ELBv2ACMCertificateRequired',
    reason:
      'PostgreSQL starts TLS inside the protocol (SSLRequest), so a TLS listener would break every client but ' +
      'PG17 sslnegotiation=direct ones. The listener is TCP and the gateway terminates TLS itself with its own ' +
      'certificate (SC-8, SC-13), refusing tokens over plain TCP.',
  });
  const noAccessLogs =
    'NLB access logs exist only for TLS listeners, and this one is TCP (TLS ends in the gateway). Each ' +
    'connection is recorded by the gateway’s audit trail (source VPC endpoint from Proxy Protocol v2, identity, ' +
    'every statement) and by the VPC’s flow logs.';
  Validations.of(loadBalancer).acknowledge({ id: 'NIST.800.53.R5-ELBLoggingEnabled', reason: noAccessLogs });
  Validations.of(loadBalancer).acknowledge({ id: 'AwsSolutions-ELB2', reason: noAccessLogs });
}
