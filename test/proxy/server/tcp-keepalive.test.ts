import { type GatewayConfigInput, parseGatewayConfig } from '../../../fargate-proxy/src/config';

/** The least a gateway needs (local sources). */
function config(limits: GatewayConfigInput['limits']): GatewayConfigInput {
  return {
    upstream: { host: 'db.internal', tls: 'disable' },
    issuers: [
      {
        name: 'gh',
        issuer: 'https://issuer.example',
        audience: 'gatehouse',
        jwksUri: 'https://issuer.example/k',
      },
    ],
    policy: { file: '/etc/gatehouse/policy.yaml' },
    audit: { directory: '/tmp/audit', signingKeyFile: '/etc/gatehouse/audit.pem' },
    limits,
  };
}

describe('limits.tcpKeepAliveMs', () => {
  it('is one minute by default: well under the NLB’s 350-second idle timeout', () => {
    expect(parseGatewayConfig(config({})).limits.tcpKeepAliveMs).toBe(60_000);
  });

  it('is turned off by 0, and takes whole seconds up to two hours', () => {
    for (const ms of [0, 1000, 15_000, 7_200_000]) {
      expect(parseGatewayConfig(config({ tcpKeepAliveMs: ms })).limits.tcpKeepAliveMs).toBe(ms);
    }
  });

  it.each([
    [500, /limits.tcpKeepAliveMs: expected 0 \(off\) or at least 1000/],
    [-1, /limits.tcpKeepAliveMs/],
    [1.5, /limits.tcpKeepAliveMs/],
    [7_200_001, /limits.tcpKeepAliveMs/],
  ])('refuses %d ms, naming the field', (ms, message) => {
    expect(() => parseGatewayConfig(config({ tcpKeepAliveMs: ms }))).toThrow(message);
  });
});
