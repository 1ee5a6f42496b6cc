import type { RegisteredHead, WriterContents } from '../../core/audit/verify';
import { verifyStore } from '../../core/audit/verify';
import { buildEvidence, type EvidenceRenderers, packageFiles } from '../../core/evidence/build-evidence';
import type { ControlStatus } from '../../core/evidence/evidence-package';
import { evidencePolicy } from '../../core/evidence/evidence-policy';
import { evidenceRenderers } from '../../core/evidence/evidence-renderers';
import { MANIFEST_FILE, manifestEntry, signedManifest } from '../../core/evidence/manifest';
import { readStoredRecords, storedDigests } from '../../core/evidence/stored-records';
import type { EvidenceSigner } from '../../fargate-proxy/src/evidence/evidence-signer';
import type { PolicyObjectStore } from '../../fargate-proxy/src/policy/s3-policy-object-store';
import type { Logger } from '../shared/logger';
import { type ExportRequest, periodLabel } from './event';
import type { PackageStore } from './s3-package-store';

export { evidenceRenderers };

/** Everything an export reads from and writes to, each behind a port (AWS adapters in the handler). */
export interface ExportPorts {
  /** The audit store: every writer's chunks, recordings and digests. */
  readonly auditStore: { readonly location: string; read(): Promise<WriterContents[]> };
  /** Each writer's head as registered apart from the store (the gateway table). */
  readonly heads: () => Promise<ReadonlyMap<string, RegisteredHead>>;
  /** The policy object; its current version is the policy the package renders. */
  readonly policy: PolicyObjectStore;
  /** The audit digests' key: its public half verifies the store, and it signs the manifest. */
  readonly signer: EvidenceSigner;
  readonly packages: PackageStore;
  /** Prefix of the packages in the package store (`exports/`). */
  readonly exportsPrefix: string;
  readonly issuers: Readonly<Record<string, string>>;
  readonly renderers?: EvidenceRenderers;
  readonly now: () => Date;
  readonly logger: Logger;
}

interface ResultBase {
  readonly trigger: ExportRequest['trigger'];
  readonly period: { readonly from: string; readonly to: string };
}

/** A package was written: `location` is its directory, `manifest` the key of its manifest. */
export interface ExportWritten extends ResultBase {
  readonly status: 'written';
  readonly location: string;
  readonly manifest: string;
  readonly files: number;
  readonly records: number;
  readonly verified: boolean;
  readonly problems: number;
  readonly controls: Readonly<Record<string, ControlStatus['status']>>;
}

/** The period already has a complete package (`runs`), and no rerun was asked for: nothing written. */
export interface ExportExists extends ResultBase {
  readonly status: 'exists';
  readonly location: string;
  readonly runs: readonly string[];
}

export type ExportResult = ExportWritten | ExportExists;

/** `2026-11-02T01:30:00.123Z` → `run-20261102T013000123Z`: one key segment per run, in time order. */
export function runSegment(generatedAt: string): string {
  return `run-${generatedAt.replace(/[-:.]/g, '')}`;
}

/**
 * Writes the evidence package of a period to `<exportsPrefix><from>_<to>/run-<generatedAt>/`: the
 * same builder, renderers and manifest signature as `gatehouse export`, from the store verified with
 * the signing key's public half and the registered heads. Every file is written before
 * `manifest.json`, so a run directory with a manifest is a complete package, and one without is an
 * attempt that failed. A period with a complete package is not exported again unless asked
 * (`rerun`): the scheduled run is idempotent, and duplicate or retried deliveries write nothing.
 */
export async function exportEvidence(ports: ExportPorts, request: ExportRequest): Promise<ExportResult> {
  const { period, trigger } = request;
  const base = { trigger, period: { from: period.from, to: period.to } };
  const periodPrefix = `${ports.exportsPrefix}${periodLabel(period)}/`;
  const log = ports.logger.child({ trigger, from: period.from, to: period.to });

  const runs = await ports.packages.completeRuns(periodPrefix);
  if (runs.length > 0 && !request.rerun) {
    const location = `${ports.packages.location}${runs.at(-1)}`;
    log.info('the period already has a package: nothing written', { location, runs: runs.length });
    return {
      ...base,
      status: 'exists',
      location,
      runs: runs.map((run) => `${ports.packages.location}${run}`),
    };
  }

  const publicKey = await ports.signer.publicKeyPem();
  const writers = await ports.auditStore.read();
  const { records, unreadable } = readStoredRecords(writers);
  log.info('audit store read', {
    store: ports.auditStore.location,
    writers: writers.length,
    records: records.length,
    unreadable,
  });
  const heads = await ports.heads();
  const verification = verifyStore(writers, publicKey, heads);
  log.info('audit store verified', {
    ok: verification.ok,
    problems: verification.problems.length,
    registeredHeads: heads.size,
  });

  const object = await ports.policy.get();
  const policySource = `${ports.policy.location}${object.version ? ` (version ${object.version})` : ''}`;
  const policy = evidencePolicy(object.body, policySource);

  const generatedAt = ports.now().toISOString();
  const contents = buildEvidence({
    period,
    generatedAt,
    records,
    verification,
    digests: storedDigests(writers),
    policy,
    issuers: ports.issuers,
    store: ports.auditStore.location,
  });
  const { summary } = contents;
  if (summary.policy?.inForceAtEnd !== undefined && summary.policy.inForceAtEnd !== summary.policy.digest) {
    log.warn('the current policy is not the one the records show in force at the end of the period', {
      policy: policySource,
      rendered: summary.policy.digest,
      inForceAtEnd: summary.policy.inForceAtEnd,
    });
  }
  const files = packageFiles(contents, ports.renderers ?? evidenceRenderers);

  const runPrefix = `${periodPrefix}${runSegment(generatedAt)}/`;
  // Every file first (settled, so nothing is still in flight on failure), then the manifest.
  const puts = await Promise.allSettled(
    files.map((file) => ports.packages.put(`${runPrefix}${file.path}`, file.content)),
  );
  const failed = puts.find((put): put is PromiseRejectedResult => put.status === 'rejected');
  if (failed) {
    log.error('a package file could not be written: no manifest, the run is incomplete', {
      location: `${ports.packages.location}${runPrefix}`,
      error: failed.reason,
    });
    throw failed.reason;
  }
  const manifest = await signedManifest(
    files.map((file) => manifestEntry(file.path, file.content)),
    period,
    generatedAt,
    ports.signer.signer,
  );
  const manifestKey = `${runPrefix}${MANIFEST_FILE}`;
  await ports.packages.put(manifestKey, Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8'));

  const result: ExportWritten = {
    ...base,
    status: 'written',
    location: `${ports.packages.location}${runPrefix}`,
    manifest: `${ports.packages.location}${manifestKey}`,
    files: files.length + 1,
    records: contents.analysis.periodRecords.length,
    verified: verification.ok,
    problems: verification.problems.length,
    controls: Object.fromEntries(summary.controls.map((control) => [control.control, control.status])),
  };
  log.info('evidence package written', {
    location: result.location,
    files: result.files,
    records: result.records,
    verified: result.verified,
    signedWith: ports.signer.description,
  });
  return result;
}
