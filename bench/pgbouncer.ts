import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { requireExecutable } from './executables';

/**
 * pgbouncer, the reference the gateway is compared with: session mode, SCRAM, its configuration rendered
 * from the committed bench/pgbouncer.ini. pgbouncer refuses to run as root, so under root it runs as the
 * unprivileged account the embedded PostgreSQL already uses.
 */
export interface PgbouncerSetup {
  directory: string;
  port: number;
  upstream: { host: string; port: number; user: string; scramSecret: string };
  database: string;
}

export interface BenchPgbouncer {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

/** The account local/embedded-postgres.ts creates to run PostgreSQL when started as root. */
const SERVICE_ACCOUNT = 'gatehouse-pg';
/** The committed template: beside this module when run from source, in bench/ when run from dist/bench. */
const TEMPLATE = [
  path.join(__dirname, 'pgbouncer.ini'),
  path.join(__dirname, '..', '..', 'bench', 'pgbouncer.ini'),
].find((file) => existsSync(file));
const START_TIMEOUT_MS = 10_000;

export function findPgbouncer(): string {
  return requireExecutable(
    'pgbouncer',
    'the benchmark compares the gateway with pgbouncer 1.18 and cannot run without it (Debian: apt-get install -y pgbouncer)',
    ['/usr/sbin', '/usr/local/sbin', '/usr/local/bin'],
  );
}

function account(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) =>
    Number(
      execFileSync('id', [flag, SERVICE_ACCOUNT], { stdio: ['ignore', 'pipe', 'pipe'] })
        .toString()
        .trim(),
    );
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    throw new Error(
      `running as root, pgbouncer needs the ${SERVICE_ACCOUNT} account (created when the embedded PostgreSQL starts), and it is missing`,
    );
  }
}

export function renderTemplate(template: string, values: Record<string, string | number>): string {
  const rendered = template.replace(/\{\{(\w+)\}\}/g, (whole, name: string) => {
    const value = values[name];
    if (value === undefined)
      throw new Error(`the pgbouncer template uses ${whole}, which the benchmark does not provide`);
    return String(value);
  });
  return rendered;
}

/** auth_file line: both fields double-quoted, a quote inside doubled. */
const quote = (value: string) => `"${value.replace(/"/g, '""')}"`;

function waitForPort(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null)
        return reject(new Error(`pgbouncer exited during startup (${child.exitCode}):\n${output()}`));
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline)
          reject(
            new Error(`pgbouncer did not listen on ${port} within ${START_TIMEOUT_MS} ms:\n${output()}`),
          );
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

export async function startBenchPgbouncer(binary: string, setup: PgbouncerSetup): Promise<BenchPgbouncer> {
  const owner = account();
  const directory = path.join(setup.directory, 'pgbouncer');
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  const authFile = path.join(directory, 'userlist.txt');
  const iniFile = path.join(directory, 'pgbouncer.ini');
  writeFileSync(authFile, `${quote(setup.upstream.user)} ${quote(setup.upstream.scramSecret)}\n`, {
    mode: 0o600,
  });
  if (!TEMPLATE)
    throw new Error(
      `bench/pgbouncer.ini not found beside ${__dirname} or in the checkout's bench/ directory`,
    );
  const ini = renderTemplate(readFileSync(TEMPLATE, 'utf8'), {
    database: setup.database,
    upstream_host: setup.upstream.host,
    upstream_port: setup.upstream.port,
    listen_port: setup.port,
    auth_file: authFile,
  });
  writeFileSync(iniFile, ini, { mode: 0o600 });
  if (owner) for (const file of [directory, authFile, iniFile]) chownSync(file, owner.uid, owner.gid);

  // Spawned with the account's uid/gid rather than through runuser, so the pid is pgbouncer's own.
  const child = spawn(binary, [iniFile], {
    uid: owner?.uid,
    gid: owner?.gid,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  await waitForPort(setup.port, child, () => log).catch((error) => {
    child.kill('SIGKILL');
    throw error;
  });
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM'); // pgbouncer's immediate shutdown; SIGINT would wait for clients to leave
    });
    return stopping;
  };
  return { pid: child.pid!, port: setup.port, stop };
}
