import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { GatewayConfigInput } from '../../fargate-proxy/src/config';
import { ensureAuditSigningKey } from '../../local/certificates';
import { freePort, SetupError, sleep } from './process';

export interface GatewayProcess {
  port: number;
  healthPort: number;
  logFile: string;
  /** SIGTERM, then SIGKILL if it has not drained in time. */
  stop(): Promise<void>;
  /** SIGKILL to the whole process group (primary and workers), for emergencies. */
  kill(): void;
}

export interface GatewayOptions {
  repoRoot: string;
  /** Where the configuration file and the log go. */
  directory: string;
  workers: number;
  tls: { certFile: string; keyFile: string };
  upstream: { host: string; port: number; user: string; password: string };
  issuers: GatewayConfigInput['issuers'];
  policyFile: string;
}

function readyz(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const request = http.get({ host: '127.0.0.1', port, path: '/readyz', timeout: 2000 }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    request.on('error', () => resolve(false));
    request.on('timeout', () => {
      request.destroy();
      resolve(false);
    });
  });
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Starts `gatehouse serve` as its own process (as a container would) and waits for /readyz. */
export async function startGatewayProcess(options: GatewayOptions): Promise<GatewayProcess> {
  const cli = path.join(options.repoRoot, 'dist', 'bin', 'gatehouse.js');
  if (!existsSync(cli))
    throw new SetupError(`${cli} is missing: run \`npm run build\` first (npm run compat does)`);
  const port = await freePort();
  const healthPort = await freePort();
  const config: GatewayConfigInput = {
    listen: { host: '127.0.0.1', port },
    workers: options.workers,
    tls: { certFile: options.tls.certFile, keyFile: options.tls.keyFile },
    upstream: { host: options.upstream.host, port: options.upstream.port, tls: 'disable' },
    credentials: { source: 'env', user: options.upstream.user },
    issuers: options.issuers,
    policy: { file: options.policyFile },
    audit: {
      directory: path.join(options.directory, 'audit'),
      signingKeyFile: ensureAuditSigningKey(path.join(options.directory, 'audit-signing-key.pem')),
    },
    health: { host: '127.0.0.1', port: healthPort, emfIntervalMs: 0 },
    drainMs: 2000,
    logLevel: 'warn',
  };
  const configFile = path.join(options.directory, 'gateway.json');
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
  const logFile = path.join(options.directory, 'gateway.log');
  const log = openSync(logFile, 'a');
  const child: ChildProcess = spawn(process.execPath, [cli, 'serve'], {
    cwd: options.repoRoot,
    env: {
      ...process.env,
      GATEHOUSE_CONFIG_FILE: configFile,
      GATEHOUSE_UPSTREAM_PASSWORD: options.upstream.password,
    },
    stdio: ['ignore', log, log],
    detached: true,
  });
  closeSync(log);
  let exited = false;
  const killGroup = () => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );

  const deadline = Date.now() + 30_000;
  while (!(await readyz(healthPort))) {
    if (exited || Date.now() > deadline) {
      killGroup();
      throw new SetupError(
        `the gateway ${exited ? 'exited' : 'did not become ready in 30 s'} (log ${logFile}):\n${tail(logFile)}`,
      );
    }
    await sleep(200);
  }
  return {
    port,
    healthPort,
    logFile,
    stop: async () => {
      if (exited) return;
      child.kill('SIGTERM');
      const killed = sleep(15_000).then(() => {
        if (!exited) killGroup();
      });
      await Promise.race([exit, killed]);
      killGroup(); // workers left behind, if any
    },
    kill: killGroup,
  };
}
