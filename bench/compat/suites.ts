import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cleanEnvironment, run, SetupError } from './process';

/** The scripts of ../shared/tools this harness drives. */
export const TOOL_SCRIPTS = ['pg-regress-prepare.sh', 'pg-regress-run.sh', 'npg-suite.sh'] as const;

export interface Endpoint {
  host: string;
  port: number;
  user: string;
  password: string;
}

export interface SuiteResult {
  passed: number;
  failed: number;
  /** Names of the failing tests (pg_regress) or files (node-postgres). */
  failures: string[];
  /** The script's own summary line. */
  summary: string;
  seconds: number;
  /** pg_regress: the directory with run.log, regression.diffs and results/. */
  outputDir?: string;
  /** Last lines of output when the summary could not be parsed. */
  problem?: string;
}

/** Where the tools put the regression suite: $PGREG, else `$(dirname $(mktemp -u))/pgreg`. */
export function pgRegressHome(): string {
  return process.env.PGREG || path.join(tmpdir(), 'pgreg');
}

/** Where the tools expect node-postgres's packages/pg: $NPG, else `$(dirname $(mktemp -u))/npg/packages/pg`. */
export function npgHome(): string {
  return process.env.NPG || path.join(tmpdir(), 'npg', 'packages', 'pg');
}

/** The prepared source tree (regress.so and the spi modules built), or undefined. */
export function preparedRegressTree(pgreg: string): string | undefined {
  if (!existsSync(pgreg)) return undefined;
  for (const entry of readdirSync(pgreg, { withFileTypes: true })) {
    if (!entry.isDirectory() || !entry.name.startsWith('postgresql-15-')) continue;
    const regress = path.join(pgreg, entry.name, 'src', 'test', 'regress');
    if (['regress.so', 'autoinc.so', 'refint.so'].every((file) => existsSync(path.join(regress, file)))) {
      return path.join(pgreg, entry.name);
    }
  }
  return undefined;
}

/** Runs pg-regress-prepare.sh (root only: it adds Debian's deb-src lines and build packages). */
export async function preparePgRegress(tools: string, pgreg: string): Promise<void> {
  const howTo =
    `as root: PGREG=${pgreg} ${path.join(tools, 'pg-regress-prepare.sh')}\n` +
    '  (it enables deb-src in /etc/apt/sources.list.d, installs bison flex libreadline-dev zlib1g-dev dpkg-dev,\n' +
    '   runs `apt-get source postgresql-15` for the installed version, and needs gcc and make)';
  if (process.getuid?.() !== 0)
    throw new SetupError(`the regression suite is not prepared under ${pgreg}; prepare it ${howTo}`);
  process.stdout.write(`preparing the regression suite under ${pgreg} (once per machine, about 50 s)…\n`);
  const result = await run('bash', [path.join(tools, 'pg-regress-prepare.sh')], {
    env: { ...process.env, PGREG: pgreg, DEBIAN_FRONTEND: 'noninteractive' },
    timeoutMs: 600_000,
  });
  if (result.code !== 0 || !preparedRegressTree(pgreg)) {
    const output = `${result.stdout}${result.stderr}`.trim().split('\n').slice(-15).join('\n');
    throw new SetupError(
      `pg-regress-prepare.sh failed (exit ${result.code ?? result.signal}):\n${output}\nRun it ${howTo}`,
    );
  }
}

const SUMMARY = /^(\d+) passed, (\d+) failed.*$/m;

/** Failing test names from pg_regress's log (15: "name ... FAILED"; 16+: "not ok N - name"). */
function regressFailures(runLog: string): string[] {
  const names: string[] = [];
  for (const line of runLog.split('\n')) {
    const old = /^\s*(?:test\s+)?(\S+)\s+\.\.\.\s+FAILED/.exec(line);
    const tap = /^not ok\s+\d+\s+[-+]\s+(\S+)/.exec(line);
    const name = old?.[1] ?? tap?.[1];
    if (name) names.push(name);
  }
  return names;
}

/**
 * Runs pg-regress-run.sh against `endpoint`. The script writes its output to `mktemp -d`; TMPDIR points
 * that into `directory` so regression.diffs can be found afterwards.
 */
