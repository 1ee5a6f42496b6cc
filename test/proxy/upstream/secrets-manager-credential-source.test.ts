import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { createLogger } from '../../../fargate-proxy/src/observability/logger';
import { SecretsManagerSecretReader } from '../../../fargate-proxy/src/upstream/secret-reader';
import { SecretsManagerCredentialSource } from '../../../fargate-proxy/src/upstream/secrets-manager-credential-source';
import { UpstreamError } from '../../../fargate-proxy/src/upstream/upstream-connection';

const SECRET_ID = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:gatehouse/db-AbCdEf';

/** An RDS-managed secret: more fields than the gateway needs. */
function rdsSecret(password: string): string {
  return JSON.stringify({
    engine: 'postgres',
    host: 'db.cluster-x.eu-west-1.rds.amazonaws.com',
    port: 5432,
    username: 'gatehouse_login',
    password,
    dbname: 'orders',
  });
}

describe('SecretsManagerCredentialSource (mocked Secrets Manager: no emulator)', () => {
  const secrets = mockClient(SecretsManagerClient);
  let now: number;
  let logged: string[];

  function source(cacheMs = 60_000): SecretsManagerCredentialSource {
    const reader = new SecretsManagerSecretReader(
      new SecretsManagerClient({ region: 'eu-west-1' }),
      SECRET_ID,
    );
    return new SecretsManagerCredentialSource(reader, {
      cacheMs,
      log: createLogger('debug', {}, (line) => logged.push(line)),
      now: () => now,
    });
  }

  const reads = () => secrets.commandCalls(GetSecretValueCommand).length;

  beforeEach(() => {
    secrets.reset();
    now = 1_000_000;
    logged = [];
  });
  afterAll(() => secrets.restore());

  it('reads the RDS-shaped secret once and serves it from the cache until cacheMs has passed', async () => {
    // GIVEN
    secrets.on(GetSecretValueCommand).resolves({ SecretString: rdsSecret('first'), VersionId: 'v1' });
    const credentials = source(60_000);
    // WHEN
    const results = await Promise.all([credentials.get(), credentials.get(), credentials.get()]);
    now += 59_999;
    await credentials.get();
    // THEN
    expect(results).toEqual(Array(3).fill({ user: 'gatehouse_login', password: 'first' }));
    expect(reads()).toBe(1);
    expect(secrets.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toEqual({ SecretId: SECRET_ID });
    // AND after cacheMs, the next session reads it again
    secrets.on(GetSecretValueCommand).resolves({ SecretString: rdsSecret('second'), VersionId: 'v2' });
    now += 1;
    expect(await credentials.get()).toEqual({ user: 'gatehouse_login', password: 'second' });
    expect(reads()).toBe(2);
  });

  it('reads the secret again at once after invalidate (the server rejected the credential)', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: rdsSecret('first') });
    const credentials = source();
    await credentials.get();
    secrets.on(GetSecretValueCommand).resolves({ SecretString: rdsSecret('rotated') });
    // WHEN
    credentials.invalidate();
    // THEN
    expect(await credentials.get()).toEqual({ user: 'gatehouse_login', password: 'rotated' });
    expect(reads()).toBe(2);
  });

  it('does not let a read that began before invalidate fill the cache with the old value', async () => {
    let release: (value: { SecretString: string }) => void = () => undefined;
    secrets
      .on(GetSecretValueCommand)
      .callsFakeOnce(() => new Promise((resolve) => (release = resolve)))
      .resolves({ SecretString: rdsSecret('rotated') });
    const credentials = source();
    const early = credentials.get();
    await new Promise((resolve) => setImmediate(resolve));
    credentials.invalidate();
    expect(await credentials.get()).toMatchObject({ password: 'rotated' });
    // WHEN the early read ends last
    release({ SecretString: rdsSecret('old') });
    expect(await early).toMatchObject({ password: 'old' });
    // THEN the cache keeps what was read after the invalidation
    expect(await credentials.get()).toMatchObject({ password: 'rotated' });
    expect(reads()).toBe(2);
  });

  it('refuses a secret that cannot be read with an UpstreamError of failure credentials', async () => {
    secrets
      .on(GetSecretValueCommand)
      .rejects(new Error('User: arn:aws:sts::1:assumed-role/task is not authorized'));
    const error = await source()
      .get()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({
      failure: 'credentials',
      message: `cannot read upstream credential secret ${SECRET_ID}: User: arn:aws:sts::1:assumed-role/task is not authorized`,
    });
  });

  it.each([
    ['is not JSON', 'hunter2-not-json', /is not JSON$/],
    [
      'has no password',
      JSON.stringify({ username: 'gatehouse_login', pass: 'hunter2' }),
      /must hold \{"username"/,
    ],
    ['has an empty user', JSON.stringify({ username: '', password: 'hunter2' }), /must hold \{"username"/],
  ])('refuses a secret that %s, without quoting it', async (_case, text, message) => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: text });
    const error = (await source()
      .get()
      .catch((e: unknown) => e)) as UpstreamError;
    expect(error).toMatchObject({ failure: 'credentials', message: expect.stringMatching(message) });
    expect(error.message).not.toContain('hunter2');
  });

  it('keeps a cached credential the server never rejected when the refresh fails, and asks again only after 5 s', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: rdsSecret('first') });
    const credentials = source(1_000);
    await credentials.get();
    secrets.on(GetSecretValueCommand).rejects(new Error('Secrets Manager is unavailable'));
    now += 1_000;
    // WHEN: the cache expired during an outage
    expect(await credentials.get()).toMatchObject({ password: 'first' });
    expect(await credentials.get()).toMatchObject({ password: 'first' });
    // THEN: one failed attempt, logged, then none for 5 s
    expect(reads()).toBe(2);
    expect(logged.join('')).toContain('cannot refresh the upstream credential');
    now += 5_000;
    await credentials.get();
    expect(reads()).toBe(3);
    // AND once the server rejected it, there is no stale credential to fall back to
    credentials.invalidate();
    await expect(credentials.get()).rejects.toMatchObject({ failure: 'credentials' });
  });
});
