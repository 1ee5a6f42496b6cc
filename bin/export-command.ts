import { createPublicKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { type RegisteredHead, verifyStore, type WriterContents } from '../core/audit/verify';
import { buildEvidence, type EvidenceRenderers, packageFiles } from '../core/evidence/build-evidence';
import type { EvidencePeriod } from '../core/evidence/evidence-package';
import { PeriodError, parsePeriod } from '../core/evidence/evidence-period';
import { evidencePolicy } from '../core/evidence/evidence-policy';
import { checkPackage, MANIFEST_FILE, signedManifest } from '../core/evidence/manifest';
import { readStoredRecords, storedDigests } from '../core/evidence/stored-records';
import { readLocalStore } from '../fargate-proxy/src/audit/local-store';
import { type EvidenceSigner, evidenceSigner } from '../fargate-proxy/src/evidence/evidence-signer';
import {
  PackageExistsError,
  packageContents,
  readPackageFile,
  writePackage,
} from '../fargate-proxy/src/evidence/package-writer';
import { Progress, type ProgressStream } from '../fargate-proxy/src/evidence/progress';
import { LOCAL_ISSUER } from '../local/token-issuer';

/** A mistake in the command line (exit code 2, with the usage). */
export class ExportUsageError extends Error {
  override readonly name = 'ExportUsageError';
}

export const EXPORT_USAGE = `gatehouse export --from DATE --to DATE --out DIR
                 [--home .gatehouse | --store DIR | --s3 BUCKET[/PREFIX] [--table TABLE] [--region R]]
                 [--policy FILE] [--issuer NAME=ISS]… [--public-key FILE]
                 [--signing-key FILE | --kms-key-id ID] [--force] [--progress]
gatehouse export --check DIR [--public-key FILE | --home .gatehouse | --kms-key-id ID]`;

export interface ExportCommandOptions {
  /** Progress and warnings (stderr). */
  readonly stderr?: ProgressStream;
  /** The OSCAL and HTML renderings; core/evidence's by default. */
  readonly renderers?: EvidenceRenderers;
  readonly now?: () => Date;
}

/** Loaded on use: the renderers pull in the OSCAL and report modules, which other commands never need. */
async function defaultRenderers(): Promise<EvidenceRenderers> {
  return (await import('../core/evidence/evidence-renderers.js')).evidenceRenderers;
}

function readKey(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${what} ${file}: ${(error as Error).message}`);
  }
}

/** `NAME=ISS` pairs: issuer names of the gateway configuration, as policies name them. */
function issuerNames(pairs: readonly string[]): Record<string, string> {
  const names: Record<string, string> = { local: LOCAL_ISSUER };
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq < 1 || eq === pair.length - 1)
      throw new ExportUsageError(
        `--issuer expects NAME=ISS (e.g. github=https://token.actions.githubusercontent.com), got "${pair}"`,
      );
    names[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return names;
}

function parseOptions(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        out: { type: 'string' },
        check: { type: 'string' },
        home: { type: 'string', default: '.gatehouse' },
        store: { type: 'string' },
        s3: { type: 'string' },
        table: { type: 'string' },
        region: { type: 'string' },
        's3-endpoint': { type: 'string' },
        'dynamodb-endpoint': { type: 'string' },
        'kms-endpoint': { type: 'string' },
        policy: { type: 'string' },
        issuer: { type: 'string', multiple: true, default: [] },
        'public-key': { type: 'string' },
        'signing-key': { type: 'string' },
        'kms-key-id': { type: 'string' },
        force: { type: 'boolean', default: false },
        progress: { type: 'boolean', default: false },
      },
    }).values;
  } catch (error) {
    throw new ExportUsageError(`${(error as Error).message}\n\n${EXPORT_USAGE}`);
  }
}

