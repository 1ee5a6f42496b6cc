import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { FileCredentialSource } from '../../fargate-proxy/src/upstream/credential-source';
import { ensureSelfSignedCertificate } from '../../local/certificates';
import { testCertificate, testUpstream } from '../support/environment';
import { startTestGateway } from '../support/gateway';

const ssl = { rejectUnauthorized: false };

async function asSuperuser<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const upstream = testUpstream();
  const client = new Client({ ...upstream, database: 'postgres' });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A credential file in the shape of an RDS-managed secret; call the result again to rotate it. */
function credentialFile(
  username: string,
  password: string,
): { file: string; rotate(password: string): void } {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'gh-cred-')), 'secret.json');
  const rotate = (next: string) => writeFileSync(file, JSON.stringify({ username, password: next }));
  rotate(password);
  return { file, rotate };
}

describe('the upstream connection', () => {
  it('verifies the server certificate against the CA bundle (verify-full) and uses TLS', async () => {
    const gateway = await startTestGateway({
      upstream: { tls: 'verify-full', caFile: testCertificate().certFile, serverName: 'localhost' },
    });
    try {
      const client = new Client({ ...gateway.connection(), ssl });
      await client.connect();
      const row = (await client.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows[0];
      expect(row.ssl).toBe(true);
      await client.end();
    } finally {
      await gateway.stop();
    }
  });

  it('refuses an upstream whose certificate does not chain to the CA bundle', async () => {
    const otherCa = await ensureSelfSignedCertificate(mkdtempSync(path.join(os.tmpdir(), 'gh-ca-')));
    const gateway = await startTestGateway({
      upstream: { tls: 'verify-full', caFile: otherCa.certFile, serverName: 'localhost' },
    });
    try {
      const client = new Client({ ...gateway.connection(), ssl });
      await expect(client.connect()).rejects.toMatchObject({ code: '08006' });
    } finally {
      await gateway.stop();
    }
  });

  it('refuses an upstream whose certificate names another host', async () => {
    const gateway = await startTestGateway({
      upstream: { tls: 'verify-full', caFile: testCertificate().certFile, serverName: 'db.example.com' },
    });
    try {
      const client = new Client({ ...gateway.connection(), ssl });
      await expect(client.connect()).rejects.toMatchObject({ code: '08006' });
    } finally {
      await gateway.stop();
    }
  });

  it('authenticates upstream with MD5 when the role has an MD5 password', async () => {
    await asSuperuser(async (c) => {
      await c.query("SET password_encryption = 'md5'");
      await c.query('DROP ROLE IF EXISTS gh_md5_role');
      await c.query("CREATE ROLE gh_md5_role LOGIN PASSWORD 'md5-secret'");
      expect(
        (await c.query("SELECT rolpassword LIKE 'md5%' AS md5 FROM pg_authid WHERE rolname = 'gh_md5_role'"))
          .rows[0].md5,
      ).toBe(true);
    });
    const secret = credentialFile('gh_md5_role', 'md5-secret');
    const gateway = await startTestGateway({}, undefined, new FileCredentialSource(secret.file));
    try {
      const client = new Client({ ...gateway.connection(), ssl });
      await client.connect();
      expect((await client.query('SELECT current_user AS u')).rows[0].u).toBe('gh_md5_role');
      await client.end();
    } finally {
      await gateway.stop();
    }
  });

  it('re-reads a rotated credential after the server rejects the old one, without a restart', async () => {
    await asSuperuser(async (c) => {
      await c.query('DROP ROLE IF EXISTS gh_rotating');
      await c.query("CREATE ROLE gh_rotating LOGIN PASSWORD 'first-password'");
    });
    const secret = credentialFile('gh_rotating', 'first-password');
    const gateway = await startTestGateway({}, undefined, new FileCredentialSource(secret.file));
    try {
      const first = new Client({ ...gateway.connection(), ssl });
      await first.connect();
      await first.end();
      // Rotation: the secret store and the database change; the gateway still caches the old one.
      await asSuperuser((c) => c.query("ALTER ROLE gh_rotating PASSWORD 'second-password'"));
      secret.rotate('second-password');
      const second = new Client({ ...gateway.connection(), ssl });
      await second.connect();
      expect((await second.query('SELECT current_user AS u')).rows[0].u).toBe('gh_rotating');
      await second.end();
    } finally {
      await gateway.stop();
    }
  });

  it('reports a wrong upstream credential as 28000 without naming the upstream role', async () => {
    const secret = credentialFile('postgres', 'wrong');
    const gateway = await startTestGateway({}, undefined, new FileCredentialSource(secret.file));
    try {
      const error = await new Client({ ...gateway.connection(), ssl }).connect().catch((e) => e);
      expect(error.code).toBe('28000');
      expect(error.message).not.toContain('postgres');
    } finally {
      await gateway.stop();
    }
  });

  it("passes the server's own startup errors through, such as an unknown database", async () => {
    const gateway = await startTestGateway();
    try {
      const client = new Client({ ...gateway.connection(), database: 'no_such_database', ssl });
      await expect(client.connect()).rejects.toMatchObject({ code: '3D000' });
    } finally {
      await gateway.stop();
    }
  });

  it('forwards options and application_name to the server', async () => {
    const gateway = await startTestGateway();
    try {
      const client = new Client({
        ...gateway.connection(),
        ssl,
        application_name: 'nightly-export',
        options: '-c search_path=pg_catalog',
      } as never);
      await client.connect();
      const row = (
        await client.query(
          "SELECT current_setting('application_name') AS app, current_setting('search_path') AS path",
        )
      ).rows[0];
      expect(row).toEqual({ app: 'nightly-export', path: 'pg_catalog' });
      await client.end();
    } finally {
      await gateway.stop();
    }
  });
});
