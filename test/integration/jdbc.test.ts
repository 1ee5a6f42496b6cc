import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireClient } from '../support/environment';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { type Outcome, runCommand } from '../support/run-command';

/** Debian's pgjdbc (package libpostgresql-jdbc-java) and the JDK's tools. */
const DRIVER_JAR = '/usr/share/java/postgresql.jar';
const JAVAC = '/usr/bin/javac';
const JAVA = '/usr/bin/java';
const SOURCE = path.join(__dirname, 'jdbc', 'GatehouseJdbcSmoke.java');

const available = requireClient(
  'java + pgjdbc',
  existsSync(DRIVER_JAR) && existsSync(JAVAC) && existsSync(JAVA),
);
const describeIfJdbc = available ? describe : describe.skip;

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Outcome> {
  return runCommand(command, args, { env });
}

describeIfJdbc('pgjdbc through the gateway', () => {
  let gateway: TestGateway;
  let classes: string;
  let output: Outcome;
  let lines: string[];

  beforeAll(async () => {
    classes = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-jdbc-'));
    const env = { PATH: process.env.PATH, LANG: 'C.UTF-8' };
    const compiled = await run(JAVAC, ['-encoding', 'UTF-8', '-cp', DRIVER_JAR, '-d', classes, SOURCE], env);
    if (compiled.code !== 0) throw new Error(`javac failed:\n${compiled.stderr}`);

    gateway = await startTestGateway();
    const connection = gateway.connection('jdbc-job');
    const url =
      `jdbc:postgresql://${connection.host}:${connection.port}/${connection.database}` +
      '?sslmode=require&ssl=true&sslfactory=org.postgresql.ssl.NonValidatingFactory' +
      '&prepareThreshold=1&binaryTransfer=true&connectTimeout=10';
    output = await run(
      JAVA,
      [
        '-Duser.timezone=UTC',
        '-Dstdout.encoding=UTF-8',
        '-Dsun.stdout.encoding=UTF-8',
        '-cp',
        `${classes}:${DRIVER_JAR}`,
        'GatehouseJdbcSmoke',
      ],
      {
        ...env,
        GATEHOUSE_JDBC_URL: url,
        GATEHOUSE_JDBC_USER: connection.user,
        GATEHOUSE_JDBC_PASSWORD: connection.password,
      },
    );
    lines = output.stdout.split('\n').filter(Boolean);
  }, 60_000);

  afterAll(async () => {
    await gateway?.stop();
    if (classes) rmSync(classes, { recursive: true, force: true });
  });

  it('runs the whole program successfully', () => {
    expect(output.stderr).toBe('');
    expect(output.code).toBe(0);
    expect(lines[lines.length - 1]).toBe('done');
  });

  it('returns int, bigint, numeric, text, bytea and timestamp values from server-prepared statements', () => {
    const prepared = lines.filter((line) => line.startsWith('prepared '));
    // The first executions use text results; later ones, with known result types, binary.
    expect(prepared).toEqual(
      Array.from(
        { length: 5 },
        (_, i) =>
          `prepared ${i} int=${42 + i} bigint=${9_223_372_036_854_775_806n - 2n * BigInt(i)} numeric=12345678901234567890.000000001 ` +
          `text=grüße ${i}! bytea=0001feff0${i} timestamp=2024-02-29T12:34:56.789`,
      ),
    );
    expect(lines).toContain('server prepared statements: yes');
  });

  it('inserts a 1000-row executeBatch (pipelined Bind/Execute before one Sync)', () => {
    expect(lines).toContain('batch updates=1000 rows=1000 sum=499500');
  });

  it('cancels a statement on setQueryTimeout through a CancelRequest and keeps the connection usable', () => {
    expect(lines).toContain('cancel sqlstate=57014 within4s=true after=usable');
  });

  it('copies in and out with CopyManager', () => {
    expect(lines).toContain('copy in=3000 out=3000 identical=true');
  });

  it('delivers notifications to PGConnection.getNotifications', () => {
    expect(lines).toContain('notifications: gatehouse_jdbc=first gatehouse_jdbc=second');
  });

  it('rolls back a transaction aborted by an error and continues', () => {
    expect(lines).toContain('transaction error=22012 kept=0');
  });
});
