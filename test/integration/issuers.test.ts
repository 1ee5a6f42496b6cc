import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { type LocalIssuer, localIssuerConfig, openLocalIssuer } from '../../local/token-issuer';
import { testIssuer } from '../support/environment';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { writeTestPolicy } from '../support/test-policy';

const SECOND = 'https://second.example';

function otherIssuer(): LocalIssuer {
  return openLocalIssuer(path.join(mkdtempSync(path.join(os.tmpdir(), 'gh-issuer-')), 'issuer'));
}

/** Each gateway here admits `ci-*` subjects of the local issuer and anything of the second one. */
const POLICY = `version: 1
identities:
  local-ci: { issuer: local, claims: { sub: "ci-*" } }
  second-jobs: { issuer: ${SECOND} }
grants:
  - { name: jobs, to: [local-ci, second-jobs], allow: [read] }
`;

/** Connects with the token's subject as the user name, as a well-behaved client does. */
async function connect(
  gateway: TestGateway,
  token: string,
): Promise<{ code?: string; detail?: string; message: string }> {
  let user = 'job';
  try {
    user = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()).sub;
  } catch {
    // not a JWT: any user name will do
  }
  const client = new Client({
    ...gateway.connection(user),
    password: token,
    ssl: { rejectUnauthorized: false },
  });
  try {
    await client.connect();
    await client.query('SELECT 1');
    await client.end();
    return { message: 'connected' };
  } catch (error) {
    return error as { code?: string; message: string };
  }
}

describe('several trusted issuers', () => {
  const second = otherIssuer();
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await startTestGateway({
      issuers: [
        localIssuerConfig(testIssuer()),
        {
          name: 'second',
          issuer: SECOND,
          audience: ['gatehouse', 'other'],
          jwksUri: second.jwksUri,
          algorithms: ['RS256'],
        },
      ],
      policy: { file: writeTestPolicy(POLICY) },
    });
  });
  afterAll(async () => {
    await gateway.stop();
  });

  it('accepts each issuer’s tokens, picked by their iss, and admits them by the policy', async () => {
    expect(await connect(gateway, testIssuer().sign({ sub: 'ci-build' }, 300))).toEqual({
      message: 'connected',
    });
    expect(await connect(gateway, second.sign({ sub: 'deploy', iss: SECOND }, 300))).toEqual({
      message: 'connected',
    });
  });

  it('refuses a verified identity that no grant admits, naming it', async () => {
    expect(await connect(gateway, testIssuer().sign({ sub: 'laptop' }, 300))).toMatchObject({
      code: '28000',
      message: 'no grant of the policy admits identity "laptop" to database "postgres"',
    });
  });

  it('does not let one issuer’s key sign for another', async () => {
    // Signed by the second issuer's key, claiming to be the local issuer.
    expect(await connect(gateway, second.sign({ sub: 'ci-build' }, 300))).toMatchObject({
      code: '28000',
      detail: 'check failed: unknown-key',
    });
  });

  it('refuses an algorithm the issuer does not use before any key work', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: 'x' })).toString('base64url');
    const payload = Buffer.from(
      JSON.stringify({ iss: SECOND, sub: 'deploy', aud: 'gatehouse', exp: 2e9 }),
    ).toString('base64url');
    const signature = createHmac('sha256', 'guessable').update(`${header}.${payload}`).digest('base64url');
    expect(await connect(gateway, `${header}.${payload}.${signature}`)).toMatchObject({
      code: '28000',
      detail: 'check failed: algorithm-not-allowed',
    });
  });

  it('refuses a token that is not valid yet', async () => {
    const future = Math.floor(Date.now() / 1000) + 600;
    expect(
      await connect(gateway, second.sign({ sub: 'deploy', iss: SECOND, nbf: future }, 900)),
    ).toMatchObject({
      code: '28000',
      detail: 'check failed: not-yet-valid',
    });
  });
});

