import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { Client } from 'pg';
import { createLogger } from '../../fargate-proxy/src/observability/logger';
import { testUpstream } from '../support/environment';
import { type ConfiguredGateway, startConfiguredGateway } from './configured-gateway';

const ssl = { rejectUnauthorized: false };
const SECRET_ID = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:gatehouse/upstream-AbCdEf';

async function asSuperuser(statement: string): Promise<void> {
  const client = new Client({ ...testUpstream(), database: 'postgres' });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** What RDS keeps in a managed secret: the gateway needs username and password, and ignores the rest. */
function rdsSecret(username: string, password: string): string {
  const { host, port } = testUpstream();
  return JSON.stringify({ engine: 'postgres', host, port, username, password, dbname: 'postgres' });
}

/**
 * The upstream credential from Secrets Manager (a mocked client: there is no emulator), against the
 * suite's real PostgreSQL server: configured as a Fargate task would be, rotated in the database and
 * in the secret while the gateway runs.
 */
describe('the upstream credential from Secrets Manager', () => {
  const secrets = mockClient(SecretsManagerClient);
  const reads = () => secrets.commandCalls(GetSecretValueCommand).length;
  let gateway: ConfiguredGateway | undefined;
  let logged: string[];

  beforeEach(() => {
    secrets.reset();
    logged = [];
  });
  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
  });
  afterAll(() => secrets.restore());

  async function start(): Promise<ConfiguredGateway> {
    gateway = await startConfiguredGateway(
      { credentials: { source: 'secrets-manager', secretId: SECRET_ID, region: 'us-east-1' } },
      { log: createLogger('debug', {}, (line) => logged.push(line)) },
    );
    return gateway;
  }

  async function currentUser(through: ConfiguredGateway): Promise<string> {
    const client = new Client({ ...through.connection(), ssl });
    await client.connect();
    try {
      return (await client.query('SELECT current_user AS u')).rows[0].u;
    } finally {
      await client.end();
    }
  }

  it('follows a rotation without a restart, reading the secret again only after the server rejected it', async () => {
    // GIVEN a dedicated role and its secret
    await asSuperuser('DROP ROLE IF EXISTS gh_sm_rotating');
    await asSuperuser("CREATE ROLE gh_sm_rotating LOGIN PASSWORD 'first-password'");
    secrets.on(GetSecretValueCommand, { SecretId: SECRET_ID }).resolves({
      SecretString: rdsSecret('gh_sm_rotating', 'first-password'),
      VersionId: 'v1',
    });
    const through = await start();
    expect(reads()).toBe(0); // read when a session needs it, not at start
    // WHEN sessions connect
    expect(await currentUser(through)).toBe('gh_sm_rotating');
    expect(await currentUser(through)).toBe('gh_sm_rotating');
    // THEN the secret was read once (cached for cacheMs, 5 minutes by default)
    expect(reads()).toBe(1);

    // WHEN the password is rotated in the database and in the secret
    await asSuperuser("ALTER ROLE gh_sm_rotating PASSWORD 'second-password'");
    secrets.on(GetSecretValueCommand, { SecretId: SECRET_ID }).resolves({
      SecretString: rdsSecret('gh_sm_rotating', 'second-password'),
      VersionId: 'v2',
    });
    // THEN the next connection works: rejected with the cached password, the secret read again, retried
    expect(await currentUser(through)).toBe('gh_sm_rotating');
    expect(reads()).toBe(2);
    // AND later connections use the new cached password without reading the secret
    expect(await currentUser(through)).toBe('gh_sm_rotating');
    expect(await currentUser(through)).toBe('gh_sm_rotating');
    expect(reads()).toBe(2);
  });

  it.each([
    [
      'cannot be read',
      () =>
        secrets.on(GetSecretValueCommand).rejects(
          Object.assign(
            new Error(
              `User: arn:aws:sts::111111111111:assumed-role/gatehouse-task is not authorized on ${SECRET_ID}`,
            ),
            {
              name: 'AccessDeniedException',
            },
          ),
        ),
      /not authorized/,
    ],
    [
      'does not hold JSON',
      () => secrets.on(GetSecretValueCommand).resolves({ SecretString: 'hunter2 is the password' }),
      /is not JSON/,
    ],
  ])(
    'refuses the client with 08006 when the secret %s, and logs why without the secret',
    async (_case, arrange, reason) => {
      // GIVEN
      arrange();
      const through = await start();
      // WHEN
      const error = await new Client({ ...through.connection(), ssl }).connect().catch((e: unknown) => e);
      // THEN the client learns that the gateway could not open its upstream session, and nothing more
      expect(error).toMatchObject({
        code: '08006',
        severity: 'FATAL',
        message: 'the gateway could not open a session on the upstream server (credentials)',
      });
      // AND the operator's log names the secret and the reason, never the secret's value
      const failure = logged
        .map((line) => JSON.parse(line))
        .find((line) => line.msg === 'upstream session failed');
      expect(failure).toMatchObject({
        failure: 'credentials',
        error: expect.stringContaining(`upstream credential secret ${SECRET_ID}`),
      });
      expect(failure.error).toMatch(reason);
      expect(logged.join('\n')).not.toContain('hunter2');
      // AND each connection asks again (nothing was cached)
      await new Client({ ...through.connection(), ssl }).connect().catch(() => undefined);
      expect(reads()).toBe(2);
    },
  );
});
