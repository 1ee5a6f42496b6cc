import net from 'node:net';
import { startTestGateway } from '../support/gateway';
import { fieldsOf, RawClient } from '../support/raw-client';
import { proxyV2 } from '../support/wire';

describe('PROXY protocol v2 in front of the gateway', () => {
  it('requires the header when enabled and accepts a session behind it', async () => {
    const gateway = await startTestGateway({
      proxyProtocol: { enabled: true },
      allowCleartextPasswordWithoutTls: true,
    });
    try {
      const raw = await RawClient.connect(gateway.port);
      raw.write(proxyV2({ ipv4: ['10.9.8.7', 40001, '10.0.0.1', 6432], vpce: 'vpce-0123456789abcdef0' }));
      expect((await raw.login(gateway.token())).at(-1)?.code).toBe('Z');
      raw.close();

      const withoutHeader = await RawClient.connect(gateway.port);
      withoutHeader.write(Buffer.from([0, 0, 0, 8, 4, 210, 22, 47]));
      expect(fieldsOf(await withoutHeader.next())).toMatchObject({ S: 'FATAL', C: '08P01' });
    } finally {
      await gateway.stop();
    }
  });

  it('treats a LOCAL header with nothing after it as a load balancer health check', async () => {
    const gateway = await startTestGateway({ proxyProtocol: { enabled: true } });
    try {
      const socket = net.connect(gateway.port, '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.end(proxyV2({ local: true }));
      const received: Buffer[] = [];
      socket.on('data', (d: Buffer) => received.push(d));
      await new Promise((resolve) => socket.once('close', resolve));
      expect(Buffer.concat(received)).toHaveLength(0);
    } finally {
      await gateway.stop();
    }
  });

  it('admits only allow-listed VPC endpoints', async () => {
    const gateway = await startTestGateway({
      proxyProtocol: { enabled: true, allowedVpcEndpoints: ['vpce-0aaaaaaaaaaaaaaaa'] },
      allowCleartextPasswordWithoutTls: true,
    });
    try {
      const denied = await RawClient.connect(gateway.port);
      denied.write(proxyV2({ ipv4: ['10.9.8.7', 40001, '10.0.0.1', 6432], vpce: 'vpce-0bbbbbbbbbbbbbbbb' }));
      denied.write(Buffer.from([0, 0, 0, 8, 4, 210, 22, 47]));
      const error = fieldsOf(await denied.next());
      expect(error).toMatchObject({ S: 'FATAL', C: '28000' });
      expect(error.D).toContain('vpce-0bbbbbbbbbbbbbbbb');

      const allowed = await RawClient.connect(gateway.port);
      allowed.write(proxyV2({ ipv4: ['10.9.8.7', 40002, '10.0.0.1', 6432], vpce: 'vpce-0aaaaaaaaaaaaaaaa' }));
      expect((await allowed.login(gateway.token())).at(-1)?.code).toBe('Z');
      allowed.close();
    } finally {
      await gateway.stop();
    }
  });

  it('refuses a header when the protocol is off, so clients cannot forge their address', async () => {
    const gateway = await startTestGateway();
    try {
      const raw = await RawClient.connect(gateway.port);
      raw.write(proxyV2({ ipv4: ['10.9.8.7', 40001, '10.0.0.1', 6432], vpce: 'vpce-0123456789abcdef0' }));
      expect(fieldsOf(await raw.next())).toMatchObject({ S: 'FATAL', C: '08P01' });
    } finally {
      await gateway.stop();
    }
  });
});
