import { existsSync } from 'node:fs';
import path from 'node:path';
import { Duration, Token } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { PROJECT_ROOT } from '../project-root';
import { EvidenceExportError } from './evidence-export-error';

export { PROJECT_ROOT };
/** The export handler's source, bundled by esbuild at synth time. */
export const EVIDENCE_EXPORT_ENTRY = path.join(PROJECT_ROOT, 'functions', 'evidence-export', 'handler.ts');

/** What a scheduled run exports: the UTC day, or the calendar month, before the scheduled time. */
export type EvidenceExportPeriod = 'day' | 'month';

/** The evidence store the export reads and writes (an `EvidenceStore` is one). */
export interface EvidenceExportStore {
  /** The Object Lock bucket: the audit store below `auditPrefix`, the packages below `exportsPrefix`. */
  readonly bucket: s3.IBucket;
  /** Where the gateway ships the audit store (`audit.ship.s3.prefix`). */
  readonly auditPrefix: string;
  /** The gateway table: the writers' registered heads (`head#WRITER` items). */
  readonly table: dynamodb.ITable;
  /** The ECC_NIST_P256 key that signs the audit digests: it verifies the store and signs the manifest. */
  readonly signingKey: kms.IKey;
  /** The customer-managed key of the bucket, the table (unless they name their own) and the log group. */
  readonly dataKey: kms.IKey;
}

/** The policy object the packages render (its current version). */
export interface EvidenceExportPolicy {
  readonly bucket: s3.IBucket;
  readonly key: string;
}

export interface EvidenceExportProps {
  readonly evidence: EvidenceExportStore;
  readonly policy: EvidenceExportPolicy;
  /**
   * Where packages are written in the evidence bucket: `<prefix><from>_<to>/run-<time>/`. The
   * function may write only here, and it must not overlap the audit prefix.
   *
   * @default 'exports/'
   */
  readonly exportsPrefix?: string;
  /**
   * What a scheduled run exports: the full UTC day before the scheduled time, or the full calendar
   * month before it.
   *
   * @default 'day'
   */
  readonly period?: EvidenceExportPeriod;
  /**
   * When the EventBridge rule runs the export (UTC). Leave time for the gateway to ship the end of
   * the period: its digests close every minute and shipping retries for a while.
   *
   * @default - 01:30 UTC every day (`period: 'day'`), or on the 1st of each month (`period: 'month'`)
   */
  readonly schedule?: events.Schedule;
  /**
   * The gateway's issuer names (name → `iss`), as the policy's identity rules name issuers.
   *
   * @default {}
   */
  readonly issuers?: Readonly<Record<string, string>>;
  /**
   * The function's timeout: reading and verifying the whole store, building and writing the package.
   *
   * @default Duration.minutes(15)
   */
  readonly timeout?: Duration;
  /**
   * The function's memory in MiB: the store is read into memory to be verified.
   *
   * @default 2048
   */
  readonly memorySize?: number;
  /**
   * Retention of the function's log group.
   *
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The handler's source.
   *
   * @default EVIDENCE_EXPORT_ENTRY (functions/evidence-export/handler.ts)
   */
  readonly entry?: string;
}

/** The props after defaults and checks: what the construct builds from. */
export interface EvidenceExportSettings {
  readonly evidence: EvidenceExportStore;
  readonly policy: EvidenceExportPolicy;
  readonly exportsPrefix: string;
  readonly period: EvidenceExportPeriod;
  readonly schedule: events.Schedule;
  readonly issuers: Readonly<Record<string, string>>;
  readonly timeout: Duration;
  readonly memorySize: number;
  readonly logRetention: logs.RetentionDays;
  readonly entry: string;
}

/** 01:30 UTC: the previous day's digests are closed and shipped well before. */
export const DEFAULT_SCHEDULES: Readonly<Record<EvidenceExportPeriod, events.Schedule>> = {
  day: events.Schedule.cron({ minute: '30', hour: '1' }),
  month: events.Schedule.cron({ minute: '30', hour: '1', day: '1' }),
};

