import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { GatewayConfigInput } from '../fargate-proxy/src/config';
import { ensureAuditSigningKey, ensureSelfSignedCertificate } from '../local/certificates';
import { type LocalIssuer, localIssuerConfig, openLocalIssuer } from '../local/token-issuer';
import { processTree } from './process-stats';

/**
 * The gateway under test, run the way a container runs it: `gatehouse serve` as its own process, with a
 * generated configuration file and the upstream password in the environment.
 */
export interface GatewaySetup {
  directory: string;
  upstream: { host: string; port: number; user: string; password: string };
  workers: number;
  maxConnections: number;
  /** Extra node flags for the primary (e.g. --cpu-prof with workers 0 for a profile). */
  nodeArgs: readonly string[];
  /** The CLI to run: this build's unless another's is given (a baseline to compare with). */
  cli?: string;
}

export interface BenchGateway {
  /** The primary; its workers are found through /proc. */
  pid: number;
  port: number;
  issuer: LocalIssuer;
  /** Warnings and errors the gateway logged, for the report. */
  problems: string[];
  stop(): Promise<void>;
}

const DRAIN_MS = 2000;
/** The sources' copy (this file runs from dist/bench). */
const BENCH_POLICY = path.resolve(__dirname, '..', '..', 'bench', 'bench-policy.yaml');
const START_TIMEOUT_MS = 30_000;

function writeConfig(
  setup: GatewaySetup,
  issuer: LocalIssuer,
  tls: { certFile: string; keyFile: string },
): string {
  const config = {
    listen: { host: '127.0.0.1', port: 0 },
    workers: setup.workers,
    tls: { certFile: tls.certFile, keyFile: tls.keyFile },
    upstream: { host: setup.upstream.host, port: setup.upstream.port, tls: 'disable' },
    credentials: { source: 'env', user: setup.upstream.user },
    issuers: [localIssuerConfig(issuer)],
    // A realistic policy: every statement is analysed and decided (bench/bench-policy.yaml).
    policy: { file: BENCH_POLICY },
    // Every statement audited (buffered: spooled within 200 ms, digests every minute).
    audit: {
      directory: path.join(setup.directory, 'audit'),
      signingKeyFile: ensureAuditSigningKey(path.join(setup.directory, 'audit-signing-key.pem')),
    },
    limits: { maxConnections: setup.maxConnections },
    // No health port and no embedded-metric lines: nothing but sessions should cost CPU in the measurement.
    health: { emfIntervalMs: 0 },
    drainMs: DRAIN_MS,
    // The production default: per-session log lines are part of what a session costs.
    logLevel: 'info',
  } satisfies GatewayConfigInput;
  const file = path.join(setup.directory, 'gateway.json');
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return file;
}

function waitUntilListening(
  child: ChildProcessByStdio<null, Readable, Readable>,
  problems: string[],
): Promise<number> {
  const recent: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(new Error(`the gateway did not start within ${START_TIMEOUT_MS} ms:\n${recent.join('\n')}`)),
      START_TIMEOUT_MS,
    );
    const onLine = (line: string) => {
      recent.push(line);
      if (recent.length > 40) recent.shift();
      let record: { level?: string; msg?: string; port?: number };
      try {
        record = JSON.parse(line);
      } catch {
        if (line.trim() !== '') problems.push(line); // not one of the gateway's JSON lines: a crash trace
        return;
      }
      if (record.level === 'warn' || record.level === 'error') problems.push(line);
      if (record.msg === 'gateway listening' && typeof record.port === 'number') {
        clearTimeout(timer);
        resolve(record.port);
      }
    };
    // Both streams are read to the end so that a chatty gateway never blocks on a full pipe.
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the gateway exited during startup (${code}):\n${recent.join('\n')}`));
    });
  });
}

export async function startBenchGateway(setup: GatewaySetup): Promise<BenchGateway> {
  const issuer = openLocalIssuer(path.join(setup.directory, 'issuer'));
  const tls = await ensureSelfSignedCertificate(path.join(setup.directory, 'tls'));
  const configFile = writeConfig(setup, issuer, tls);
  const cli = setup.cli ?? path.join(__dirname, '..', 'bin', 'gatehouse.js');
  const child = spawn(process.execPath, [...setup.nodeArgs, cli, 'serve'], {
    env: {
      ...process.env,
      GATEHOUSE_CONFIG_FILE: configFile,
      GATEHOUSE_UPSTREAM_PASSWORD: setup.upstream.password,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const problems: string[] = [];
  const port = await waitUntilListening(child, problems).catch((error) => {
    child.kill('SIGKILL');
    throw error;
  });
  const pid = child.pid!;
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const tree = processTree(pid);
      const timer = setTimeout(() => {
        // Only the processes this benchmark started, by pid.
        for (const member of tree) {
          try {
            process.kill(member, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }, DRAIN_MS + 15_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM'); // the gateway drains its sessions and stops its workers
    });
    return stopping;
  };
  return { pid, port, issuer, problems, stop };
}
