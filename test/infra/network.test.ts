import { type CfnElement, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';
import { parseGatewayConfig } from '../../fargate-proxy/src/config';
import {
  GatewayNetwork,
  type GatewayNetworkProps,
  UNHEALTHY_CONNECTION_TERMINATION,
} from '../../infra/network/gateway-network';
import { GatewayNetworkError, type GatewayNetworkErrorCode } from '../../infra/network/gateway-network-error';
import {
  CLIENT_CIDR,
  CONSUMER,
  gatewayTestStack,
  rulesOf,
  testApp,
  testVpc,
  VPC_CIDR,
} from './support/gateway-stack';

// Synthesized once for the file: the network as the gateway service uses it (defaults but for the
// consumer principal and one client range).
const test = gatewayTestStack();
const template = Template.fromStack(test.stack);

const logicalId = (construct: IConstruct) =>
  test.stack.getLogicalId((construct.node.defaultChild ?? construct) as CfnElement);
const networkChild = (id: string) => test.network.node.findChild(id);
const groupIdOf = (construct: IConstruct) => ({ 'Fn::GetAtt': [logicalId(construct), 'GroupId'] });

function attributes(resource: { Properties: Record<string, unknown> }, key: string): Record<string, string> {
  const list = resource.Properties[key] as { Key: string; Value: string }[];
  return Object.fromEntries(list.map(({ Key, Value }) => [Key, Value]));
}
const only = (type: string) => {
  const found = Object.values(template.findResources(type));
  expect(found).toHaveLength(1);
  return found[0] as { Properties: Record<string, unknown> };
};

describe('GatewayNetwork', () => {
  it('is an internal NLB created with its security group, across zones, protected from deletion', () => {
    const nlb = only('AWS::ElasticLoadBalancingV2::LoadBalancer');
    expect(nlb.Properties).toMatchObject({
      Type: 'network',
      Scheme: 'internal',
      SecurityGroups: [groupIdOf(networkChild('SecurityGroup'))],
      EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic: 'on',
      Subnets: ['subnet-00a1b2c3d4e5f6071', 'subnet-01a1b2c3d4e5f6071'],
    });
    expect(attributes(nlb, 'LoadBalancerAttributes')).toEqual({
      'deletion_protection.enabled': 'true',
      'load_balancing.cross_zone.enabled': 'true',
    });
  });

  it('admits the listener port from the VPC and the client ranges, and sends to the tasks: PostgreSQL, health checks', () => {
    const nlbGroup = logicalId(networkChild('SecurityGroup'));
    expect(rulesOf(template, nlbGroup, 'ingress')).toEqual([`${VPC_CIDR} 5432`, `${CLIENT_CIDR} 5432`]);
    const tasks = logicalId(test.gateway.node.findChild('SecurityGroup'));
    expect(rulesOf(template, nlbGroup, 'egress')).toEqual([`${tasks} 5432`, `${tasks} 6480`]);
    // The tasks admit the health port from the load balancer only, as they admit PostgreSQL.
    expect(rulesOf(template, tasks, 'ingress')).toEqual([
      `${tasks} 6433`,
      `${nlbGroup} 5432`,
      `${nlbGroup} 6480`,
    ]);
  });

  it('listens on TCP 5432 with a 3660 s idle timeout: above the gateway’s 1 min keepalive and 1 h idle timeout', () => {
    const listener = only('AWS::ElasticLoadBalancingV2::Listener');
    expect(listener.Properties).toMatchObject({ Port: 5432, Protocol: 'TCP' });
    const idle = Number(attributes(listener, 'ListenerAttributes')['tcp.idle_timeout.seconds']);
    expect(idle).toBe(3660);
    expect(test.network.idleTimeout.toSeconds()).toBe(idle);
    expect(test.network.keepAlive.toSeconds()).toBe(60);
    // The gateway's own defaults, which the network's follow.
    const limits = parseGatewayConfig({
      upstream: { host: 'db', tls: 'disable' },
      issuers: [{ name: 'i', issuer: 'https://i', audience: 'a', jwksUri: 'https://i/k' }],
      policy: { file: 'p.yaml' },
      audit: { directory: '/a', signingKeyFile: 'k.pem' },
    }).limits;
    expect(limits.tcpKeepAliveMs).toBe(test.network.keepAlive.toMilliseconds());
    expect(limits.idleTimeoutMs).toBeLessThan(test.network.idleTimeout.toMilliseconds());
  });

  it('targets IPs with Proxy Protocol v2, health-checked on /healthz, kept when unhealthy, reset after the drain', () => {
    const group = only('AWS::ElasticLoadBalancingV2::TargetGroup');
    expect(group.Properties).toMatchObject({
      TargetType: 'ip',
      Protocol: 'TCP',
      Port: 5432,
      HealthCheckProtocol: 'HTTP',
      HealthCheckPort: '6480',
      HealthCheckPath: '/healthz',
      Matcher: { HttpCode: '200' },
      HealthCheckIntervalSeconds: 10,
      HealthCheckTimeoutSeconds: 5,
      HealthyThresholdCount: 2,
      UnhealthyThresholdCount: 2,
    });
    expect(attributes(group, 'TargetGroupAttributes')).toEqual({
      'proxy_protocol_v2.enabled': 'true',
      'preserve_client_ip.enabled': 'false',
      'deregistration_delay.connection_termination.enabled': 'true',
      'deregistration_delay.timeout_seconds': '25',
      'target_health_state.unhealthy.connection_termination.enabled': 'false',
    });
    expect(UNHEALTHY_CONNECTION_TERMINATION).toBe(
      'target_health_state.unhealthy.connection_termination.enabled',
    );
    expect(test.network.drain.toSeconds()).toBe(25);
    expect(test.network.healthCheckPort).toBe(6480);
  });

  it('can health-check over TCP on the PostgreSQL port instead (the tasks then admit nothing more)', () => {
    const tcp = gatewayTestStack({ network: { healthCheck: { kind: 'tcp' } } });
    const t = Template.fromStack(tcp.stack);
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      HealthCheckProtocol: 'TCP',
      HealthCheckPort: 'traffic-port',
      HealthCheckPath: Match.absent(),
      TargetGroupAttributes: Match.arrayWith([
        { Key: 'target_health_state.unhealthy.connection_termination.enabled', Value: 'false' },
      ]),
    });
    expect(tcp.network.healthCheckPort).toBe(5432);
    const id = (construct: IConstruct) =>
      tcp.stack.getLogicalId((construct.node.defaultChild ?? construct) as CfnElement);
    const nlbGroup = id(tcp.network.node.findChild('SecurityGroup'));
    const tasks = id(tcp.gateway.node.findChild('SecurityGroup'));
    expect(rulesOf(t, tasks, 'ingress')).toEqual([`${tasks} 6433`, `${nlbGroup} 5432`]);
    expect(rulesOf(t, nlbGroup, 'egress')).toEqual([`${tasks} 5432`]);
  });

  it('offers a PrivateLink endpoint service that needs acceptance, open to the named principals only', () => {
    template.resourceCountIs('AWS::EC2::VPCEndpointService', 1);
    template.hasResourceProperties('AWS::EC2::VPCEndpointService', {
      AcceptanceRequired: true,
      NetworkLoadBalancerArns: [{ Ref: logicalId(networkChild('LoadBalancer')) }],
    });
    expect(only('AWS::EC2::VPCEndpointServicePermissions').Properties).toEqual({
      AllowedPrincipals: [CONSUMER],
      ServiceId: { Ref: logicalId(networkChild('EndpointService').node.findChild('EndpointService')) },
    });
    template.hasOutput('*', {
      Value: {
        'Fn::Join': [
          '.',
          [
            'com.amazonaws.vpce',
            { Ref: 'AWS::Region' },
            { Ref: logicalId(networkChild('EndpointService').node.findChild('EndpointService')) },
          ],
        ],
      },
    });
  });

  it('follows its props: port, drain, keepalive, idle timeout, prefix lists, the health check’s port and path', () => {
    const custom = gatewayTestStack({
      network: {
        port: 6543,
        drain: Duration.seconds(60),
        keepAlive: Duration.seconds(45),
        idleTimeout: Duration.seconds(5460),
        clientCidrs: [],
        clientPrefixLists: ['pl-0123abcd'],
        enforceSecurityGroupOnPrivateLink: false,
        healthCheck: { kind: 'http', port: 6481, path: '/healthz' },
      },
      service: { healthPort: 6481 },
    });
    expect(custom.network.keepAlive.toSeconds()).toBe(45);
    expect(custom.network.idleTimeout.toSeconds()).toBe(5460);
    const t = Template.fromStack(custom.stack);
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 6543,
      ListenerAttributes: [{ Key: 'tcp.idle_timeout.seconds', Value: '5460' }],
    });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      Port: 6543,
      HealthCheckProtocol: 'HTTP',
      HealthCheckPort: '6481',
      HealthCheckPath: '/healthz',
      Matcher: { HttpCode: '200' },
      TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: '60' }]),
    });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic: 'off',
    });
    const nlbGroup = custom.stack.getLogicalId(
      custom.network.node.findChild('SecurityGroup').node.defaultChild as CfnElement,
    );
    expect(rulesOf(t, nlbGroup, 'ingress')).toEqual([`${VPC_CIDR} 6543`, 'pl-0123abcd 6543']);
    // The tasks admit the health port from the load balancer, as they admit PostgreSQL.
    const tasks = custom.stack.getLogicalId(
      custom.gateway.node.findChild('SecurityGroup').node.defaultChild as CfnElement,
    );
    expect(rulesOf(t, tasks, 'ingress')).toEqual([`${tasks} 6433`, `${nlbGroup} 6481`, `${nlbGroup} 6543`]);
  });
});

