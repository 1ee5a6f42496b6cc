import fc from 'fast-check';
import { ProtocolError } from '../../../fargate-proxy/src/protocol/errors';
import {
  decodeProxyHeader,
  PROXY_V2_SIGNATURE,
  proxyHeaderLength,
} from '../../../fargate-proxy/src/protocol/proxy-protocol';
import { proxyV2 } from '../../support/wire';

describe('PROXY protocol v2', () => {
  it('reads the client address and the PrivateLink endpoint id', () => {
    const header = proxyV2({ ipv4: ['10.1.2.3', 40000, '10.0.0.5', 5432], vpce: 'vpce-0abc123def4567890' });
    expect(proxyHeaderLength(header)).toBe(header.length);
    expect(decodeProxyHeader(header)).toEqual({
      command: 'proxy',
      sourceAddress: '10.1.2.3',
      sourcePort: 40000,
      destinationAddress: '10.0.0.5',
      destinationPort: 5432,
      vpcEndpointId: 'vpce-0abc123def4567890',
    });
  });

  it('reads a LOCAL header (load balancer health check) without addresses', () => {
    expect(decodeProxyHeader(proxyV2({ local: true }))).toEqual({ command: 'local' });
  });

  it('waits for the fixed part, then rejects a wrong signature', () => {
    expect(proxyHeaderLength(PROXY_V2_SIGNATURE.subarray(0, 10))).toBeUndefined();
    expect(() => proxyHeaderLength(Buffer.from('GET / HTTP/1.1\r\n'))).toThrow(ProtocolError);
  });

  it('rejects truncated addresses and TLVs', () => {
    const header = proxyV2({ ipv4: ['10.1.2.3', 1, '10.0.0.5', 2], vpce: 'vpce-1' });
    for (let cut = 17; cut < header.length; cut++) {
      const truncated = Buffer.from(header.subarray(0, cut));
      truncated.writeUInt16BE(cut - 16, 14);
      try {
        decodeProxyHeader(truncated);
      } catch (error) {
        expect(error).toBeInstanceOf(ProtocolError);
      }
    }
  });

  it('throws only ProtocolError for arbitrary bytes after the signature', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 80 }), (tail) => {
        const header = Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from(tail)]);
        try {
          const length = proxyHeaderLength(header);
          if (length !== undefined && length <= header.length) decodeProxyHeader(header.subarray(0, length));
        } catch (error) {
          expect(error).toBeInstanceOf(ProtocolError);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
