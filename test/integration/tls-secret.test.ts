import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type tls from 'node:tls';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { Client } from 'pg';
import { createLogger } from '../../fargate-proxy/src/observability/logger';
import { StaticCredentialSource } from '../../fargate-proxy/src/upstream/credential-source';
import { type CertificatePair, ensureSelfSignedCertificate } from '../../local/certificates';
import { testHome, testUpstream } from '../support/environment';
import { RawClient } from '../support/raw-client';
import { type ConfiguredGateway, eventually, startConfiguredGateway } from './configured-gateway';

const SECRET_ID = 'gatehouse/tls';

interface Certificate extends CertificatePair {
  key: string;
  fingerprint: string;
}

async function certificate(name: string): Promise<Certificate> {
  const pair = await ensureSelfSignedCertificate(
    mkdtempSync(path.join(testHome(), `tls-secret-${name}-`)),
    name,
  );
  return {
    ...pair,
    key: readFileSync(pair.keyFile, 'utf8'),
    fingerprint: new X509Certificate(pair.cert).fingerprint256,
  };
}

/** The fingerprint of the certificate a new connection is shown (SSLRequest, then TLS). */
async function servedFingerprint(port: number): Promise<string> {
  const client = await RawClient.connect(port);
  try {
    await client.startTls();
    return (client.socket as tls.TLSSocket).getPeerCertificate().fingerprint256;
  } finally {
    client.socket.destroy();
  }
}

/**
 * The gateway's own certificate from Secrets Manager (a mocked client: there is no emulator), rotated
 * while clients are connected.
 */
describe('the TLS certificate from Secrets Manager', () => {
  const secrets = mockClient(SecretsManagerClient);
  let first: Certificate;
  let second: Certificate;
  let gateway: ConfiguredGateway | undefined;
  let logged: string[];

  function serve(cert: Certificate, version: string, key = cert.key): void {
    secrets.on(GetSecretValueCommand, { SecretId: SECRET_ID }).resolves({
      SecretString: JSON.stringify({ certificate: cert.cert, privateKey: key }),
      VersionId: version,
    });
  }

  async function start(): Promise<ConfiguredGateway> {
    const upstream = testUpstream();
    gateway = await startConfiguredGateway(
      {
        tls: { secretsManager: { secretId: SECRET_ID, region: 'us-east-1', refreshMs: 100 } },
        // Probes that close right after the TLS handshake end within this, not at the 15 s default.
        limits: { authTimeoutMs: 1000 },
      },
      {
        log: createLogger('debug', {}, (line) => logged.push(line)),
        credentials: new StaticCredentialSource({ user: upstream.user, password: upstream.password }),
      },
    );
    return gateway;
  }

  beforeAll(async () => {
    first = await certificate('gatehouse-first');
    second = await certificate('gatehouse-second');
  });
  beforeEach(() => {
    secrets.reset();
    logged = [];
  });
  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
  });
  afterAll(() => secrets.restore());

  it('serves a rotated certificate to new connections while open sessions continue', async () => {
    // GIVEN the gateway started with the first certificate
    serve(first, 'v1');
    const through = await start();
    expect(await servedFingerprint(through.port)).toBe(first.fingerprint);
    // A client that trusts the first certificate only (verify-full), connected before the rotation
    const open = new Client({ ...through.connection(), ssl: { ca: first.cert } });
    await open.connect();

    // WHEN the secret is rotated
    serve(second, 'v2');
    // THEN new connections are shown the second certificate
    await eventually(
      'the rotated certificate',
      async () => (await servedFingerprint(through.port)) === second.fingerprint,
    );
    const fresh = new Client({ ...through.connection(), ssl: { ca: second.cert } });
    await fresh.connect();
    expect((await fresh.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await fresh.end();
    await expect(new Client({ ...through.connection(), ssl: { ca: first.cert } }).connect()).rejects.toThrow(
      /self-signed certificate|unable to verify|certificate/,
    );
    // AND the session opened before the rotation goes on under its certificate
    expect((await open.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
    await open.end();
    expect(logged.some((line) => line.includes('TLS certificate rotated'))).toBe(true);
  });

  it('keeps the certificate in use when the secret cannot be read or holds an unusable version, and logs it', async () => {
    serve(first, 'v1');
    const through = await start();
    const failures = () => logged.filter((line) => line.includes('cannot refresh the TLS certificate'));

    // WHEN the secret cannot be read
    secrets
      .on(GetSecretValueCommand)
      .rejects(Object.assign(new Error('Secrets Manager is unavailable'), { name: 'InternalServiceError' }));
    await eventually('a failed refresh to be logged', () => failures().length > 0);
    // THEN new connections still get the first certificate
    expect(await servedFingerprint(through.port)).toBe(first.fingerprint);
    expect(failures()[0]).toContain('Secrets Manager is unavailable');

    // WHEN a new version pairs the second certificate with the first one's key
    serve(second, 'v3', first.key);
    await eventually('the bad version to be logged', () =>
      failures().some((line) => line.includes('key values mismatch')),
    );
    // THEN the first certificate stays, and the key never reaches the log
    expect(await servedFingerprint(through.port)).toBe(first.fingerprint);
    expect(logged.join('\n')).not.toContain('PRIVATE KEY');
  });

  it('does not start when the secret cannot be read (fail closed)', async () => {
    secrets.on(GetSecretValueCommand).rejects(
      Object.assign(new Error("Secrets Manager can't find the specified secret."), {
        name: 'ResourceNotFoundException',
      }),
    );
    await expect(start()).rejects.toThrow(
      "the gateway does not start without its TLS certificate: cannot load secret gatehouse/tls: Secrets Manager can't find the specified secret.",
    );
  });
});
