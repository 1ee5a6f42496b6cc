import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Duplex } from 'node:stream';

/**
 * `npm run bench:relay -- OTHER_DIST`: CPU per transaction of the relay and the policy, this build
 * against another build's `dist/`, in one process, without sockets, PostgreSQL or pgbench. Both
 * builds' Relay and SessionPolicy run pgbench's select-only transactions (simple: one Query with a
 * new literal each time; prepared: Bind, Execute, Sync) against canned server answers, in
 * alternating slices, so a machine whose speed drifts (a shared host) slows both alike. What
 * `npm run bench` cannot resolve on such a machine (a few per cent), this can; it measures only the
 * gateway's own work on the data path (no audit: the policy-only grant).
 */

interface Build {
  name: string;
  relay(protocol: 'simple' | 'prepared'): { transaction(i: number): void };
}

const THIS_DIST = path.resolve(__dirname, '..');
const POLICY = readFileSync(path.resolve(THIS_DIST, '..', 'bench', 'bench-policy.yaml'), 'utf8');
const IDENTITY = {
  issuer: 'https://issuer.gatehouse.local',
  issuerName: 'local',
  subject: 'unaudited-bench-1',
  claims: { sub: 'unaudited-bench-1', repository: 'example/bench' },
};

function message(code: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(code, 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}
const cstr = (text: string) => Buffer.from(`${text}\0`, 'utf8');
const int16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

const SELECT = 'SELECT abalance FROM pgbench_accounts WHERE aid = ';
const ROW_DESCRIPTION = message(
  'T',
  Buffer.concat([
    int16(1),
    cstr('abalance'),
    int32(16397),
    int16(2),
    int32(23),
    int16(4),
    int32(-1),
    int16(0),
  ]),
);
const DATA_ROW = message('D', Buffer.concat([int16(1), int32(1), Buffer.from('0')]));
const SELECT_1 = message('C', cstr('SELECT 1'));
const READY = message('Z', Buffer.from('I'));
const SIMPLE_REPLY = Buffer.concat([ROW_DESCRIPTION, DATA_ROW, SELECT_1, READY]);
const PREPARED_REPLY = Buffer.concat([message('2', Buffer.alloc(0)), DATA_ROW, SELECT_1, READY]);
const PARSE = message('P', Buffer.concat([cstr('s'), cstr(`${SELECT}$1`), int16(1), int32(23)]));
const DESCRIBE_SYNC = Buffer.concat([
  message('D', Buffer.concat([Buffer.from('S'), cstr('s')])),
  message('S', Buffer.alloc(0)),
]);
const PARSE_REPLY = Buffer.concat([
  message('1', Buffer.alloc(0)),
  message('t', Buffer.concat([int16(1), int32(23)])),
  ROW_DESCRIPTION,
  READY,
]);

function bindExecuteSync(aid: number): Buffer {
  const value = Buffer.from(String(aid));
  return Buffer.concat([
    message(
      'B',
      Buffer.concat([cstr(''), cstr('s'), int16(0), int16(1), int32(value.length), value, int16(0)]),
    ),
    message('E', Buffer.concat([cstr(''), int32(0)])),
    message('S', Buffer.alloc(0)),
  ]);
}

function sink(): Duplex {
  return new Duplex({
    read() {},
    write(_chunk, _encoding, done) {
      done();
    },
  });
}

// biome-ignore lint/suspicious/noExplicitAny: modules of another build, loaded by path
type Module = any;

async function load(dist: string, name: string): Promise<Build> {
  const need = (file: string): Module => require(path.join(dist, file));
  await need('core/sql/parser.js').loadParser();
  const loaded = need('core/policy/load-policy.js').loadPolicy(POLICY);
  if (!loaded.ok) throw new Error(`${name}: the bench policy does not load`);
  const policy = loaded.policy;
  const grant = need('core/policy/admission.js').grantFor(policy, IDENTITY, 'bench');
  const { StatementAnalyser } = need('fargate-proxy/src/policy/statement-analyser.js');
  const { StatementPacer } = need('fargate-proxy/src/policy/statement-pacer.js');
  const { SessionPolicy } = need('fargate-proxy/src/policy/session-policy.js');
  const { Relay } = need('fargate-proxy/src/session/relay.js');
  const { Metrics } = need('fargate-proxy/src/observability/metrics.js');
  const { silentLogger } = need('fargate-proxy/src/observability/logger.js');
  const { IdleSweeper } = need('fargate-proxy/src/session/idle-sweeper.js');
  return {
    name,
    relay(protocol) {
      const analyser = new StatementAnalyser({ cacheEntries: 10_000, offloadChars: 1e9, pool: {} });
      const gate = new SessionPolicy(
        { analyser, pacer: new StatementPacer(), maxStatementChars: 1e6, now: () => new Date() },
        IDENTITY,
        'bench',
        policy,
        grant,
      );
      const relay = new Relay({
        client: sink(),
        upstream: sink(),
        limits: { maxClientMessageBytes: 1 << 20, maxServerMessageBytes: 1 << 20, idleTimeoutMs: 0 },
        gate,
        metrics: new Metrics(),
        log: silentLogger,
        idle: new IdleSweeper(1000),
        onClose: () => undefined,
      });
      const fromClient = (bytes: Buffer) => relay.fromClient(bytes);
      const fromServer = (bytes: Buffer) => relay.fromUpstream(bytes);
      if (protocol === 'prepared') {
        fromClient(Buffer.concat([PARSE, DESCRIBE_SYNC]));
        fromServer(PARSE_REPLY);
        return {
          transaction(i) {
            fromClient(bindExecuteSync((i % 100_000) + 1));
            fromServer(PREPARED_REPLY);
          },
        };
      }
      return {
        transaction(i) {
          fromClient(message('Q', cstr(`${SELECT}${(i % 100_000) + 1}`)));
          fromServer(SIMPLE_REPLY);
        },
      };
    },
  };
}

/** `global.gc`, when node runs with --expose-gc (npm run bench:relay does). */
const collectGarbage = (globalThis as { gc?: () => void }).gc;

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function main(): Promise<void> {
  const other = process.argv[2];
  if (!other) {
    process.stderr.write("usage: npm run bench:relay -- OTHER_DIST   (another build's dist/ directory)\n");
    process.exit(2);
  }
  const slices = Number(process.env.RELAY_AB_SLICES ?? 21);
  const perSlice = Number(process.env.RELAY_AB_TRANSACTIONS ?? 20_000);
  const builds = [await load(THIS_DIST, 'this build'), await load(path.resolve(other), 'other build')];
  for (const protocol of ['simple', 'prepared'] as const) {
    const runs = builds.map((build) => build.relay(protocol));
    // Warm both up (JIT, caches) before measuring.
    for (const run of runs) for (let i = 0; i < perSlice; i++) run.transaction(i);
    const ratios: number[] = [];
    const each: number[][] = [[], []];
    for (let slice = 0; slice < slices; slice++) {
      const order = slice % 2 === 0 ? [0, 1] : [1, 0];
      const spent: number[] = [0, 0];
      for (const index of order) {
        // Each slice starts with a clean heap: one build's garbage is not collected in the other's time.
        collectGarbage?.();
        const before = cpuMicros();
        for (let i = 0; i < perSlice; i++) runs[index]!.transaction(slice * perSlice + i);
        spent[index] = ((cpuMicros() - before) * 1000) / perSlice;
      }
      each[0]!.push(spent[0]!);
      each[1]!.push(spent[1]!);
      ratios.push(spent[0]! / spent[1]!);
    }
    process.stdout.write(
      `${protocol.padEnd(9)} this ${median(each[0]!).toFixed(0)} ns/txn, other ${median(each[1]!).toFixed(0)} ns/txn, ` +
        `this/other ${median(ratios).toFixed(3)} (median of ${slices} paired slices, ${perSlice} transactions each; ` +
        `range ${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)})\n`,
    );
  }
}

void main();
