import { createPublicKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { type RegisteredHead, verifyStore, type WriterContents } from '../core/audit/verify';
import { readLocalStore } from '../fargate-proxy/src/audit/local-store';

/**
 * `gatehouse verify`: checks an audit store offline with only the public key. Exit code 0 when every
 * record, chunk and digest checks out, 1 when anything was changed, removed, reordered or inserted.
 */
export async function verifyCommand(argv: string[], write: (text: string) => void): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      home: { type: 'string', default: '.gatehouse' },
      store: { type: 'string' },
      'public-key': { type: 'string' },
      /** An S3 store: BUCKET or BUCKET/PREFIX/ (what the gateway ships to). */
      s3: { type: 'string' },
      /** The gateway's DynamoDB table: writer heads there show digests deleted from the store's end. */
      table: { type: 'string' },
      region: { type: 'string' },
      /** Other endpoints than AWS's (emulators). */
      's3-endpoint': { type: 'string' },
      'dynamodb-endpoint': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const home = path.resolve(values.home);
  const store = path.resolve(values.store ?? path.join(home, 'audit'));
  let publicKey: string;
  if (values['public-key']) {
    publicKey = readFileSync(values['public-key'], 'utf8');
  } else {
    // Local mode: derive the public key from the signing key it keeps.
    const keyFile = path.join(home, 'keys', 'audit-signing-key.pem');
    if (!existsSync(keyFile)) throw new Error(`no --public-key given and no ${keyFile}`);
    publicKey = createPublicKey(readFileSync(keyFile)).export({ type: 'spki', format: 'pem' }).toString();
  }
  let writers: WriterContents[];
  let where = store;
  if (values.s3) {
    const [bucket, ...rest] = values.s3.split('/');
    const prefix = rest.length > 0 ? `${rest.join('/').replace(/\/?$/, '/')}` : 'audit/';
    const { S3Client } = await import('@aws-sdk/client-s3');
    const { readS3Store } = await import('../fargate-proxy/src/audit/s3-store-reader.js');
    const endpoint = values['s3-endpoint'];
    const client = new S3Client({ region: values.region, endpoint, forcePathStyle: endpoint !== undefined });
    writers = await readS3Store(client, bucket!, prefix);
    where = `s3://${bucket}/${prefix}`;
  } else {
    if (!existsSync(store)) throw new Error(`no audit store at ${store}`);
    writers = readLocalStore(store);
  }
  let heads: Map<string, RegisteredHead> | undefined;
  if (values.table) {
    const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
    const { readRegisteredHeads } = await import('../fargate-proxy/src/audit/dynamodb-head-registry.js');
    heads = await readRegisteredHeads(
      new DynamoDBClient({ region: values.region, endpoint: values['dynamodb-endpoint'] }),
      values.table,
    );
  }
  const report = verifyStore(writers, publicKey, heads);
  if (values.json) {
    write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    write(
      `${where}: ${report.writers} writers, ${report.digests} digests, ${report.chunks} chunks, ${report.recordings} recordings, ${report.sessions} sessions, ${report.records} records\n`,
    );
    for (const note of report.notes) {
      write(
        `note  ${note.writer}${note.session ? ` session ${note.session}` : ''}: ${note.kind}: ${note.detail}\n`,
      );
    }
    for (const problem of report.problems) {
      write(
        `${problem.kind.endsWith('-undigested') ? 'note ' : 'FAIL '} ${problem.writer}${problem.session ? ` session ${problem.session}` : ''}: ${problem.kind}: ${problem.detail}\n`,
      );
    }
    write(report.ok ? 'verified: nothing changed, removed, reordered or inserted\n' : 'NOT VERIFIED\n');
  }
  return report.ok ? 0 : 1;
}