/**
 * `gatehouse export`: writes the NIST evidence package of a period from an audit store (local or S3),
 * verified, with the policy in force at the end of the period; or, with --check, checks a package's
 * manifest signature and every file's hash. Exit code 0 when the package was written (whatever the
 * controls' statuses) or checks out; 1 when a checked package does not; errors are thrown.
 */
export async function exportCommand(
  argv: string[],
  write: (text: string) => void,
  options: ExportCommandOptions = {},
): Promise<number> {
  const values = parseOptions(argv);
  const stderr = options.stderr ?? process.stderr;
  const home = path.resolve(values.home);
  const localKey = path.join(home, 'keys', 'audit-signing-key.pem');
  if (values['signing-key'] && values['kms-key-id'])
    throw new ExportUsageError('give --signing-key or --kms-key-id, not both');
  const kms = values['kms-key-id']
    ? { kmsKeyId: values['kms-key-id'], region: values.region, endpoint: values['kms-endpoint'] }
    : undefined;

  /** The audit trail's public key: given, or that of the signing key (local mode's by default). */
  const publicKey = async (signer?: EvidenceSigner): Promise<string> => {
    if (values['public-key']) return readKey(values['public-key'], 'public key');
    if (signer) return signer.publicKeyPem();
    if (kms) return evidenceSigner(kms).publicKeyPem();
    if (!existsSync(localKey)) throw new ExportUsageError(`no --public-key given and no ${localKey}`);
    return createPublicKey(readKey(localKey, 'signing key'))
      .export({ type: 'spki', format: 'pem' })
      .toString();
  };

  if (values.check !== undefined) {
    const directory = path.resolve(values.check);
    const manifestBytes = readPackageFile(directory, MANIFEST_FILE);
    if (!manifestBytes) throw new Error(`${directory} holds no ${MANIFEST_FILE}: not an evidence package`);
    const { manifest, problems } = checkPackage(
      manifestBytes,
      await publicKey(),
      (file) => readPackageFile(directory, file),
      packageContents(directory),
    );
    for (const problem of problems) write(`FAIL  ${problem.kind}: ${problem.detail}\n`);
    if (problems.length > 0) {
      write(`${directory}: NOT VERIFIED (${problems.length} problem${problems.length === 1 ? '' : 's'})\n`);
      return 1;
    }
    write(
      `${directory}: verified: manifest signature valid, ${manifest!.files.length} files match their SHA-256 (period ${manifest!.period.from} to ${manifest!.period.to})\n`,
    );
    return 0;
  }

  if (!values.from || !values.to || !values.out)
    throw new ExportUsageError(`export needs --from, --to and --out (or --check DIR)\n\n${EXPORT_USAGE}`);
  if (values.store && values.s3) throw new ExportUsageError('give --store or --s3, not both');
  let period: EvidencePeriod;
  try {
    period = parsePeriod(values.from, values.to);
  } catch (error) {
    if (error instanceof PeriodError) throw new ExportUsageError(error.message);
    throw error;
  }
  const policyFile = values.policy ? path.resolve(values.policy) : path.join(home, 'policy.yaml');
  if (!existsSync(policyFile))
    throw new ExportUsageError(
      values.policy ? `no policy file ${policyFile}` : `no --policy given and no ${policyFile}`,
    );
  const policy = evidencePolicy(readKey(policyFile, 'policy'), policyFile);
  const issuers = issuerNames(values.issuer);
  // Refused before the store is read (the writer checks again, and what --force may replace).
  if (existsSync(values.out) && !values.force)
    throw new ExportUsageError(`${path.resolve(values.out)} exists (--force replaces a package)`);
  const signingKey = values['signing-key'] ?? (kms ? undefined : localKey);
  if (!kms && !existsSync(signingKey!))
    throw new ExportUsageError(
      values['signing-key']
        ? `no signing key ${signingKey}`
        : `no --signing-key or --kms-key-id given and no ${localKey}: the manifest must be signed`,
    );
  const signer = evidenceSigner(kms ?? { signingKeyFile: path.resolve(signingKey!) });
  const auditKey = await publicKey(signer);
  if (values['public-key']) {
    const own = await signer.publicKeyPem();
    if (
      createPublicKey(own)
        .export({ type: 'spki', format: 'der' })
        .compare(createPublicKey(auditKey).export({ type: 'spki', format: 'der' })) !== 0
    )
      stderr.write(
        `gatehouse: warning: the manifest is signed with ${signer.description}, whose public key is not --public-key (the audit trail's): an assessor needs both keys\n`,
      );
  }

  const progress = new Progress(stderr, values.progress || stderr.isTTY === true);
  try {
    let writers: WriterContents[];
    let where: string;
    progress.update('reading the audit store…', true);
    if (values.s3) {
      const [bucket, ...rest] = values.s3.split('/');
      if (!bucket) throw new ExportUsageError('--s3 expects BUCKET or BUCKET/PREFIX');
      const prefix = rest.length > 0 ? `${rest.join('/').replace(/\/?$/, '/')}` : 'audit/';
      const { S3Client } = await import('@aws-sdk/client-s3');
      const { readS3Store } = await import('../fargate-proxy/src/audit/s3-store-reader.js');
      const endpoint = values['s3-endpoint'];
      const client = new S3Client({
        region: values.region,
        endpoint,
        forcePathStyle: endpoint !== undefined,
      });
      writers = await readS3Store(client, bucket, prefix);
      where = `s3://${bucket}/${prefix}`;
    } else {
      const store = path.resolve(values.store ?? path.join(home, 'audit'));
      if (!existsSync(store)) throw new Error(`no audit store at ${store}`);
      writers = readLocalStore(store);
      where = store;
    }
    const { records } = readStoredRecords(writers, (n) => progress.update(`records read: ${n}`));
    progress.done(`records read: ${records.length} (${writers.length} writers)`);

    progress.update('verifying the store…', true);
    let heads: Map<string, RegisteredHead> | undefined;
    if (values.table) {
      const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
      const { readRegisteredHeads } = await import('../fargate-proxy/src/audit/dynamodb-head-registry.js');
      heads = await readRegisteredHeads(
        new DynamoDBClient({ region: values.region, endpoint: values['dynamodb-endpoint'] }),
        values.table,
      );
    }
    const verification = verifyStore(writers, auditKey, heads);
    progress.done(`verified: ${verification.ok ? 'ok' : `${verification.problems.length} problem(s)`}`);

    const generatedAt = (options.now?.() ?? new Date()).toISOString();
    const contents = buildEvidence({
      period,
      generatedAt,
      records,
      verification,
      digests: storedDigests(writers),
      policy,
      issuers,
      store: where,
    });
    const files = packageFiles(contents, options.renderers ?? (await defaultRenderers()));
    const written = await writePackage(
      values.out,
      files,
      (entries) => signedManifest(entries, period, generatedAt, signer.signer),
      {
        force: values.force,
        onFile: (n, total, file) => progress.update(`files written: ${n}/${total} (${file})`, n === 1),
      },
    );
    progress.done(`files written: ${files.length + 1}/${files.length + 1}`);
    const { summary } = contents;
    write(
      `${written.directory}: evidence package for ${period.from} to ${period.to}: ${written.manifest.files.length + 1} files, ${contents.analysis.periodRecords.length} records of the period, manifest signed with ${signer.description}\n`,
    );
    write(
      `store ${where}: ${verification.ok ? 'verified' : `NOT VERIFIED (${verification.problems.filter((p) => !p.kind.endsWith('-undigested')).length} problems)`}\n`,
    );
    for (const control of summary.controls)
      write(`${control.control.padEnd(6)} ${control.status.padEnd(24)} ${control.reason}\n`);
    return 0;
  } catch (error) {
    progress.clear();
    if (error instanceof PackageExistsError) throw new ExportUsageError(error.message);
    throw error;
  }
}
