import { CfnOutput, Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { Construct } from 'constructs';
import {
  type GatewayLoadBalancing,
  type GatewayNetworkProps,
  type GatewayNetworkSettings,
  gatewayNetworkSettings,
} from './gateway-network-props';
import { acknowledgeNetworkFindings } from './network-nag';

export {
  GATEWAY_DEFAULTS,
  type GatewayHealthCheck,
  type GatewayLoadBalancing,
  type GatewayNetworkProps,
} from './gateway-network-props';

/** Target group attribute: whether the NLB resets connections to a target that turns unhealthy (default true). */
export const UNHEALTHY_CONNECTION_TERMINATION =
  'target_health_state.unhealthy.connection_termination.enabled';

/**
 * How clients reach the gateway (issue 7): an internal Network Load Balancer with a security group, a
 * TCP listener on the PostgreSQL port, IP targets with Proxy Protocol v2 (the gateway learns each
 * consumer's VPC endpoint id from it), health-checked on the gateway's /healthz without resetting the
 * sessions of a target that fails it, connection termination after the drain, and a PrivateLink
 * endpoint service that named principals may connect to, each connection accepted by hand.
 *
 * TLS is not terminated here: PostgreSQL negotiates it inside the protocol (SSLRequest), so the gateway
 * terminates it. The gateway's tasks register themselves (`GatewayService`, which takes this as its
 * `loadBalancing`).
 */
export class GatewayNetwork extends Construct implements GatewayLoadBalancing {
  /** The internal Network Load Balancer. */
  readonly loadBalancer: elbv2.INetworkLoadBalancer;
  /** The load balancer's security group: admits the listener port from the VPC and the client ranges. */
  readonly securityGroup: ec2.ISecurityGroup;
  /**
   * IP targets on the PostgreSQL port: PPv2, /healthz health check, no reset when a target turns
   * unhealthy, connection termination at the end of the deregistration delay (= drain).
   */
  readonly targetGroup: elbv2.INetworkTargetGroup;
  /** The PrivateLink endpoint service (acceptance required); its name is a stack output. */
  readonly endpointService: ec2.IVpcEndpointService;
  readonly port: number;
  readonly healthCheckPort: number;
  readonly drain: Duration;
  readonly keepAlive: Duration;
  readonly idleTimeout: Duration;

  constructor(scope: Construct, id: string, props: GatewayNetworkProps) {
    super(scope, id);
    const settings = gatewayNetworkSettings(props);
    const { vpc, vpcSubnets, port } = settings;
    this.port = port;
    this.healthCheckPort = settings.healthCheck.kind === 'http' ? settings.healthCheck.port : port;
    this.drain = Duration.seconds(settings.drainSeconds);
    this.keepAlive = Duration.seconds(settings.keepAliveSeconds);
    this.idleTimeout = Duration.seconds(settings.idleTimeoutSeconds);

    // Created with the load balancer: an NLB created without a security group can never get one.
    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc,
      description: `Gatehouse load balancer: PostgreSQL (${port}) from the VPC and the client ranges`,
      allowAllOutbound: false,
    });
    for (const peer of clientPeers(vpc, settings)) {
      securityGroup.addIngressRule(peer, ec2.Port.tcp(port), `PostgreSQL clients (${peer.uniqueId})`);
    }
    this.securityGroup = securityGroup;

    const loadBalancer = new elbv2.NetworkLoadBalancer(this, 'LoadBalancer', {
      vpc,
      vpcSubnets,
      internetFacing: false,
      securityGroups: [securityGroup],
      enforceSecurityGroupInboundRulesOnPrivateLinkTraffic: settings.enforceSecurityGroupOnPrivateLink,
      // An endpoint in one zone reaches tasks in every zone: losing a zone's tasks loses no consumer.
      crossZoneEnabled: true,
      deletionProtection: true,
    });
    this.loadBalancer = loadBalancer;

    const targetGroup = new elbv2.NetworkTargetGroup(this, 'Targets', {
      vpc,
      port,
      protocol: elbv2.Protocol.TCP,
      targetType: elbv2.TargetType.IP,
      // Behind PrivateLink the source address is the NLB's; the header carries the endpoint id instead.
      proxyProtocolV2: true,
      preserveClientIp: false,
      deregistrationDelay: this.drain,
      // At the end of the drain, what is left is reset, so a stopping task is not held up by idle clients.
      connectionTermination: true,
      healthCheck: healthCheckOf(settings),
    });
    // A target that fails its check gets no new sessions but keeps the ones it holds: without this the
    // NLB resets them all, so a readiness blip (the upstream unreachable for a few checks) would cut every
    // session of the task. No CDK prop sets it.
    targetGroup.setAttribute(UNHEALTHY_CONNECTION_TERMINATION, 'false');
    this.targetGroup = targetGroup;

    const listener = loadBalancer.addListener('Postgres', {
      port,
      protocol: elbv2.Protocol.TCP,
      tcpIdleTimeout: this.idleTimeout,
      defaultTargetGroups: [targetGroup],
    });

    const endpointService = new ec2.VpcEndpointService(this, 'EndpointService', {
      vpcEndpointServiceLoadBalancers: [loadBalancer],
      acceptanceRequired: true,
      allowedPrincipals: settings.allowedPrincipals,
    });
    this.endpointService = endpointService;
    new CfnOutput(this, 'EndpointServiceName', {
      value: endpointService.vpcEndpointServiceName,
      description: 'Gatehouse PrivateLink endpoint service: consumers create an interface endpoint to it',
    });

    acknowledgeNetworkFindings({ loadBalancer, listener });
  }
}

/** The VPC's CIDR, the client CIDRs and prefix lists: every source admitted to the listener. */
function clientPeers(vpc: ec2.IVpc, settings: GatewayNetworkSettings): ec2.IPeer[] {
  return [
    ec2.Peer.ipv4(vpc.vpcCidrBlock),
    ...settings.clientCidrs.map((cidr) => ec2.Peer.ipv4(cidr)),
    ...settings.clientPrefixLists.map((id) => ec2.Peer.prefixList(id)),
  ];
}

function healthCheckOf(settings: GatewayNetworkSettings): elbv2.HealthCheck {
  const common = {
    interval: Duration.seconds(10),
    timeout: Duration.seconds(5),
    healthyThresholdCount: 2,
    unhealthyThresholdCount: 2,
  };
  const check = settings.healthCheck;
  if (check.kind === 'tcp') return { ...common, protocol: elbv2.Protocol.TCP, port: 'traffic-port' };
  return {
    ...common,
    protocol: elbv2.Protocol.HTTP,
    port: String(check.port),
    path: check.path,
    healthyHttpCodes: '200',
  };
}
