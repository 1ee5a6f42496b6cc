import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ConfigError,
  type GatewayConfigInput,
  loadGatewayConfigFromEnv,
  loadWorkerSettingsFromEnv,
  parseGatewayConfig,
  workerSettingsToEnv,
} from '../../fargate-proxy/src/config';

/** The least a gateway needs, with the AWS sources: what a Fargate task's configuration looks like. */
function awsConfig(overrides: Partial<GatewayConfigInput> = {}): GatewayConfigInput {
  return {
    upstream: { host: 'db.internal', tls: 'disable' },
    credentials: { source: 'secrets-manager', secretId: 'arn:aws:secretsmanager:eu-west-1:1:secret:db-AbC' },
    tls: { secretsManager: { secretId: 'gatehouse/tls' } },
    issuers: [
      {
        name: 'gh',
        issuer: 'https://issuer.example',
        audience: 'gatehouse',
        jwksUri: 'https://issuer.example/keys',
      },
    ],
    policy: { s3: { bucket: 'gatehouse-policy', key: 'policy.yaml' } },
    audit: { directory: '/tmp/audit', kmsSigningKey: { keyId: 'alias/audit' } },
    ...overrides,
  };
}

describe('gateway configuration: the AWS sources', () => {
  it('parses the Secrets Manager and S3 sources with their defaults', () => {
    // WHEN
    const config = parseGatewayConfig(awsConfig());
    // THEN
    expect(config.credentials).toEqual({
      source: 'secrets-manager',
      secretId: 'arn:aws:secretsmanager:eu-west-1:1:secret:db-AbC',
      cacheMs: 300_000,
    });
    expect(config.tls).toEqual({
      secretsManager: { secretId: 'gatehouse/tls', refreshMs: 300_000 },
      allowDirect: true,
    });
    expect(config.policy).toMatchObject({
      s3: { bucket: 'gatehouse-policy', key: 'policy.yaml', forcePathStyle: false },
      reloadCheckMs: 2000,
    });
  });

  it('survives the trip to a worker process (parsed, serialised, parsed again)', () => {
    const config = parseGatewayConfig(awsConfig());
    const env = workerSettingsToEnv({ config, workerSlot: 1, instanceTag: 7 });
    expect(loadWorkerSettingsFromEnv(env).config).toEqual(config);
  });

  it.each([
    [
      'both a policy file and an S3 object',
      { policy: { file: 'p.yaml', s3: { bucket: 'b-1', key: 'k' } } },
      /policy.file or policy.s3/,
    ],
    ['neither a policy file nor an S3 object', { policy: {} }, /policy.file or policy.s3/],
    [
      'certificate files and a certificate secret',
      { tls: { certFile: 'c.pem', keyFile: 'k.pem', secretsManager: { secretId: 's' } } },
      /either certFile and keyFile, or secretsManager/,
    ],
    ['a certificate file without its key', { tls: { certFile: 'c.pem' } }, /either certFile and keyFile/],
    [
      'an unknown key in the credential secret',
      { credentials: { source: 'secrets-manager', secretId: 's', user: 'x' } },
      /credentials/,
    ],
    ['a secret without its id', { credentials: { source: 'secrets-manager' } }, /credentials.secretId/],
    ['an S3 policy without its key', { policy: { s3: { bucket: 'gatehouse-policy' } } }, /policy.s3.key/],
  ] as const)('refuses %s, naming the field', (_name, override, message) => {
    expect(() => parseGatewayConfig(awsConfig(override as Partial<GatewayConfigInput>))).toThrow(message);
  });

  it('still accepts certificate files and a policy file (local mode)', () => {
    const config = parseGatewayConfig(
      awsConfig({ tls: { certFile: 'c.pem', keyFile: 'k.pem' }, policy: { file: 'policy.yaml' } }),
    );
    expect(config.tls).toEqual({ certFile: 'c.pem', keyFile: 'k.pem', allowDirect: true });
    expect(config.policy.file).toBe('policy.yaml');
  });
});

describe('loadGatewayConfigFromEnv', () => {
  const json = JSON.stringify(awsConfig());

  it('reads the JSON of GATEHOUSE_CONFIG (how an ECS task passes it)', () => {
    const config = loadGatewayConfigFromEnv({ GATEHOUSE_CONFIG: json });
    expect(config.policy.s3?.bucket).toBe('gatehouse-policy');
  });

  it('reads the file named by GATEHOUSE_CONFIG_FILE', () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'gh-config-')), 'gateway.json');
    writeFileSync(file, json);
    expect(loadGatewayConfigFromEnv({ GATEHOUSE_CONFIG_FILE: file })).toEqual(
      parseGatewayConfig(awsConfig()),
    );
  });

  it('refuses both at once, and neither', () => {
    expect(() =>
      loadGatewayConfigFromEnv({ GATEHOUSE_CONFIG: json, GATEHOUSE_CONFIG_FILE: '/x.json' }),
    ).toThrow(/not both/);
    expect(() => loadGatewayConfigFromEnv({})).toThrow(/GATEHOUSE_CONFIG_FILE is not set/);
  });

  it('refuses JSON that does not parse without quoting it (it may come from a secret)', () => {
    const load = () => loadGatewayConfigFromEnv({ GATEHOUSE_CONFIG: 'hunter2 {' });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/^GATEHOUSE_CONFIG does not hold valid JSON$/);
  });

  it('validates what GATEHOUSE_CONFIG holds like a file', () => {
    expect(() =>
      loadGatewayConfigFromEnv({ GATEHOUSE_CONFIG: JSON.stringify({ ...awsConfig(), bogus: 1 }) }),
    ).toThrow(/Unrecognized key/);
  });
});
