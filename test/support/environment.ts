import path from 'node:path';
import { type LocalIssuer, openLocalIssuer } from '../../local/token-issuer';

/** The suite's upstream server and issuer, as global-setup left them in the environment. */
export interface TestUpstream {
  host: string;
  port: number;
  user: string;
  password: string;
}

export function testUpstream(): TestUpstream {
  const url = process.env.GATEHOUSE_TEST_UPSTREAM;
  if (!url)
    throw new Error(
      'GATEHOUSE_TEST_UPSTREAM is not set: run the tests through jest (global-setup starts the server)',
    );
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 5432),
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
  };
}

export function testHome(): string {
  const home = process.env.GATEHOUSE_TEST_HOME;
  if (!home) throw new Error('GATEHOUSE_TEST_HOME is not set');
  return home;
}

export function testIssuer(): LocalIssuer {
  return openLocalIssuer(path.join(testHome(), 'issuer'));
}

/** The key that signs the test gateways' audit digests (global-setup creates it). */
export function auditKeyFile(): string {
  return path.join(testHome(), 'audit-signing-key.pem');
}

export function testCertificate(): { certFile: string; keyFile: string } {
  return {
    certFile: path.join(testHome(), 'tls', 'server.crt'),
    keyFile: path.join(testHome(), 'tls', 'server.key'),
  };
}

/** A real client the suite needs is missing: skip locally, fail under CI where it must be installed. */
export function requireClient(name: string, available: boolean): boolean {
  if (available) return true;
  if (process.env.CI === 'true')
    throw new Error(`${name} is not installed, and CI must run every real-client test`);
  process.stderr.write(`skipping ${name} tests: not installed\n`);
  return false;
}

/** The libpq environment of a real client (psql, pgbench, psycopg) reaching a test gateway over TLS. */
export function libpqEnvironment(
  connection: { host: string; port: number; user: string; password: string; database: string },
  extra: NodeJS.ProcessEnv = {},
): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    LANG: 'C.UTF-8',
    PGHOST: connection.host,
    PGPORT: String(connection.port),
    PGUSER: connection.user,
    PGPASSWORD: connection.password,
    PGDATABASE: connection.database,
    PGSSLMODE: 'require',
    ...extra,
  };
}
