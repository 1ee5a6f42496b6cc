import { ConfigError, gatewayConfigSchema, parseGatewayConfig } from '../../../fargate-proxy/src/config';

/** The `cancel` section as the gateway parses it. */
const parseCancel = (cancel: unknown) => gatewayConfigSchema.shape.cancel.parse(cancel);

describe('gateway configuration: cancel', () => {
  it('forwards to no one by default', () => {
    expect(parseCancel(undefined)).toEqual({ peerHost: '0.0.0.0', peers: [] });
  });

  it('accepts peer discovery by DNS, refreshed every 5 seconds by default', () => {
    // WHEN
    const cancel = parseCancel({
      peerPort: 6433,
      peerDiscovery: { dnsName: 'gateway.gatehouse.internal', port: 6433 },
    });
    // THEN
    expect(cancel.peerDiscovery).toEqual({
      dnsName: 'gateway.gatehouse.internal',
      port: 6433,
      refreshMs: 5_000,
    });
  });

  it.each([
    [
      'both a list and discovery',
      { peers: ['10.0.0.1:6433'], peerDiscovery: { dnsName: 'gw.internal', port: 6433 } },
      /cancel.peerDiscovery: set cancel.peers or cancel.peerDiscovery, not both/,
    ],
    [
      'a name that is not a DNS name',
      { peerDiscovery: { dnsName: 'gw internal', port: 6433 } },
      /cancel.peerDiscovery.dnsName: expected a DNS name/,
    ],
    [
      'a host:port as the name',
      { peerDiscovery: { dnsName: 'gw.internal:6433', port: 6433 } },
      /cancel.peerDiscovery.dnsName/,
    ],
    ['port 0', { peerDiscovery: { dnsName: 'gw.internal', port: 0 } }, /cancel.peerDiscovery.port/],
    [
      'a negative refresh',
      { peerDiscovery: { dnsName: 'gw.internal', port: 6433, refreshMs: -1 } },
      /cancel.peerDiscovery.refreshMs/,
    ],
    [
      'an unknown key',
      { peerDiscovery: { dnsName: 'gw.internal', port: 6433, ttl: 10 } },
      /cancel.peerDiscovery: Unrecognized key/,
    ],
  ])('refuses %s, naming the key', (_case, cancel, message) => {
    // WHEN
    let error: unknown;
    try {
      parseGatewayConfig({ cancel });
    } catch (e) {
      error = e;
    }
    // THEN
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
  });
});