export async function runPgRegress(
  tools: string,
  pgreg: string,
  endpoint: Endpoint,
  sslmode: string,
  directory: string,
): Promise<SuiteResult> {
  mkdirSync(directory, { recursive: true });
  chmodSync(directory, 0o755); // the server (user postgres) writes COPY output under it
  const result = await run('bash', [path.join(tools, 'pg-regress-run.sh')], {
    env: cleanEnvironment({
      PGREG: pgreg,
      TMPDIR: directory,
      PGHOST: endpoint.host,
      PGPORT: String(endpoint.port),
      PGUSER: endpoint.user,
      PGPASSWORD: endpoint.password,
      PGSSLMODE: sslmode,
      PGCONNECT_TIMEOUT: '20',
    }),
    timeoutMs: 300_000,
  });
  const output = `${result.stdout}${result.stderr}`;
  const outputDir = readdirSync(directory)
    .map((name) => path.join(directory, name))
    .find((dir) => existsSync(path.join(dir, 'run.log')));
  const runLog = outputDir ? readFileSync(path.join(outputDir, 'run.log'), 'utf8') : '';
  const match = SUMMARY.exec(output);
  const passed = Number(match?.[1] ?? 0);
  const failed = Number(match?.[2] ?? 0);
  const parsed: SuiteResult = {
    passed,
    failed,
    failures: regressFailures(runLog),
    summary: match?.[0] ?? '(no summary)',
    seconds: result.seconds,
    outputDir,
  };
  if (!match || result.timedOut || passed + failed === 0) {
    const why = result.timedOut ? 'timed out' : 'no tests ran';
    const lastLines = (runLog || output).trim().split('\n').slice(-12).join('\n');
    parsed.problem = `${why}:\n${lastLines}`;
  }
  return parsed;
}

/** True when the node-postgres suite has been extracted and its test dependencies installed. */
export function npgPrepared(npg: string): boolean {
  return (
    existsSync(path.join(npg, 'test', 'integration')) &&
    existsSync(path.join(npg, 'node_modules', 'pg-types'))
  );
}

export function npgHowTo(npg: string): string {
  const root = path.dirname(path.dirname(npg));
  return [
    `the node-postgres suite is not prepared at ${npg}. To prepare it (never commit it):`,
    `  mkdir -p ${root} && git clone --depth 1 https://github.com/brianc/node-postgres /tmp/node-postgres-src`,
    `  git -C /tmp/node-postgres-src archive HEAD packages/pg | tar -x -C ${root}`,
    `  cd ${npg} && npm install --no-save --ignore-scripts pg-connection-string pg-pool pg-protocol \\`,
    '      pg-types@2.2.0 pgpass@1.0.5 async@2.6.4 bluebird@3.7.2 co@4.6.0 pg-copy-streams@0.3.0',
  ].join('\n');
}

/**
 * Runs npg-suite.sh against `endpoint`. PGTESTNOSSL=false includes the TLS tests (ssl-tests.js and
 * connection-pool/tls-tests.js open TLS connections themselves). PGSSLMODE stays unset: the suite's own
 * tests assume it (gh-issues/130 runs psql, which rejects node-postgres's `no-verify`, and several tests
 * start fake servers that do not speak TLS).
 */
export async function runNpgSuite(tools: string, npg: string, endpoint: Endpoint): Promise<SuiteResult> {
  const result = await run('bash', [path.join(tools, 'npg-suite.sh')], {
    env: cleanEnvironment({
      NPG: npg,
      PGHOST: endpoint.host,
      PGPORT: String(endpoint.port),
      PGUSER: endpoint.user,
      PGPASSWORD: endpoint.password,
      PGDATABASE: 'postgres',
      PGTESTNOSSL: 'false',
    }),
    timeoutMs: 300_000,
  });
  const output = `${result.stdout}${result.stderr}`;
  const match = SUMMARY.exec(output);
  const failures = [...output.matchAll(/^failed: (\S+)/gm)].map((m) => m[1]!);
  const parsed: SuiteResult = {
    passed: Number(match?.[1] ?? 0),
    failed: Number(match?.[2] ?? 0),
    failures,
    summary: match?.[0] ?? '(no summary)',
    seconds: result.seconds,
  };
  if (!match || result.timedOut || parsed.passed + parsed.failed === 0) {
    parsed.problem = `${result.timedOut ? 'timed out' : 'no tests ran'}:\n${output.trim().split('\n').slice(-12).join('\n')}`;
  }
  return parsed;
}
