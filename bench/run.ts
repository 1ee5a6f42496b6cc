import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../local/free-port';
import { requireExecutable } from './executables';
import { type BenchGateway, startBenchGateway } from './gateway';
import { measureIdleConnections } from './idle-connections';
import { describeMachine, toolVersion } from './machine';
import { formatMaskingReport, runMaskingRounds, summarizeMasking } from './masking-bench';
import { type BenchPgbouncer, findPgbouncer, startBenchPgbouncer } from './pgbouncer';
import { BENCH_DATABASE, type BenchPostgres, countSessions, startBenchPostgres } from './postgres';
import { formatBaselineReport, formatReport, mediansOf, summarize } from './report';
import { runRounds, type Targets, warmUp } from './rounds';
import { readSettings } from './settings';

/**
 * `npm run bench`: the gateway against PostgreSQL directly and against pgbouncer, on this machine, with
 * everything it needs started here and removed at the end. See section 5 of the proxy reference for the
 * method; this file only orchestrates.
 */

const SUBJECT = 'bench-client';
/** Claims the bench policy's identities match on (bench/bench-policy.yaml). */
const BENCH_CLAIMS = { sub: SUBJECT, repository: 'example/bench' };
/** The same service under the grant whose audit selects nothing: the policy-only row. */
const UNAUDITED_CLAIMS = { sub: `unaudited-${SUBJECT}`, repository: 'example/bench' };
/** And under the grant that masks two columns of masking_bench (audit off, as the policy-only row). */
const MASKED_CLAIMS = { sub: `masked-${SUBJECT}`, repository: 'example/bench' };
/** And under the grant whose reads are audited in strict mode. */
const STRICT_CLAIMS = { sub: `strict-${SUBJECT}`, repository: 'example/bench' };
const IDLE_APPLICATION = 'gatehouse-bench-idle';

/** Each of these processes needs a descriptor per session (the gateway two), and the limit is inherited. */
function checkDescriptorLimit(idleConnections: number): void {
  const raw = execFileSync('sh', ['-c', 'ulimit -n']).toString().trim();
  const needed = 2 * idleConnections + 512;
  if (raw !== 'unlimited' && Number(raw) < needed) {
    throw new Error(
      `ulimit -n is ${raw}; the idle-connection test needs at least ${needed}. Raise it (ulimit -n 8192) or lower BENCH_IDLE_CONNECTIONS.`,
    );
  }
}