describe('signing keys', () => {
  it('fetches the key set again for an unknown key id, but not more often than allowed', async () => {
    const rotating = otherIssuer();
    const directory = path.dirname(new URL(rotating.jwksUri).pathname);
    const original = readFileSync(path.join(directory, 'jwks.json'), 'utf8');
    const next = otherIssuer();
    const gateway = await startTestGateway({
      issuers: [
        {
          name: 'rotating',
          issuer: SECOND,
          audience: 'gatehouse',
          jwksUri: rotating.jwksUri,
          jwksRefetchSeconds: 2,
        },
      ],
      policy: { file: writeTestPolicy(POLICY) },
    });
    try {
      const withNewKey = () => next.sign({ sub: 'deploy', iss: SECOND }, 300);
      // Unknown kid: one fetch, key not there, then a wait period in which nothing is fetched.
      expect(await connect(gateway, withNewKey())).toMatchObject({ detail: 'check failed: unknown-key' });
      const nextKeys = JSON.parse(
        readFileSync(path.join(path.dirname(new URL(next.jwksUri).pathname), 'jwks.json'), 'utf8'),
      );
      const keys = JSON.parse(original);
      writeFileSync(
        path.join(directory, 'jwks.json'),
        JSON.stringify({ keys: [...keys.keys, ...nextKeys.keys] }),
      );
      expect(await connect(gateway, withNewKey())).toMatchObject({ detail: 'check failed: unknown-key' });
      // After the wait period, the rotated key set is fetched and the new key works.
      await new Promise((resolve) => setTimeout(resolve, 2100));
      expect(await connect(gateway, withNewKey())).toEqual({ message: 'connected' });
      expect(await connect(gateway, rotating.sign({ sub: 'deploy', iss: SECOND }, 300))).toEqual({
        message: 'connected',
      });
    } finally {
      await gateway.stop();
    }
  });
});

describe('repeated failures from one address', () => {
  it('are refused unchecked once over the limit, even with a good token', async () => {
    const gateway = await startTestGateway({
      limits: { maxAuthFailures: 3, authFailureWindowMs: 60_000 },
      policy: { file: writeTestPolicy(POLICY) },
    });
    try {
      for (let i = 0; i < 3; i++)
        expect(await connect(gateway, 'not-a-token')).toMatchObject({ code: '28000' });
      expect(await connect(gateway, testIssuer().sign({ sub: 'ci-build' }, 300))).toMatchObject({
        code: '28000',
        message: 'too many failed authentication attempts from this address; try again later',
      });
    } finally {
      await gateway.stop();
    }
  });
});

describe('an issuer without audiences (Cognito access tokens)', () => {
  it('pins the client with required claims instead', async () => {
    const cognito = otherIssuer();
    const ISS = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_example';
    const gateway = await startTestGateway({
      issuers: [
        {
          name: 'cognito',
          issuer: ISS,
          audience: null,
          requiredClaims: { token_use: 'access', client_id: ['reporting-client'] },
          jwksUri: cognito.jwksUri,
        },
      ],
      policy: {
        file: writeTestPolicy(`version: 1
identities:
  reporting: { issuer: cognito, claims: { client_id: reporting-client, scope: "*gatehouse/connect*" } }
grants:
  - { name: reporting, to: [reporting], allow: [read] }
`),
      },
    });
    try {
      const token = (claims: Record<string, unknown>) =>
        cognito.sign(
          { sub: 'reporting-client', iss: ISS, aud: undefined, token_use: 'access', ...claims },
          300,
        );
      expect(
        await connect(gateway, token({ client_id: 'reporting-client', scope: 'gatehouse/connect' })),
      ).toEqual({
        message: 'connected',
      });
      expect(await connect(gateway, token({ client_id: 'other-client' }))).toMatchObject({
        code: '28000',
        detail: 'check failed: required-claim',
      });
      expect(await connect(gateway, token({ client_id: 'reporting-client', token_use: 'id' }))).toMatchObject(
        {
          detail: 'check failed: required-claim',
        },
      );
    } finally {
      await gateway.stop();
    }
  });
});
