import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, DatabaseError } from 'pg';
import { LocalDigestSigner } from '../../core/audit/digest';
import type { AuditRecord, StatementRecord } from '../../core/audit/records';
import { type ProblemKind, verifyStore, type WriterContents } from '../../core/audit/verify';
import { readRegisteredHeads } from '../../fargate-proxy/src/audit/dynamodb-head-registry';
import { readS3Store } from '../../fargate-proxy/src/audit/s3-store-reader';
import { startDynalite, type TestDynamoDb } from '../support/dynalite';
import { auditKeyFile, testHome, testIssuer, testUpstream } from '../support/environment';
import { type GatewayChild, spawnGateway } from '../support/gateway-process';
import { fixedTestPort } from '../support/ports';
import { startS3rver, type TestS3 } from '../support/s3rver';

/** How long the store stays unreachable (the run: 30 s; CI: a few seconds). */
const STORE_DOWN_MS = Number(process.env.GATEHOUSE_FAULT_STORE_DOWN_MS ?? 3000);
const BUCKET = 'fault-evidence';
const ssl = { rejectUnauthorized: false };

function statementsOf(store: readonly WriterContents[]): StatementRecord[] {
  return store
    .flatMap((writer) => [...writer.chunks.values()])
    .flatMap((bytes) => bytes.toString('utf8').split('\n'))
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as AuditRecord)
    .filter((r): r is StatementRecord => r.type === 'statement');
}

/** A copy of the store with one file's bytes changed by `change` (the original is left alone). */
function tampered(
  store: readonly WriterContents[],
  change: (writer: WriterContents) => Partial<WriterContents>,
): WriterContents[] {
  return store.map((writer, i) => (i === 0 ? { ...writer, ...change(writer) } : writer));
}

function flipByte(bytes: Buffer, at: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[at]! ^= 0x01;
  return copy;
}

