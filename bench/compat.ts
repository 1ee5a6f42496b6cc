import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureSelfSignedCertificate } from '../local/certificates';
import { permissivePolicy } from '../local/permissive-policy';
import { localIssuerConfig, openLocalIssuer } from '../local/token-issuer';
import { type GatewayProcess, startGatewayProcess } from './compat/gateway';
import {
  ensurePostgres15,
  PG_BIN,
  startThrowawayCluster,
  type ThrowawayCluster,
} from './compat/postgres-cluster';
import { cleanEnvironment, killRunningCommands, run, SetupError } from './compat/process';
import {
  type Endpoint,
  npgHome,
  npgHowTo,
  npgPrepared,
  pgRegressHome,
  preparedRegressTree,
  preparePgRegress,
  runNpgSuite,
  runPgRegress,
  type SuiteResult,
  TOOL_SCRIPTS,
} from './compat/suites';

/**
 * `npm run compat`: PostgreSQL 15's own regression suite (and node-postgres's integration suite when its
 * source is present) run directly against a throwaway Debian PostgreSQL 15 cluster and through a Gatehouse
 * gateway in front of it. Exits 1 when pg_regress does worse through the gateway than directly, 2 when the
 * harness cannot run.
 */

const IDENTITY = 'compat-suite';
const WORKERS = 2;

const out = (line = '') => process.stdout.write(`${line}\n`);

/**
 * The repository root: the nearest directory above this file with Gatehouse's package.json and a
 * tsconfig.json (dist/ holds a copy of package.json, but no tsconfig.json).
 */