const PREFIX = /^(?:[A-Za-z0-9!_.*'()-]+\/)+$/;
const ISSUER_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Applies the defaults and refuses what cannot deploy or would deploy wrong, naming the prop and the fix. */
export function evidenceExportSettings(props: EvidenceExportProps): EvidenceExportSettings {
  const period = props.period ?? 'day';
  if (period !== 'day' && period !== 'month') {
    throw new EvidenceExportError('PeriodInvalid', 'period', `"${period}" is neither 'day' nor 'month'.`);
  }
  const entry = props.entry ?? EVIDENCE_EXPORT_ENTRY;
  if (!existsSync(entry)) {
    throw new EvidenceExportError(
      'EntryNotFound',
      'entry',
      `${entry} does not exist; the handler lives in functions/evidence-export/handler.ts.`,
    );
  }
  return Object.freeze({
    evidence: props.evidence,
    policy: props.policy,
    exportsPrefix: validatePrefix(props.exportsPrefix ?? 'exports/', props.evidence.auditPrefix),
    period,
    schedule: props.schedule ?? DEFAULT_SCHEDULES[period],
    issuers: validateIssuers(props.issuers ?? {}),
    timeout: validateTimeout(props.timeout ?? Duration.minutes(15)),
    memorySize: validateMemory(props.memorySize ?? 2048),
    logRetention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
    entry,
  });
}

function validatePrefix(prefix: string, auditPrefix: string): string {
  if (Token.isUnresolved(prefix) || !PREFIX.test(prefix)) {
    throw new EvidenceExportError(
      'ExportsPrefixInvalid',
      'exportsPrefix',
      `"${prefix}" is not a literal key prefix of one or more segments each ending with "/" (e.g. exports/); ` +
        'the grants and the function are scoped to it.',
    );
  }
  if (prefix.startsWith(auditPrefix) || auditPrefix.startsWith(prefix)) {
    throw new EvidenceExportError(
      'ExportsPrefixOverlapsAudit',
      'exportsPrefix',
      `"${prefix}" and the audit prefix "${auditPrefix}" contain one another: the function would be allowed ` +
        'to write into the audit store, and packages would be read as audit files. Use a separate prefix.',
    );
  }
  return prefix;
}

function validateIssuers(issuers: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  for (const [name, issuer] of Object.entries(issuers)) {
    let url: URL | undefined;
    try {
      url = typeof issuer === 'string' ? new URL(issuer) : undefined;
    } catch {
      url = undefined;
    }
    if (!ISSUER_NAME.test(name) || !url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
      throw new EvidenceExportError(
        'IssuerInvalid',
        `issuers.${name}`,
        `"${String(issuer)}" under "${name}" is not an issuer name (letters, digits, _ . -) with its URL ` +
          '(the gateway configuration’s issuers[].name and issuers[].issuer).',
      );
    }
  }
  return Object.freeze({ ...issuers });
}

function validateTimeout(timeout: Duration): Duration {
  const seconds = timeout.isUnresolved() ? Number.NaN : timeout.toSeconds({ integral: false });
  if (!Number.isInteger(seconds) || seconds < 60 || seconds > 900) {
    throw new EvidenceExportError(
      'TimeoutOutOfRange',
      'timeout',
      `${timeout.isUnresolved() ? 'a token' : timeout.toHumanString()} is outside 1 to 15 minutes in whole ` +
        'seconds (Lambda runs at most 15 minutes); a store too large for that needs more memory, not time.',
    );
  }
  return timeout;
}

function validateMemory(memorySize: number): number {
  if (Token.isUnresolved(memorySize)) return memorySize;
  if (!Number.isInteger(memorySize) || memorySize < 512 || memorySize > 10_240) {
    throw new EvidenceExportError(
      'MemorySizeOutOfRange',
      'memorySize',
      `${memorySize} is not an integer from 512 to 10240 MiB; the whole audit store is held in memory ` +
        'while it is verified.',
    );
  }
  return memorySize;
}