const say = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const settings = readSettings();
  const pgbench = requireExecutable(
    'pgbench',
    'install the PostgreSQL client tools (Debian: apt-get install -y postgresql-client)',
  );
  const pgbouncerBinary = findPgbouncer();
  checkDescriptorLimit(settings.idleConnections);

  const directory = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-'));
  // Traversable but not listable, so that PostgreSQL and pgbouncer, run as a service account under root,
  // reach their own 0700 directories inside; every secret is a 0600 file or inside a 0700 directory.
  chmodSync(directory, 0o711);
  const stops: Array<() => Promise<void>> = [];
  let cleaning: Promise<void> | undefined;
  const cleanup = () => {
    cleaning ??= (async () => {
      for (const stop of stops.reverse())
        await stop().catch((error) => say(`cleanup: ${(error as Error).message}`));
      rmSync(directory, { recursive: true, force: true });
    })();
    return cleaning;
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      say(`${signal}: stopping the servers and removing ${directory}…`);
      void cleanup().then(() => process.exit(130));
    });
  }

  try {
    say(`Starting PostgreSQL and loading pgbench scale 10 into "${BENCH_DATABASE}" (${directory})…`);
    const postgres: BenchPostgres = await startBenchPostgres(
      directory,
      await freePort(),
      pgbench,
      Math.max(2300, settings.idleConnections + 300),
    );
    stops.push(postgres.stop);
    const upstream = {
      host: postgres.host,
      port: postgres.port,
      user: postgres.user,
      password: postgres.password,
    };

    const gateway: BenchGateway = await startBenchGateway({
      directory,
      upstream,
      workers: settings.gatewayWorkers,
      // Per worker; every idle session may land on the same one.
      maxConnections: settings.idleConnections + 100,
      nodeArgs: settings.gatewayNodeArgs,
    });
    stops.push(gateway.stop);
    mkdirSync(path.join(directory, 'cluster'), { recursive: true });
    const cluster: BenchGateway = await startBenchGateway({
      directory: path.join(directory, 'cluster'),
      upstream,
      workers: settings.clusterWorkers,
      maxConnections: 1000,
      nodeArgs: [],
    });
    stops.push(cluster.stop);
    let baseline: BenchGateway | undefined;
    if (settings.baselineCli) {
      mkdirSync(path.join(directory, 'baseline'), { recursive: true });
      baseline = await startBenchGateway({
        directory: path.join(directory, 'baseline'),
        upstream,
        workers: settings.gatewayWorkers,
        maxConnections: 1000,
        nodeArgs: [],
        cli: settings.baselineCli,
      });
      stops.push(baseline.stop);
    }
    const pgbouncer: BenchPgbouncer = await startBenchPgbouncer(pgbouncerBinary, {
      directory,
      port: await freePort(),
      upstream: {
        host: postgres.host,
        port: postgres.port,
        user: postgres.user,
        scramSecret: postgres.scramSecret,
      },
      database: BENCH_DATABASE,
    });
    stops.push(pgbouncer.stop);
    say(
      `gateway pid ${gateway.pid} on port ${gateway.port}; pgbouncer pid ${pgbouncer.pid} on port ${pgbouncer.port}`,
    );

    const machine = describeMachine({
      postgres: postgres.version,
      pgbouncer: toolVersion(pgbouncerBinary),
      pgbench: toolVersion(pgbench),
    });

    const targets: Targets = {
      endpoint: (target, sslmode) => {
        const common = { host: '127.0.0.1', database: BENCH_DATABASE, sslmode };
        switch (target) {
          case 'direct':
            return { ...common, port: postgres.port, user: postgres.user, password: postgres.password };
          case 'pgbouncer':
            return { ...common, port: pgbouncer.port, user: postgres.user, password: postgres.password };
          case 'gateway':
          case 'gateway-policy':
          case 'gateway-strict':
          case 'gateway-cluster':
          case 'baseline':
          case 'baseline-policy': {
            // The token is the password: a fresh one per run, valid well past the run's connections.
            const serving =
              target === 'gateway-cluster' ? cluster : target.startsWith('baseline') ? baseline! : gateway;
            const claims =
              target === 'gateway-policy' || target === 'baseline-policy'
                ? UNAUDITED_CLAIMS
                : target === 'gateway-strict'
                  ? STRICT_CLAIMS
                  : BENCH_CLAIMS;
            return {
              ...common,
              port: serving.port,
              user: claims.sub,
              password: serving.issuer.sign(claims, 3600),
            };
          }
        }
      },
      pid: (target) =>
        ({
          gateway: gateway.pid,
          'gateway-policy': gateway.pid,
          'gateway-strict': gateway.pid,
          'gateway-cluster': cluster.pid,
          baseline: baseline?.pid,
          'baseline-policy': baseline?.pid,
          pgbouncer: pgbouncer.pid,
          direct: undefined,
        })[target],
    };

    const load = { start: os.loadavg()[0] ?? 0, end: 0 };
    say('Warming up…');
    await warmUp(pgbench, targets, Math.min(2, settings.seconds), settings.baselineCli !== undefined);
    const runs = await runRounds(pgbench, targets, settings, say);
    if (settings.baselineOnly) {
      say(formatBaselineReport({ medians: mediansOf(runs) }, settings.baselineCli));
      return;
    }

    say('Masking rounds…');
    const maskingTarget = (claims: typeof MASKED_CLAIMS) => () => ({
      host: '127.0.0.1',
      port: gateway.port,
      database: BENCH_DATABASE,
      user: claims.sub,
      password: gateway.issuer.sign(claims, 3600),
    });
    const maskingRuns = await runMaskingRounds(
      { on: maskingTarget(MASKED_CLAIMS), off: maskingTarget(UNAUDITED_CLAIMS) },
      settings.rounds,
      Math.max(2, Math.round(settings.seconds / 2)),
      say,
    );

    say(`Opening ${settings.idleConnections} idle TLS sessions through the gateway…`);
    const idle = await measureIdleConnections({
      host: '127.0.0.1',
      port: gateway.port,
      database: BENCH_DATABASE,
      user: SUBJECT,
      token: () => gateway.issuer.sign(BENCH_CLAIMS, 3600),
      count: settings.idleConnections,
      concurrency: 32,
      gatewayPid: gateway.pid,
      applicationName: IDLE_APPLICATION,
      countServerSessions: () => countSessions(postgres, IDLE_APPLICATION),
    });

    load.end = os.loadavg()[0] ?? 0;
    const summary = summarize(runs, idle);
    say(formatReport(summary, machine, settings, load));
    say(formatBaselineReport(summary, settings.baselineCli));
    const masking = summarizeMasking(maskingRuns);
    say(formatMaskingReport(masking));
    if (gateway.problems.length > 0) {
      say(`The gateway logged ${gateway.problems.length} warning(s)/error(s); the first ones:`);
      for (const line of gateway.problems.slice(0, 10)) say(`  ${line}`);
    }
    const resultsDir = path.join(__dirname, 'results');
    mkdirSync(resultsDir, { recursive: true });
    const resultsFile = path.join(resultsDir, 'latest.json');
    writeFileSync(
      resultsFile,
      `${JSON.stringify({ date: new Date().toISOString(), machine, settings, load, runs, summary, maskingRuns, masking, gatewayProblems: gateway.problems }, null, 2)}\n`,
    );
    say(`Results written to ${path.relative(process.cwd(), resultsFile) || resultsFile}`);
  } finally {
    await cleanup();
  }
}

main().catch((error) => {
  process.stderr.write(`bench: ${(error as Error).message}\n`);
  process.exitCode = 1;
});
