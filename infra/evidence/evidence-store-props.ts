import { Token } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { EvidenceStoreError } from './evidence-store-error';

/**
 * How the evidence bucket locks each object version by default.
 *
 * - `compliance`: nobody, the account root included, can delete or overwrite a version or shorten its
 *   retention before it ends. The bucket outlives its stack until the last version's retention ends.
 * - `governance`: principals with `s3:BypassGovernanceRetention` can delete versions early (dev stacks).
 */
export type EvidenceLockMode = 'compliance' | 'governance';

/** Days: S3 Object Lock allows a default retention of at most 100 years. */
const MAX_RETENTION_DAYS = 36_500;
/** Days: the longest any lifecycle or recovery setting here may be (100 years, as Object Lock). */
const MAX_DAYS = 36_500;

export interface EvidenceStoreProps {
  /**
   * Object Lock mode of the bucket's default retention.
   *
   * `governance` is for dev stacks only, and only the bucket default: the gateway puts every object
   * with its own `ObjectLockMode: COMPLIANCE` and `audit.ship.s3.retentionDays`
   * (fargate-proxy/src/audit/s3-audit-store.ts), which wins over the default. So in a dev stack also set
   * `retentionDays` in the gateway config to 1: the stack's bucket, key and table are retained either
   * way, and the bucket can only be emptied (and deleted by hand) once the last version's retention ends.
   *
   * @default 'compliance'
   */
  readonly objectLockMode?: EvidenceLockMode;
  /**
   * Default retention of every object version, in days: what a version without its own retention
   * gets. Keep it equal to the gateway's `audit.ship.s3.retentionDays`.
   *
   * @default 365
   */
  readonly retentionDays?: number;
  /**
   * The key prefix the gateway ships under (`audit.ship.s3.prefix`): chunks, recordings and digests
   * all go to `<prefix><writer>/<name>`. The gateway may write only below it.
   *
   * @default 'audit/'
   */
  readonly auditPrefix?: string;
  /**
   * Days after which current versions move to S3 Glacier Instant Retrieval (millisecond reads for
   * `gatehouse verify`; S3 does not move objects under 128 KiB, such as most digests).
   *
   * @default 90
   */
  readonly archiveAfterDays?: number;
  /**
   * Days after which a version that is no longer current moves to Glacier Instant Retrieval.
   *
   * @default 30
   */
  readonly noncurrentArchiveAfterDays?: number;
  /**
   * Days S3 server access logs (of the evidence bucket) are kept before they expire.
   *
   * @default 365
   */
  readonly accessLogRetentionDays?: number;
  /**
   * Retention of the CloudWatch Logs copy of the audit records (`audit.cloudwatch.logGroup`). The copy
   * is for watching; the S3 store is the evidence.
   *
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly auditLogRetention?: logs.RetentionDays;
  /**
   * Name of the audit log group. Named so the data key's policy can name the one log group
   * CloudWatch Logs may use it for.
   *
   * @default - `/gatehouse/<unique id of this construct>/audit`
   */
  readonly auditLogGroupName?: string;
  /**
   * Alias of the audit digest signing key (`audit.kmsSigningKey.keyId` may name it).
   *
   * @default 'alias/gatehouse/audit-signing'
   */
  readonly signingKeyAlias?: string;
  /**
   * Point-in-time recovery period of the gateway table, in days (1 to 35).
   *
   * @default 35
   */
  readonly tableRecoveryPeriodDays?: number;
}

/** The props after defaults and checks: what the construct builds from. */
export interface EvidenceSettings {
  readonly objectLockMode: EvidenceLockMode;
  readonly retentionDays: number;
  readonly auditPrefix: string;
  readonly archiveAfterDays: number;
  readonly noncurrentArchiveAfterDays: number;
  readonly accessLogRetentionDays: number;
  readonly auditLogRetention: logs.RetentionDays;
  /** Undefined: the construct derives one from its path. */
  readonly auditLogGroupName?: string;
  readonly signingKeyAlias: string;
  readonly tableRecoveryPeriodDays: number;
}

