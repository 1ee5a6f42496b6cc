import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { openLocalIssuer } from '../../local/token-issuer';
import { testIssuer } from '../support/environment';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { fieldsOf, RawClient } from '../support/raw-client';
import { cstr, startup, typed } from '../support/wire';

describe('token authentication', () => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await startTestGateway();
  });
  afterAll(async () => {
    await gateway.stop();
  });

  async function attempt(
    password: string,
    ssl = true,
  ): Promise<{ code?: string; message: string; detail?: string }> {
    const client = new Client({
      ...gateway.connection(),
      password,
      ssl: ssl ? { rejectUnauthorized: false } : false,
    });
    try {
      await client.connect();
      await client.end();
      return { message: 'connected' };
    } catch (error) {
      return error as { code?: string; message: string; detail?: string };
    }
  }

  it('accepts a valid token whatever the startup user name says', async () => {
    const client = new Client({
      ...gateway.connection('ci-job'),
      user: 'postgres',
      ssl: { rejectUnauthorized: false },
    });
    await client.connect();
    // The upstream role is the gateway's, never the client's choice.
    expect((await client.query('SELECT current_user AS u')).rows[0].u).toBe('postgres');
    await client.end();
  });

  it.each([
    ['an expired token', () => gateway.token('ci', -120), 'expired'],
    [
      'a token for another audience',
      () => testIssuer().sign({ sub: 'ci', aud: 'someone-else' }, 300),
      'wrong-audience',
    ],
    [
      'a token of an untrusted issuer',
      () => testIssuer().sign({ sub: 'ci', iss: 'https://evil.example' }, 300),
      'unknown-issuer',
    ],
    [
      'a token signed by another key',
      () =>
        openLocalIssuer(path.join(mkdtempSync(path.join(os.tmpdir(), 'gh-other-')), 'issuer')).sign(
          { sub: 'ci' },
          300,
        ),
      'unknown-key',
    ],
    ['a token without a subject', () => testIssuer().sign({ sub: '' }, 300), 'missing-subject'],
    ['a plain password', () => 'hunter2', 'malformed'],
  ])('rejects %s with FATAL 28000 naming the failed check', async (_name, token, reason) => {
    const error = await attempt(token());
    expect(error.code).toBe('28000');
    expect(error.detail).toBe(`check failed: ${reason}`);
  });

  it('rejects a tampered signature', async () => {
    const token = gateway.token('ci');
    const [header, payload] = token.split('.');
    const forged = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), sub: 'admin' }),
    ).toString('base64url');
    const error = await attempt(`${header}.${forged}.${token.split('.')[2]}`);
    expect(error).toMatchObject({ code: '28000', detail: 'check failed: bad-signature' });
  });

  it('refuses an oversized password message before verifying anything', async () => {
    const raw = await RawClient.connect(gateway.port);
    await raw.startTls();
    raw.write(startup({ user: 'x', database: 'postgres' }));
    expect((await raw.next()).code).toBe('R');
    raw.write(typed('p', cstr('a'.repeat(64 * 1024))));
    const error = await raw.next();
    expect(fieldsOf(error)).toMatchObject({ S: 'FATAL', C: '28000' });
    await raw.closedByPeer();
  });

  it('counts failures in the metrics', async () => {
    const before = await fetch(`http://127.0.0.1:${gateway.healthPort}/metrics`).then((r) => r.text());
    await attempt('not-a-token');
    const after = await fetch(`http://127.0.0.1:${gateway.healthPort}/metrics`).then((r) => r.text());
    const count = (text: string) => Number(/^gatehouse_auth_failures_total (\d+)/m.exec(text)?.[1]);
    expect(count(after)).toBe(count(before) + 1);
  });
});
