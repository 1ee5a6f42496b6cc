import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { startEmbeddedPostgres } from '../../local/embedded-postgres';
import { freePort } from '../../local/free-port';
import { testHome } from '../support/environment';

const settings = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' };

describe('the embedded PostgreSQL of local mode', () => {
  it('starts again after a gateway was killed and left its server running on the data directory', async () => {
    // GIVEN a server whose gateway was killed (nobody will stop it): its postmaster.pid is live
    const dataDir = path.join(mkdtempSync(path.join(testHome(), 'embedded-')), 'pgdata');
    const orphan = await startEmbeddedPostgres({
      dataDir: path.resolve(dataDir),
      port: await freePort(),
      settings,
    });
    const orphanPid = Number(
      readFileSync(path.join(orphan.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0],
    );
    // WHEN the next local gateway starts on the same directory
    const next = await startEmbeddedPostgres({
      dataDir: path.resolve(dataDir),
      port: await freePort(),
      settings,
    });
    try {
      // THEN the orphan was shut down and the new server serves
      expect(existsSync(`/proc/${orphanPid}`)).toBe(false);
      const client = new Client({
        host: next.host,
        port: next.port,
        user: next.user,
        password: next.password,
        database: 'postgres',
      });
      await client.connect();
      expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await client.end();
    } finally {
      await next.stop();
    }
  }, 60_000);
});
