import {
  DnsPeerDirectory,
  type DnsPeerDirectoryOptions,
  type HostResolver,
  interfaceAddresses,
  peerDirectoryFor,
  StaticPeerDirectory,
} from '../../../fargate-proxy/src/cancel/peer-directory';
import { gatewayConfigSchema } from '../../../fargate-proxy/src/config';
import { createLogger, type Logger } from '../../../fargate-proxy/src/observability/logger';

/** A resolver that answers from `answers` (or fails with `failure`) and counts its look-ups. */
class FakeResolver implements HostResolver {
  lookups: string[] = [];
  answers: string[] = [];
  failure?: Error;
  private release?: () => void;
  private gate?: Promise<void>;

  /** Holds every look-up until `open()`. */
  hold(): void {
    this.gate = new Promise((resolve) => {
      this.release = resolve;
    });
  }

  open(): void {
    this.release?.();
    this.gate = undefined;
  }

  async resolve4(hostname: string): Promise<string[]> {
    this.lookups.push(hostname);
    if (this.gate) await this.gate;
    if (this.failure) throw this.failure;
    return [...this.answers];
  }
}

function capturingLogger(): { log: Logger; lines: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const log = createLogger('debug', {}, (line) => lines.push(line));
  return { log, lines: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

function directory(resolver: FakeResolver, overrides: Partial<DnsPeerDirectoryOptions> = {}) {
  let time = 1_000_000;
  const clock = {
    advance: (ms: number) => {
      time += ms;
    },
  };
  const dir = new DnsPeerDirectory({
    dnsName: 'gateway.gatehouse.internal',
    port: 6433,
    refreshMs: 5_000,
    log: capturingLogger().log,
    resolver,
    ownAddresses: () => ['10.0.1.5'],
    now: () => time,
    ...overrides,
  });
  return { dir, clock };
}

describe('StaticPeerDirectory', () => {
  it('lists the configured host:port peers', async () => {
    // GIVEN
    const dir = new StaticPeerDirectory(['10.0.0.1:6433', 'gw-b.internal:7000']);
    // WHEN
    const peers = await dir.peers();
    // THEN
    expect(peers).toEqual([
      { host: '10.0.0.1', port: 6433 },
      { host: 'gw-b.internal', port: 7000 },
    ]);
  });
});

describe('DnsPeerDirectory', () => {
  it('lists every A record of the name on the peer port, its own address and duplicates left out', async () => {
    // GIVEN
    const resolver = new FakeResolver();
    resolver.answers = ['10.0.1.5', '10.0.2.9', '10.0.3.7', '10.0.2.9'];
    const { dir } = directory(resolver);
    // WHEN
    const peers = await dir.peers();
    // THEN
    expect(resolver.lookups).toEqual(['gateway.gatehouse.internal']);
    expect(peers).toEqual([
      { host: '10.0.2.9', port: 6433 },
      { host: '10.0.3.7', port: 6433 },
    ]);
  });

  it('keeps an answer refreshMs, then resolves the name again and follows the instances that came and went', async () => {
    // GIVEN
    const resolver = new FakeResolver();
    resolver.answers = ['10.0.1.5', '10.0.2.9'];
    const { dir, clock } = directory(resolver);
    await dir.peers();
    resolver.answers = ['10.0.1.5', '10.0.3.7'];
    // WHEN: within refreshMs, then past it
    clock.advance(4_999);
    const cached = await dir.peers();
    clock.advance(1);
    const refreshed = await dir.peers();
    // THEN
    expect(cached).toEqual([{ host: '10.0.2.9', port: 6433 }]);
    expect(refreshed).toEqual([{ host: '10.0.3.7', port: 6433 }]);
    expect(resolver.lookups).toHaveLength(2);
  });

  it('resolves for every call when refreshMs is 0', async () => {
    // GIVEN
    const resolver = new FakeResolver();
    resolver.answers = ['10.0.2.9'];
    const { dir } = directory(resolver, { refreshMs: 0 });
    // WHEN
    await dir.peers();
    await dir.peers();
    // THEN
    expect(resolver.lookups).toHaveLength(2);
  });

  it('shares one look-up among cancels that arrive while it runs', async () => {
    // GIVEN
    const resolver = new FakeResolver();
    resolver.answers = ['10.0.2.9'];
    resolver.hold();
    const { dir } = directory(resolver);
    // WHEN
    const both = Promise.all([dir.peers(), dir.peers()]);
    resolver.open();
    const [first, second] = await both;
    // THEN
    expect(resolver.lookups).toHaveLength(1);
    expect(first).toBe(second);
  });

  it('rejects when the look-up fails, and does not keep the failure: the next call resolves again', async () => {
    // GIVEN
    const resolver = new FakeResolver();
    resolver.failure = Object.assign(new Error('queryA ENOTFOUND gateway.gatehouse.internal'), {
      code: 'ENOTFOUND',
    });
    const { dir } = directory(resolver);
    // WHEN / THEN
    await expect(dir.peers()).rejects.toMatchObject({ code: 'ENOTFOUND' });
    resolver.failure = undefined;
    resolver.answers = ['10.0.2.9'];
    await expect(dir.peers()).resolves.toEqual([{ host: '10.0.2.9', port: 6433 }]);
    expect(resolver.lookups).toHaveLength(2);
  });

  it('warns when the answer is as large as a multivalue answer gets (instances may be missing)', async () => {
    // GIVEN
    const resolver = new FakeResolver();
    const { log, lines } = capturingLogger();
    const { dir } = directory(resolver, { log, refreshMs: 0 });
    // WHEN: seven records, then eight
    resolver.answers = Array.from({ length: 7 }, (_, i) => `10.0.4.${i + 1}`);
    await dir.peers();
    resolver.answers = Array.from({ length: 8 }, (_, i) => `10.0.4.${i + 1}`);
    await dir.peers();
    // THEN
    expect(lines().map((l) => [l.level, l.msg, l.answers])).toEqual([
      ['warn', 'peer discovery answer may be incomplete: cancels may miss some instances', 8],
    ]);
    expect(DnsPeerDirectory.MULTIVALUE_ANSWER_LIMIT).toBe(8);
  });
});

describe('interfaceAddresses', () => {
  it('lists this host’s IPv4 addresses, loopback included', () => {
    const addresses = interfaceAddresses();
    expect(addresses).toContain('127.0.0.1');
    for (const address of addresses) expect(address).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  });
});

describe('peerDirectoryFor', () => {
  const cancelOf = (cancel: Record<string, unknown>) => gatewayConfigSchema.shape.cancel.parse(cancel);

  it('uses the static peers when no discovery is configured', async () => {
    const dir = peerDirectoryFor(cancelOf({ peers: ['10.0.0.1:6433'] }), capturingLogger().log);
    expect(dir).toBeInstanceOf(StaticPeerDirectory);
    await expect(dir.peers()).resolves.toEqual([{ host: '10.0.0.1', port: 6433 }]);
  });

  it('discovers by DNS through the given resolver, leaving out its interfaces and its bound peer host', async () => {
    // GIVEN
    const resolver = new FakeResolver();
    resolver.answers = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
    const cancel = cancelOf({
      peerHost: '127.0.0.2',
      peerPort: 7433,
      peerDiscovery: { dnsName: 'gateway.test', port: 7433 },
    });
    // WHEN
    const dir = peerDirectoryFor(cancel, capturingLogger().log, { resolver });
    const peers = await dir.peers();
    // THEN: 127.0.0.1 is an interface's address, 127.0.0.2 the bound peer host
    expect(dir).toBeInstanceOf(DnsPeerDirectory);
    expect(resolver.lookups).toEqual(['gateway.test']);
    expect(peers).toEqual([{ host: '127.0.0.3', port: 7433 }]);
  });
});
