import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureAuditSigningKey, ensureSelfSignedCertificate } from '../../local/certificates';
import { startEmbeddedPostgres } from '../../local/embedded-postgres';
import { openLocalIssuer } from '../../local/token-issuer';
import { fixedTestPort } from './ports';
import { EVERYTHING_POLICY } from './test-policy';

/**
 * Starts the one real PostgreSQL server the suite runs against (embedded by default, or the server named
 * by GATEHOUSE_TEST_UPSTREAM=postgres://superuser:password@host:port), and a token issuer, and passes
 * their coordinates to the test workers through the environment.
 */
export default async function globalSetup(): Promise<void> {
  const home = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-test-'));
  openLocalIssuer(path.join(home, 'issuer'));
  const tlsDir = path.join(home, 'tls');
  const certificate = await ensureSelfSignedCertificate(tlsDir);
  ensureAuditSigningKey(path.join(home, 'audit-signing-key.pem'));
  process.env.GATEHOUSE_TEST_HOME = home;
  // The tests run on Node 20 on purpose (the oldest supported); the SDK's notice about it is noise here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  writeFileSync(path.join(home, 'policy-everything.yaml'), EVERYTHING_POLICY);
  if (process.env.GATEHOUSE_TEST_UPSTREAM) return;
  const postgres = await startEmbeddedPostgres({
    dataDir: path.join(home, 'pgdata'),
    port: await fixedTestPort(),
    tls: { certFile: certificate.certFile, keyFile: certificate.keyFile },
    settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: 300 },
  });
  process.env.GATEHOUSE_TEST_UPSTREAM = `postgres://${postgres.user}:${encodeURIComponent(postgres.password)}@${postgres.host}:${postgres.port}`;
  (globalThis as { __gatehousePostgres?: { stop(): Promise<void> } }).__gatehousePostgres = postgres;
}
