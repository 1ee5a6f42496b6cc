import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import { freePort, run, runChecked, SetupError } from './process';

/** Debian's PostgreSQL 15: pg_regress needs exactly the server version its suite was written for. */
export const PG_BIN = '/usr/lib/postgresql/15/bin';
export const PG_REGRESS = '/usr/lib/postgresql/15/lib/pgxs/src/test/regress/pg_regress';
const DEBIAN_PACKAGES = ['postgresql-15', 'postgresql-client-15'];

export interface ThrowawayCluster {
  host: string;
  port: number;
  /** The superuser and its password. */
  user: string;
  password: string;
  version: string;
  dataDir: string;
  logFile: string;
  stop(): Promise<void>;
}

const isRoot = () => process.getuid?.() === 0;

/** Installs postgresql-15 from Debian when its binaries are missing (needs root). */
export async function ensurePostgres15(): Promise<void> {
  const missing = [path.join(PG_BIN, 'initdb'), path.join(PG_BIN, 'pg_ctl'), PG_REGRESS].filter(
    (file) => !existsSync(file),
  );
  if (missing.length === 0) return;
  if (!isRoot()) {
    throw new SetupError(
      `PostgreSQL 15 is not installed (missing ${missing.join(', ')}).\n` +
        `Install it as root: apt-get install -y --no-install-recommends ${DEBIAN_PACKAGES.join(' ')}`,
    );
  }
  process.stdout.write(`installing ${DEBIAN_PACKAGES.join(' ')} with apt-get…\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await runChecked('apt-get', ['update', '-qq'], { env, timeoutMs: 300_000 });
  await runChecked('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...DEBIAN_PACKAGES], {
    env,
    timeoutMs: 600_000,
  });
}

/** How to run a command as the `postgres` system user from this process. */
async function asPostgres(): Promise<string[]> {
  if (userInfo().username === 'postgres') return [];
  if (isRoot()) return ['runuser', '-u', 'postgres', '--'];
  const sudo = await run('sudo', ['-n', '-u', 'postgres', 'true']).catch(() => undefined);
  if (sudo?.code === 0) return ['sudo', '-n', '-u', 'postgres', '--'];
  throw new SetupError(
    'the PostgreSQL server runs as the `postgres` system user: run compat as root (or postgres)',
  );
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const uid = await runChecked('id', ['-u', 'postgres']);
  const gid = await runChecked('id', ['-g', 'postgres']);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

export interface ClusterOptions {
  /** A directory the cluster may own entirely (created here). */
  directory: string;
  /** Server certificate for ssl=on, so direct runs use the same client TLS settings as gateway runs. */
  tls?: { certFile: string; keyFile: string };
}

/**
 * initdb + pg_ctl start of a cluster that lives only for this run: superuser `postgres` with a random
 * password, SCRAM on 127.0.0.1 (and on its private socket directory), a free port, fsync off.
 */
export async function startThrowawayCluster(options: ClusterOptions): Promise<ThrowawayCluster> {
  const prefix = await asPostgres();
  const exec = (command: string, args: string[], timeoutMs = 60_000) => {
    const [first, ...rest] = [...prefix, command, ...args];
    return runChecked(first!, rest, { timeoutMs, env: { ...process.env, LC_ALL: 'C.UTF-8' } });
  };
  const { directory } = options;
  const dataDir = path.join(directory, 'data');
  const logFile = path.join(directory, 'server.log');
  const password = randomBytes(18).toString('base64url');
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  const pwfile = path.join(directory, 'pwfile');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  let tlsSettings: string[] = [];
  if (options.tls) {
    copyFileSync(options.tls.certFile, path.join(directory, 'server.crt'));
    copyFileSync(options.tls.keyFile, path.join(directory, 'server.key'));
    chmodSync(path.join(directory, 'server.key'), 0o600);
    tlsSettings = [
      'ssl = on',
      `ssl_cert_file = '${directory}/server.crt'`,
      `ssl_key_file = '${directory}/server.key'`,
    ];
  }
  if (prefix.length > 0) {
    const { uid, gid } = await postgresIds();
    for (const file of ['', 'pwfile', 'server.crt', 'server.key']) {
      const target = path.join(directory, file);
      if (existsSync(target)) chownSync(target, uid, gid);
    }
  }

  await exec(path.join(PG_BIN, 'initdb'), [
    `--pgdata=${dataDir}`,
    '--username=postgres',
    `--pwfile=${pwfile}`,
    '--auth=scram-sha-256',
    '--encoding=UTF8',
    '--no-locale',
    '--no-sync',
  ]);
  rmSync(pwfile, { force: true });
  const settings = [
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = '${directory}'`,
    'fsync = off',
    'synchronous_commit = off',
    'full_page_writes = off',
    'max_connections = 100',
    ...tlsSettings,
  ];
  // The data directory belongs to postgres: append through it (later lines win in the auto file).
  const append = (lines: string[]) =>
    exec('sh', [
      '-c',
      'f=$1; shift; printf \'%s\\n\' "$@" >> "$f"',
      'sh',
      `${dataDir}/postgresql.auto.conf`,
      ...lines,
    ]);
  await append(settings);
  // A port found free may be taken before the server binds it (two clusters start at once): retry.
  let port = 0;
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    await append([`port = ${port}`]);
    try {
      await exec(path.join(PG_BIN, 'pg_ctl'), [
        '--pgdata',
        dataDir,
        '--log',
        logFile,
        '--wait',
        '--timeout=60',
        'start',
      ]);
      break;
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
  const version = await exec(path.join(PG_BIN, 'postgres'), ['--version']);
  let stopped = false;
  return {
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password,
    version: version.stdout.trim(),
    dataDir,
    logFile,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await exec(path.join(PG_BIN, 'pg_ctl'), [
        '--pgdata',
        dataDir,
        '--mode=immediate',
        '--wait',
        'stop',
      ]).catch(() => undefined);
    },
  };
}