function repositoryRoot(): string {
  let dir = __dirname;
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (
      existsSync(manifest) &&
      existsSync(path.join(dir, 'tsconfig.json')) &&
      (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'gatehouse'
    ) {
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new SetupError(`cannot find the repository root above ${__dirname}`);
    dir = parent;
  }
}

/** ../shared/tools beside the clone (as in CI). */
function toolsDirectory(root: string): string {
  const tools = path.resolve(root, '..', 'shared', 'tools');
  const missing = TOOL_SCRIPTS.filter((script) => !existsSync(path.join(tools, script)));
  if (missing.length > 0) {
    throw new SetupError(
      `the compatibility tools are missing: ${missing.map((s) => path.join(tools, s)).join(', ')}\n` +
        `npm run compat expects the shared tools checked out beside this repository, at ${tools}\n` +
        '(CI provides them as ../shared/tools; on a developer machine copy or link them there).',
    );
  }
  return tools;
}

interface Comparison {
  worse: boolean;
  /** Failing through the gateway, passing directly. */
  onlyThroughGateway: string[];
  /** Failing directly, passing through the gateway. */
  onlyDirect: string[];
}

function compare(direct: SuiteResult, gateway: SuiteResult): Comparison {
  const onlyThroughGateway = gateway.failures.filter((name) => !direct.failures.includes(name));
  const onlyDirect = direct.failures.filter((name) => !gateway.failures.includes(name));
  const worse =
    gateway.problem !== undefined ||
    gateway.passed < direct.passed ||
    gateway.failed > direct.failed ||
    onlyThroughGateway.length > 0;
  return { worse, onlyThroughGateway, onlyDirect };
}

function line(label: string, result: SuiteResult): string {
  return `  ${label.padEnd(8)} ${result.summary.padEnd(44)} ${result.seconds.toFixed(1).padStart(5)} s`;
}

function printComparison(
  title: string,
  direct: SuiteResult,
  gateway: SuiteResult,
  comparison: Comparison,
): void {
  out(title);
  out(line('direct', direct));
  out(line('gateway', gateway));
  const sides = [
    ['direct', direct],
    ['gateway', gateway],
  ] as const;
  for (const [label, result] of sides) {
    if (result.problem) out(`  ${label}: ${result.problem.replace(/\n/g, '\n    ')}`);
  }
  const both = gateway.failures.filter((name) => direct.failures.includes(name));
  if (comparison.onlyThroughGateway.length > 0) {
    const names = comparison.onlyThroughGateway;
    out(`  failing only through the gateway (${names.length}): ${names.join(' ')}`);
  }
  if (comparison.onlyDirect.length > 0) out(`  failing only directly: ${comparison.onlyDirect.join(' ')}`);
  if (both.length > 0) out(`  failing both ways: ${both.join(' ')}`);
  for (const [label, result] of sides) {
    if (result.outputDir && result.failed > 0) {
      out(`  ${label} diffs: ${path.join(result.outputDir, 'regression.diffs')}`);
    }
  }
}

function endpointOf(cluster: ThrowawayCluster): Endpoint {
  return { host: cluster.host, port: cluster.port, user: cluster.user, password: cluster.password };
}

/** The compatibility identity may do everything: the suites test the data path, not the policy. */
function writePermissivePolicy(directory: string): string {
  const file = path.join(directory, 'policy.yaml');
  writeFileSync(file, permissivePolicy());
  return file;
}

async function main(): Promise<number> {
  const started = performance.now();
  const root = repositoryRoot();
  const tools = toolsDirectory(root);
  await ensurePostgres15();
  const pgreg = pgRegressHome();
  if (!preparedRegressTree(pgreg)) await preparePgRegress(tools, pgreg);
  const npg = npgHome();

  const work = mkdtempSync(path.join(tmpdir(), 'gatehouse-compat-'));
  chmodSync(work, 0o755); // the servers run as postgres and must reach their directories and the outputs
  const keep = process.env.COMPAT_KEEP === '1';
  const clusters: ThrowawayCluster[] = [];
  let gateway: GatewayProcess | undefined;
  let keepOutputs = keep;
  const cleanup = async () => {
    killRunningCommands();
    await gateway?.stop().catch(() => gateway?.kill());
    await Promise.all(clusters.map((cluster) => cluster.stop()));
    if (keep) return;
    for (const name of ['pg-direct', 'pg-gateway'])
      rmSync(path.join(work, name), { recursive: true, force: true });
    if (!keepOutputs) rmSync(work, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    out(`\n${signal}: stopping the gateway and the servers…`);
    keepOutputs = false;
    cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const certificate = await ensureSelfSignedCertificate(path.join(work, 'tls'));
    const issuer = openLocalIssuer(path.join(work, 'issuer'));
    // Two identical clusters, so the direct baseline and the gateway run side by side (pg_regress owns
    // the `regression` database and cluster-wide roles, so two runs cannot share a cluster).
    const starting = ['pg-direct', 'pg-gateway'].map((name) =>
      startThrowawayCluster({ directory: path.join(work, name), tls: certificate }).then((cluster) => {
        clusters.push(cluster);
        return cluster;
      }),
    );
    const [directCluster, upstreamCluster] = await Promise.all(starting);
    gateway = await startGatewayProcess({
      repoRoot: root,
      directory: work,
      workers: WORKERS,
      tls: certificate,
      upstream: upstreamCluster!,
      issuers: [localIssuerConfig(issuer)],
      policyFile: writePermissivePolicy(work),
    });
    const token = issuer.sign({ sub: IDENTITY }, 3600);
    const direct = endpointOf(directCluster!);
    const through: Endpoint = {
      host: '127.0.0.1',
      port: gateway.port,
      user: upstreamCluster!.user,
      password: token,
    };

    out('Gatehouse compatibility suites');
    out(`  server   ${directCluster!.version}: two throwaway clusters (SCRAM, TLS on, fsync off)`);
    out(`  direct   ${direct.host}:${direct.port}`);
    out(
      `  gateway  127.0.0.1:${gateway.port} (${WORKERS} workers, client TLS, token of "${IDENTITY}") ` +
        `-> ${upstreamCluster!.host}:${upstreamCluster!.port}`,
    );
    out(`  outputs  ${work}`);

    // One statement through the gateway first: a broken setup fails here in a second, with its reason.
    const smoke = await run(path.join(PG_BIN, 'psql'), ['-XAtc', 'select 1'], {
      env: cleanEnvironment({
        PGHOST: through.host,
        PGPORT: String(through.port),
        PGUSER: through.user,
        PGPASSWORD: token,
        PGDATABASE: 'postgres',
        PGSSLMODE: 'require',
        PGCONNECT_TIMEOUT: '10',
      }),
      timeoutMs: 30_000,
    });
    if (smoke.code !== 0) {
      const reason = (smoke.stderr || smoke.stdout).trim();
      throw new SetupError(`psql through the gateway failed: ${reason} (log ${gateway.logFile})`);
    }
    out();

    out(
      'pg_regress: PostgreSQL 15 parallel_schedule (installcheck), PGSSLMODE=require, both runs side by side…',
    );
    const [regressDirect, regressGateway] = await Promise.all([
      runPgRegress(tools, pgreg, direct, 'require', path.join(work, 'pg_regress-direct')),
      runPgRegress(tools, pgreg, through, 'require', path.join(work, 'pg_regress-gateway')),
    ]);
    if (regressDirect.problem || regressDirect.passed === 0) {
      const reason = regressDirect.problem ?? regressDirect.summary;
      throw new SetupError(`pg_regress did not run directly against the server: ${reason}`);
    }
    const regress = compare(regressDirect, regressGateway);
    printComparison('pg_regress', regressDirect, regressGateway, regress);
    out();

    let npgComparison: Comparison | undefined;
    if (npgPrepared(npg)) {
      out(`node-postgres: integration suite of ${npg}, PGTESTNOSSL=false, both runs side by side…`);
      const [npgDirect, npgGateway] = await Promise.all([
        runNpgSuite(tools, npg, direct),
        runNpgSuite(tools, npg, through),
      ]);
      npgComparison = compare(npgDirect, npgGateway);
      printComparison('node-postgres', npgDirect, npgGateway, npgComparison);
    } else {
      out('node-postgres integration suite: skipped');
      out(`  ${npgHowTo(npg).replace(/\n/g, '\n  ')}`);
    }
    out();

    const seconds = ((performance.now() - started) / 1000).toFixed(0);
    keepOutputs = keep || regress.worse;
    if (npgComparison?.worse) out('warning: node-postgres does worse through the gateway than directly');
    if (regress.worse) {
      out(
        `FAIL: pg_regress does worse through the gateway than directly (${seconds} s; outputs kept in ${work})`,
      );
      return 1;
    }
    out(`OK: pg_regress passes through the gateway as it does directly (${seconds} s)`);
    return 0;
  } catch (error) {
    keepOutputs = true;
    throw error;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    killRunningCommands();
    const message = error instanceof SetupError ? error.message : ((error as Error).stack ?? String(error));
    process.stderr.write(`compat: ${message}\n`);
    process.exit(2);
  },
);
