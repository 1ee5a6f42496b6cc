import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { fixedTestPort } from '../support/ports';

const CLI = path.join(__dirname, '..', '..', 'dist', 'bin', 'gatehouse.js');

function waitFor(child: ChildProcess, text: string, timeoutMs: number): Promise<string> {
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`timed out waiting for "${text}":\n${output}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(text)) {
        clearTimeout(timer);
        resolve(output);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited with ${code}:\n${output}`)));
  });
}

describe('gatehouse local', () => {
  it('starts PostgreSQL with the demo data, prints a psql line that works, and stops cleanly on Ctrl-C', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'gh-local-'));
    const port = await fixedTestPort();
    const child = spawn(
      process.execPath,
      [
        CLI,
        'local',
        '--home',
        home,
        '--port',
        String(port),
        '--health-port',
        '0',
        '--replay-port',
        '0',
        '--log-level',
        'warn',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const banner = await waitFor(child, 'Ctrl-C stops', 60_000);
    // The printed line carries a literal token: use it as a user would.
    const line = banner.split('\n').find((l) => l.includes("PGPASSWORD='"))!;
    const token = /PGPASSWORD='([^']+)'/.exec(line)![1]!;
    expect(line).toContain(`port=${port} dbname=demo user=demo-ci sslmode=require`);
    // The recordings page, behind the per-run secret the banner prints.
    const recordings = /sessions {2}(http:\/\/127\.0\.0\.1:\d+\/\?secret=[\w-]+)/.exec(banner)?.[1];
    expect(recordings).toBeDefined();
    expect((await fetch(new URL('/api/sessions', recordings))).status).toBe(401);
    expect((await fetch(recordings!, { redirect: 'manual' })).status).toBe(303);
    const client = new Client({
      host: '127.0.0.1',
      port,
      user: 'demo-ci',
      password: token,
      database: 'demo',
      ssl: { rejectUnauthorized: false },
    });
    await client.connect();
    const counts = (
      await client.query(
        'SELECT (SELECT count(*) FROM customers)::int AS customers, (SELECT count(*) FROM accounts)::int AS accounts',
      )
    ).rows[0];
    expect(counts.customers).toBeGreaterThanOrEqual(1000);
    expect(counts.accounts).toBeGreaterThanOrEqual(1000);
    // The demo policy (copied to the home on first start) makes the CI identity read-only.
    expect(existsSync(path.join(home, 'policy.yaml'))).toBe(true);
    await expect(client.query('DELETE FROM customers')).rejects.toMatchObject({
      code: '42501',
      detail: expect.stringContaining('grant "read-only"'),
    });
    // The CLI mints tokens for any identity from the same issuer.
    const minted = execFileSync(process.execPath, [
      CLI,
      'token',
      '--home',
      home,
      '--sub',
      'other-job',
      '--claim',
      'env=ci',
      '--ttl',
      '2m',
    ])
      .toString()
      .trim();
    const payload = JSON.parse(Buffer.from(minted.split('.')[1]!, 'base64url').toString());
    expect(payload).toMatchObject({ sub: 'other-job', env: 'ci', aud: 'gatehouse' });
    expect(payload.exp - payload.iat).toBe(120);
    const second = new Client({
      host: '127.0.0.1',
      port,
      user: 'other-job',
      password: minted,
      database: 'demo',
      ssl: { rejectUnauthorized: false },
    });
    await second.connect();
    await second.end();

    const ended = new Promise<{ code?: string }>((resolve) =>
      client.on('error', (e) => resolve(e as { code?: string })),
    );
    const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    expect(await ended).toMatchObject({ code: '57P01' });
    expect(await exit).toBe(0);
    // The embedded server is gone with it.
    const dataDir = /\(data in ([^)]+)\)/.exec(banner)![1]!;
    expect(execFileSync('ps', ['-eo', 'args']).toString()).not.toContain(dataDir);
  }, 120_000);
});