describe('GatewayNetwork props', () => {
  function refusal(props: Partial<GatewayNetworkProps>): GatewayNetworkError {
    const stack = new Stack(testApp(), 'Refused', { env: { account: '123456789012', region: 'eu-west-1' } });
    try {
      new GatewayNetwork(stack, 'Network', { vpc: props.vpc ?? testVpc(stack), ...props });
    } catch (error) {
      if (error instanceof GatewayNetworkError) return error;
      throw error;
    }
    throw new Error('the props were accepted');
  }

  it.each<[string, Partial<GatewayNetworkProps>, GatewayNetworkErrorCode, RegExp]>([
    ['port 0', { port: 0 }, 'PortOutOfRange', /^GatewayNetwork port: 0 is not a TCP port/],
    ['port 70000', { port: 70000 }, 'PortOutOfRange', /port: 70000/],
    [
      'a drain over an hour',
      { drain: Duration.seconds(3601) },
      'DrainOutOfRange',
      /drain: 1 hour 1 second is outside 0 to 3600 seconds/,
    ],
    ['a fractional drain', { drain: Duration.millis(1500) }, 'DrainOutOfRange', /whole seconds/],
    [
      'a keepalive the default idle timeout would not outlast',
      { keepAlive: Duration.seconds(3651) },
      'KeepAliveOutOfRange',
      /keepAlive: 1 hour 51 seconds is outside 1 to 3650 seconds .*idleTimeout, 3660 s/,
    ],
    [
      'a keepalive too close to the idle timeout',
      { keepAlive: Duration.seconds(300), idleTimeout: Duration.seconds(305) },
      'KeepAliveOutOfRange',
      /at least 10 seconds before the listener drops a quiet connection/,
    ],
    ['no keepalive', { keepAlive: Duration.seconds(0) }, 'KeepAliveOutOfRange', /keepAlive: 0 seconds/],
    ['a fractional keepalive', { keepAlive: Duration.millis(1500) }, 'KeepAliveOutOfRange', /whole seconds/],
    [
      'an idle timeout under a minute',
      { idleTimeout: Duration.seconds(30), keepAlive: Duration.seconds(10) },
      'IdleTimeoutOutOfRange',
      /idleTimeout: 30 seconds is outside 60 to 6000 seconds/,
    ],
    [
      'an idle timeout the NLB cannot have',
      { idleTimeout: Duration.seconds(6001) },
      'IdleTimeoutOutOfRange',
      /60 to 6000/,
    ],
    [
      'a wildcard principal',
      { allowedPrincipals: [new iam.ArnPrincipal('*')] },
      'PrincipalNotAllowed',
      /allowedPrincipals\[0\]: "\*" is not an account root, role or user ARN/,
    ],
    [
      'an account wildcard',
      { allowedPrincipals: [new iam.ArnPrincipal(CONSUMER), new iam.ArnPrincipal('arn:aws:iam::*:root')] },
      'PrincipalNotAllowed',
      /allowedPrincipals\[1\]/,
    ],
    ['the whole internet', { clientCidrs: ['0.0.0.0/0'] }, 'CidrInvalid', /clientCidrs\[0\]: "0.0.0.0\/0"/],
    ['a prefix over 32 bits', { clientCidrs: ['10.0.0.0/33'] }, 'CidrInvalid', /10.0.0.0\/33/],
    ['an IPv6 block', { clientCidrs: ['fd00::/8'] }, 'CidrInvalid', /fd00::\/8/],
    ['a prefix list name', { clientPrefixLists: ['office'] }, 'PrefixListInvalid', /clientPrefixLists\[0\]/],
    [
      'an HTTP check on the PostgreSQL port',
      { healthCheck: { kind: 'http', port: 5432 } },
      'HealthCheckInvalid',
      /healthCheck.port: 5432 is the PostgreSQL port/,
    ],
    [
      'a PostgreSQL port on the default health port',
      { port: 6480 },
      'HealthCheckInvalid',
      /healthCheck.port: 6480 is the PostgreSQL port/,
    ],
    ['an unknown check', { healthCheck: { kind: 'grpc' } as never }, 'HealthCheckInvalid', /"grpc"/],
    [
      'an HTTP check with a relative path',
      { healthCheck: { kind: 'http', port: 6480, path: 'readyz' } },
      'HealthCheckInvalid',
      /healthCheck.path/,
    ],
  ])('refuses %s, naming the prop and the fix', (_case, props, code, message) => {
    const error = refusal(props);
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });

  it('refuses subnets in a single availability zone', () => {
    const stack = new Stack(testApp(), 'OneZone', { env: { account: '123456789012', region: 'eu-west-1' } });
    expect(() => new GatewayNetwork(stack, 'Network', { vpc: testVpc(stack, 1) })).toThrow(
      expect.objectContaining({ code: 'SubnetsTooFewZones', prop: 'vpcSubnets' }),
    );
  });

  it('accepts no principal at all (nobody can connect until one is added)', () => {
    const stack = new Stack(testApp(), 'Closed', { env: { account: '123456789012', region: 'eu-west-1' } });
    new GatewayNetwork(stack, 'Network', { vpc: testVpc(stack) });
    Template.fromStack(stack).resourceCountIs('AWS::EC2::VPCEndpointServicePermissions', 0);
  });
});