/** Applies the defaults and refuses what cannot deploy or would deploy wrong, naming the prop and the fix. */
export function evidenceSettings(props: EvidenceStoreProps): EvidenceSettings {
  const objectLockMode = props.objectLockMode ?? 'compliance';
  if (objectLockMode !== 'compliance' && objectLockMode !== 'governance') {
    throw new EvidenceStoreError(
      'ObjectLockModeInvalid',
      'objectLockMode',
      `"${String(objectLockMode)}" is neither "compliance" nor "governance"; use "compliance" for any stack ` +
        'whose evidence counts, "governance" for dev stacks.',
    );
  }
  const retentionDays = props.retentionDays ?? 365;
  if (!Token.isUnresolved(retentionDays) && !isIntegerIn(retentionDays, 1, MAX_RETENTION_DAYS)) {
    throw new EvidenceStoreError(
      'RetentionOutOfRange',
      'retentionDays',
      `${retentionDays} is not a whole number of days from 1 to ${MAX_RETENTION_DAYS} (Object Lock allows ` +
        'at most 100 years); set it to the gateway’s audit.ship.s3.retentionDays, e.g. 365.',
    );
  }
  const auditLogRetention = props.auditLogRetention ?? logs.RetentionDays.ONE_YEAR;
  if (auditLogRetention === logs.RetentionDays.INFINITE) {
    throw new EvidenceStoreError(
      'DaysOutOfRange',
      'auditLogRetention',
      'INFINITE keeps the CloudWatch copy forever at CloudWatch prices and leaves it without a retention ' +
        '(NIST CloudWatchLogGroupRetentionPeriod); the S3 store is the evidence, so pick a period such as ONE_YEAR.',
    );
  }
  const auditLogGroupName = props.auditLogGroupName;
  if (
    auditLogGroupName !== undefined &&
    !Token.isUnresolved(auditLogGroupName) &&
    !/^[A-Za-z0-9._\-/#]{1,512}$/.test(auditLogGroupName)
  ) {
    throw new EvidenceStoreError(
      'LogGroupNameInvalid',
      'auditLogGroupName',
      `"${auditLogGroupName}" is not a log group name (1 to 512 of A-Z a-z 0-9 . _ - / #), e.g. /gatehouse/audit.`,
    );
  }
  const signingKeyAlias = props.signingKeyAlias ?? 'alias/gatehouse/audit-signing';
  if (
    !Token.isUnresolved(signingKeyAlias) &&
    (!/^alias\/[A-Za-z0-9/_-]{1,250}$/.test(signingKeyAlias) || signingKeyAlias.startsWith('alias/aws/'))
  ) {
    throw new EvidenceStoreError(
      'AliasInvalid',
      'signingKeyAlias',
      `"${signingKeyAlias}" is not a KMS alias of this account: write alias/ followed by A-Z a-z 0-9 / _ - ` +
        '(not alias/aws/, which AWS reserves), e.g. alias/gatehouse/audit-signing.',
    );
  }
  const tableRecoveryPeriodDays = props.tableRecoveryPeriodDays ?? 35;
  if (!Token.isUnresolved(tableRecoveryPeriodDays) && !isIntegerIn(tableRecoveryPeriodDays, 1, 35)) {
    throw new EvidenceStoreError(
      'RecoveryPeriodOutOfRange',
      'tableRecoveryPeriodDays',
      `${tableRecoveryPeriodDays} is not a whole number of days from 1 to 35, the periods DynamoDB ` +
        'point-in-time recovery offers.',
    );
  }
  return Object.freeze({
    objectLockMode,
    retentionDays,
    auditPrefix: validatePrefix(props.auditPrefix ?? 'audit/'),
    archiveAfterDays: validateDays('archiveAfterDays', props.archiveAfterDays ?? 90),
    noncurrentArchiveAfterDays: validateDays(
      'noncurrentArchiveAfterDays',
      props.noncurrentArchiveAfterDays ?? 30,
    ),
    accessLogRetentionDays: validateDays('accessLogRetentionDays', props.accessLogRetentionDays ?? 365),
    auditLogRetention,
    ...(auditLogGroupName !== undefined ? { auditLogGroupName } : {}),
    signingKeyAlias,
    tableRecoveryPeriodDays,
  });
}

function isIntegerIn(value: number, min: number, max: number): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}

function validateDays(
  prop: 'archiveAfterDays' | 'noncurrentArchiveAfterDays' | 'accessLogRetentionDays',
  days: number,
): number {
  if (Token.isUnresolved(days) || isIntegerIn(days, 1, MAX_DAYS)) return days;
  throw new EvidenceStoreError(
    'DaysOutOfRange',
    prop,
    `${days} is not a whole number of days from 1 to ${MAX_DAYS}; S3 lifecycle rules count in whole days.`,
  );
}

/**
 * The prefix must be literal (it is part of IAM resource ARNs), relative, end in `/` (the gateway
 * appends `<writer>/<name>`), and hold no IAM wildcard.
 */
function validatePrefix(prefix: string): string {
  if (Token.isUnresolved(prefix) || !/^[A-Za-z0-9!_.'()-]+(\/[A-Za-z0-9!_.'()-]+)*\/$/.test(prefix)) {
    throw new EvidenceStoreError(
      'PrefixInvalid',
      'auditPrefix',
      `"${prefix}" is not a literal key prefix ending in "/" (letters, digits, !_.'()- and inner "/", no "*" ` +
        'or leading "/"); set it to the gateway’s audit.ship.s3.prefix, e.g. audit/.',
    );
  }
  return prefix;
}