describe('the fault run: upstream killed, store down, gateway SIGKILLed and restarted', () => {
  let s3: TestS3;
  let dynamo: TestDynamoDb;
  let table: string;
  let gateway: GatewayChild | undefined;

  afterAll(async () => {
    gateway?.child.kill('SIGKILL');
    await s3?.stop().catch(() => undefined);
    await dynamo?.stop().catch(() => undefined);
  });

  it('keeps one record per acknowledged statement, refuses strict ones while the store is down, and verifies; tampering shows', async () => {
    const tables = mkdtempSync(path.join(testHome(), 'fault-dynalite-'));
    // Both stores come back on their ports after being stopped: ports below the ephemeral range, so
    // no outgoing connection of the parallel suite can take one meanwhile.
    s3 = await startS3rver({ port: await fixedTestPort() });
    await s3.createBucket(BUCKET);
    dynamo = await startDynalite({ port: await fixedTestPort(), path: tables });
    table = await dynamo.createTable();
    const stores = {
      s3: { port: s3.port, directory: s3.directory },
      dynamo: Number(new URL(dynamo.endpoint).port),
    };
    const config = {
      workers: 0,
      // The drain period is also what SIGTERM gives the last shipping.
      drainMs: 10_000,
      audit: {
        directory: mkdtempSync(path.join(testHome(), 'fault-spool-')),
        writer: 'fault',
        // Long: only the write-before-acknowledge path can put records on disk before the SIGKILL.
        flushMs: 10_000,
        digestIntervalMs: 500,
        // Long enough for the emulator on a loaded machine, short enough for refusals while it is down.
        strict: { dynamodb: { table, region: 'us-east-1', endpoint: dynamo.endpoint }, timeoutMs: 1000 },
        ship: {
          s3: {
            bucket: BUCKET,
            endpoint: s3.endpoint,
            region: 'us-east-1',
            forcePathStyle: true,
            retentionDays: 1,
          },
          retryBaseMs: 50,
          retryMaxMs: 250,
        },
      },
    };
    // The emulators take any credentials (s3rver wants its own pair).
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
    });
    gateway = await spawnGateway(config);
    const connect = async (subject: string, application = 'fault-run') => {
      const client = new Client({
        host: '127.0.0.1',
        port: gateway!.port,
        user: subject,
        password: testIssuer().sign({ sub: subject }, 600),
        database: 'postgres',
        ssl,
        application_name: application,
      });
      client.on('error', () => undefined);
      await client.connect();
      return client;
    };
    let acknowledged = 0;
    /** Runs a statement; counts it when the client got an answer (rows or an error). */
    const run = async (client: Client, text: string, values?: unknown[]) => {
      try {
        const result = await client.query(text, values);
        acknowledged++;
        return result;
      } catch (error) {
        // An ErrorResponse is an answer; a broken connection (ECONNRESET…) is not.
        if (error instanceof DatabaseError) acknowledged++;
        throw error;
      }
    };

    // 1. Normal work: reads (buffered) and writes (strict).
    const worker = await connect('fault-worker');
    await run(worker, 'CREATE TEMP TABLE fault_t (v int)');
    for (let i = 0; i < 20; i++) {
      await run(worker, 'INSERT INTO fault_t VALUES ($1)', [i]);
      await run(worker, 'SELECT count(*) FROM fault_t');
    }

    // 2. The upstream session is killed mid-statement.
    const victim = await connect('fault-victim', 'fault-victim');
    const sleeping = run(victim, 'SELECT pg_sleep(30)').catch((error: { code?: string }) => error.code);
    const upstream = testUpstream();
    const admin = new Client({ ...upstream, database: 'postgres' });
    await admin.connect();
    for (let killed = 0; killed === 0; await sleep(20)) {
      const result = await admin.query(
        "SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE application_name = 'fault-victim' AND query LIKE 'SELECT pg_sleep%'",
      );
      killed = result.rowCount ?? 0;
    }
    await admin.end();
    expect(await sleeping).toBe('57P01');

    // 3. The store goes away (DynamoDB and S3): writes are refused, reads go on.
    await dynamo.stop();
    await s3.stop();
    const downUntil = Date.now() + STORE_DOWN_MS;
    let refused = 0;
    while (Date.now() < downUntil) {
      await run(worker, 'SELECT 1');
      await run(worker, 'INSERT INTO fault_t VALUES (-1)').catch((error: { code?: string }) => {
        expect(error.code).toBe('58030');
        refused++;
      });
      await sleep(100);
    }
    expect(refused).toBeGreaterThan(0);
    dynamo = await startDynalite({ port: stores.dynamo, path: tables });
    s3 = await startS3rver(stores.s3);
    await run(worker, 'INSERT INTO fault_t VALUES (100)');

    // 4. SIGKILL while statements are under way; the same spool is picked up by a new process.
    let stop = false;
    const loop = (async () => {
      for (let i = 0; !stop; i++) await run(worker, 'SELECT $1::int AS n', [i]);
    })().catch(() => undefined);
    await sleep(300);
    gateway.child.kill('SIGKILL');
    stop = true;
    await loop;
    gateway = await spawnGateway(config);
    expect(await gateway.terminate()).toBe(0);
    gateway = undefined;

    // 5. What reached the store.
    const store = await readS3Store(s3.client, BUCKET, 'audit/');
    const statements = statementsOf(store);
    // On SIGTERM everything sealed was shipped within the drain period: only markers (and the newest
    // digest, which the next process continues from) are left in the spool.
    expect(
      readdirSync(path.join(config.audit.directory, 'fault-w0')).filter(
        (f) => !f.endsWith('.shipped') && !/^digest-\d+\.json$/.test(f),
      ),
    ).toEqual([]);
    expect(statements.length).toBeGreaterThanOrEqual(acknowledged);
    expect(statements.length).toBeLessThanOrEqual(acknowledged + 1); // the one whose answer was on its way
    expect(statements.filter((r) => r.rule === 'strict-audit')).toHaveLength(refused);
    expect(statements.find((r) => r.text === 'SELECT pg_sleep(30)')?.outcome.sqlstate).toBe('57P01');
    const publicKey = new LocalDigestSigner(readFileSync(auditKeyFile(), 'utf8')).publicKeyPem();
    const heads = await readRegisteredHeads(dynamo.client, table);
    expect(heads.get('fault-w0')).toBeDefined();
    const report = verifyStore(store, publicKey, heads);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);

    // 6. Any tampering shows.
    const kinds = (changed: WriterContents[]): ProblemKind[] =>
      verifyStore(changed, publicKey, heads).problems.map((p) => p.kind);
    const [firstChunk] = [...store[0]!.chunks.keys()].sort();
    const chunkBytes = store[0]!.chunks.get(firstChunk!)!;
    // a byte of a record
    expect(
      kinds(
        tampered(store, (w) => ({
          chunks: new Map([
            ...w.chunks,
            [firstChunk!, flipByte(chunkBytes, chunkBytes.indexOf('"text":"') + 9)],
          ]),
        })),
      ),
    ).toEqual(expect.arrayContaining(['chunk-altered', 'record-altered']));
    // a byte of a digest
    expect(
      kinds(
        tampered(store, (w) => ({
          digests: w.digests.map((d, i) => (i === 0 ? flipByte(d, d.indexOf('"to":') + 6) : d)),
        })),
      ),
    ).toContain('digest-signature');
    // a whole chunk
    expect(
      kinds(
        tampered(store, (w) => ({ chunks: new Map([...w.chunks].filter(([name]) => name !== firstChunk)) })),
      ),
    ).toContain('chunk-missing');
    // the tail of the store (its newest digest)
    const newest = store[0]!.digests.reduce((a, b) =>
      (JSON.parse(a.toString()) as { seq: number }).seq > (JSON.parse(b.toString()) as { seq: number }).seq
        ? a
        : b,
    );
    expect(kinds(tampered(store, (w) => ({ digests: w.digests.filter((d) => d !== newest) })))).toContain(
      'digest-tail-deleted',
    );
  }, 120_000);
});
