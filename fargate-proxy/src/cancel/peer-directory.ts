import { promises as dns } from 'node:dns';
import os from 'node:os';
import type { GatewayConfig } from '../config';
import type { Logger } from '../observability/logger';

/** Where another gateway instance takes forwarded cancels: its private peer port. */
export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

/** The other gateway instances a cancel may belong to, as far as they are known now. */
export interface PeerDirectory {
  /** Rejects when they cannot be known now; the caller then drops the cancel (cancels are best effort). */
  peers(): Promise<readonly PeerAddress[]>;
}

/** The DNS look-up discovery uses: A records of a name. `dns.promises` and its `Resolver` fit. */
export interface HostResolver {
  resolve4(hostname: string): Promise<string[]>;
}

/** Milliseconds a DNS server has to answer, and tries: a cancel is worth little after a few seconds. */
const DNS_TIMEOUT_MS = 1_000;
const DNS_TRIES = 2;

/** The system's DNS servers (from resolv.conf), with a short timeout instead of c-ares' long default. */
export function systemResolver(): HostResolver {
  return new dns.Resolver({ timeout: DNS_TIMEOUT_MS, tries: DNS_TRIES });
}

/**
 * The IPv4 addresses of this host's network interfaces. On Fargate (awsvpc) the task's ENI is one of
 * them, and it is the address Cloud Map registers for the task. An environment that does not list
 * interfaces yields none: the instance then forwards to itself too, which is harmless (the peer port
 * drops cancels that are not its own, and this instance only forwards cancels that are not).
 */
export function interfaceAddresses(): string[] {
  try {
    return Object.values(os.networkInterfaces())
      .flatMap((entries) => entries ?? [])
      .filter((entry) => entry.family === 'IPv4')
      .map((entry) => entry.address);
  } catch {
    return [];
  }
}

/** A fixed list (`cancel.peers`), parsed once. */
export class StaticPeerDirectory implements PeerDirectory {
  private readonly list: readonly PeerAddress[];

  constructor(peers: readonly string[]) {
    // The configuration schema has checked the host:port shape.
    this.list = Object.freeze(
      peers.map((peer) => {
        const separator = peer.lastIndexOf(':');
        return { host: peer.slice(0, separator), port: Number(peer.slice(separator + 1)) };
      }),
    );
  }

  async peers(): Promise<readonly PeerAddress[]> {
    return this.list;
  }
}

export interface DnsPeerDirectoryOptions {
  /** The name whose A records are the instances (this one among them). */
  readonly dnsName: string;
  /** Every instance's peer port. */
  readonly port: number;
  /** Milliseconds an answer is used before the name is resolved again; 0 resolves every time. */
  readonly refreshMs: number;
  /** Says when an answer is as large as a multivalue answer gets. */
  readonly log: Logger;
  /** @default systemResolver() */
  readonly resolver?: HostResolver;
  /** This instance's own addresses, left out of the answer. @default interfaceAddresses() */
  readonly ownAddresses?: () => Iterable<string>;
  /** @default Date.now */
  readonly now?: () => number;
}

/**
 * The instances are the A records of a name: a Cloud Map service with multivalue routing, to which
 * ECS adds each task when it starts and from which it removes it when it stops. Resolved on demand,
 * when a cancel has to be forwarded, and kept `refreshMs`; concurrent cancels share one look-up. A
 * failed look-up is not kept: the next cancel tries again.
 *
 * A multivalue answer holds at most eight records (Route 53 picks eight of the healthy ones when there
 * are more): beyond eight instances a cancel may miss the one holding the session, and a warning
 * says so when an answer reaches that size.
 */
export class DnsPeerDirectory implements PeerDirectory {
  /** The most A records a Route 53 multivalue answer holds. */
  static readonly MULTIVALUE_ANSWER_LIMIT = 8;

  private readonly resolver: HostResolver;
  private readonly ownAddresses: () => Iterable<string>;
  private readonly now: () => number;
  private cached?: { at: number; peers: readonly PeerAddress[] };
  private pending?: Promise<readonly PeerAddress[]>;

  constructor(private readonly options: DnsPeerDirectoryOptions) {
    this.resolver = options.resolver ?? systemResolver();
    this.ownAddresses = options.ownAddresses ?? interfaceAddresses;
    this.now = options.now ?? Date.now;
  }

  peers(): Promise<readonly PeerAddress[]> {
    const cached = this.cached;
    if (cached && this.now() - cached.at < this.options.refreshMs) return Promise.resolve(cached.peers);
    if (!this.pending) {
      this.pending = this.resolve().finally(() => {
        this.pending = undefined;
      });
    }
    return this.pending;
  }

  private async resolve(): Promise<readonly PeerAddress[]> {
    const answers = await this.resolver.resolve4(this.options.dnsName);
    const own = new Set(this.ownAddresses());
    const peers = Object.freeze(
      [...new Set(answers)]
        .filter((address) => !own.has(address))
        .map((host) => ({ host, port: this.options.port })),
    );
    if (answers.length >= DnsPeerDirectory.MULTIVALUE_ANSWER_LIMIT) {
      this.options.log.warn('peer discovery answer may be incomplete: cancels may miss some instances', {
        dnsName: this.options.dnsName,
        answers: answers.length,
        limit: DnsPeerDirectory.MULTIVALUE_ANSWER_LIMIT,
      });
    }
    this.cached = { at: this.now(), peers };
    return peers;
  }
}

/** Ports the peer directory may be given instead of the real DNS (tests point it at loopback). */
export interface PeerDirectoryPorts {
  /** @default systemResolver() */
  readonly resolver?: HostResolver;
}

const WILDCARD_HOSTS = new Set(['', '0.0.0.0', '::']);

/**
 * The directory `cancel` configures: discovery by DNS when `peerDiscovery` is set, else the fixed
 * `peers` (possibly none). A peer host bound to one address counts as this instance's own too.
 */
export function peerDirectoryFor(
  cancel: GatewayConfig['cancel'],
  log: Logger,
  ports: PeerDirectoryPorts = {},
): PeerDirectory {
  const discovery = cancel.peerDiscovery;
  if (!discovery) return new StaticPeerDirectory(cancel.peers);
  const boundTo = WILDCARD_HOSTS.has(cancel.peerHost) ? [] : [cancel.peerHost];
  return new DnsPeerDirectory({
    dnsName: discovery.dnsName,
    port: discovery.port,
    refreshMs: discovery.refreshMs,
    log,
    resolver: ports.resolver,
    ownAddresses: () => [...interfaceAddresses(), ...boundTo],
  });
}
