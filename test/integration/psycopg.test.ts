import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { libpqEnvironment, requireClient } from '../support/environment';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { type Outcome, runCommand } from '../support/run-command';

/** Debian's python3-psycopg installs for Debian's interpreter, not for whatever python3 is first on PATH. */
const PYTHON = '/usr/bin/python3';
const SCRIPT = path.join(__dirname, 'psycopg', 'smoke.py');

function psycopgInstalled(): boolean {
  if (!existsSync(PYTHON)) return false;
  return spawnSync(PYTHON, ['-c', 'import psycopg'], { stdio: 'ignore' }).status === 0;
}

const available = requireClient('psycopg 3 (python3-psycopg)', psycopgInstalled());
const describeIfPsycopg = available ? describe : describe.skip;

/** Runs the script; see runCommand for why asynchronously. */
function runScript(env: NodeJS.ProcessEnv): Promise<Outcome> {
  return runCommand(PYTHON, [SCRIPT], { env });
}

describeIfPsycopg('psycopg 3 through the gateway', () => {
  let gateway: TestGateway;
  let output: Outcome;
  let lines: string[];

  beforeAll(async () => {
    gateway = await startTestGateway();
    const connection = gateway.connection('psycopg-job');
    output = await runScript(
      libpqEnvironment(connection, { PYTHONIOENCODING: 'utf-8', PYTHONDONTWRITEBYTECODE: '1' }),
    );
    lines = output.stdout.split('\n').filter(Boolean);
  }, 60_000);

  afterAll(async () => {
    await gateway?.stop();
  });

  it('runs the whole script successfully', () => {
    expect(output.stderr).toBe('');
    expect(output.code).toBe(0);
    expect(lines[lines.length - 1]).toBe('done');
  });

  it('connects with sslmode=require over TLS', () => {
    expect(lines).toContain('ssl in_use=True status=OK');
  });

  it('binds parameters server-side and prepares named statements', () => {
    expect(lines).toContain('params sum=42 text=grüße! numeric=0.2 date=2024-02-29');
    expect(lines).toContain('prepared named=True');
  });

  it('inserts 1000 rows with executemany', () => {
    expect(lines).toContain('executemany rows=1000 sum=499500');
  });

  it('reads binary results of a binary cursor', () => {
    expect(lines).toContain(
      'binary formats=[1] int8=4611686018427387905 bytea=True numeric=-123456789.000001 ' +
        'timestamptz=2024-02-29T23:59:59.123456+00:00 float8=0.5 array=[1, 2, 3]',
    );
  });

  it('copies rows in and out with cursor.copy()', () => {
    expect(lines).toContain(
      "copy in=5000 nulls=1250 out=5000 last=(4999, 'name\\t4999', 'note 4999') binary=True",
    );
  });

  it('recovers from an error in a transaction with rollback', () => {
    expect(lines).toContain('error first=22012 then=25P02 kept=0');
  });

  it('runs statements in pipeline mode, including an error that aborts only its own sync group', () => {
    expect(lines).toContain('pipeline results=50 last=490 sum=12250');
    expect(lines).toContain('pipeline error=22012 rows=7 values=1,2,3,4,5,100,300');
  });

  it('cancels a running statement with conn.cancel() from another thread', () => {
    expect(lines).toContain('cancel sqlstate=57014 within5s=True after=usable');
  });
});
