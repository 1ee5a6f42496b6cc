import { z } from 'zod';
import { logLevel, parseEnvironment } from '../shared/environment';
import type { LogLevel } from '../shared/logger';

/** What a scheduled run exports: the UTC day, or the calendar month, before the scheduled time. */
export type ScheduledPeriod = 'day' | 'month';

/**
 * The evidence export function's configuration, from its environment (read here only).
 *
 *   EVIDENCE_BUCKET    the evidence bucket (Object Lock): the audit store and the packages
 *   AUDIT_PREFIX       where the gateway ships the audit store (default audit/)
 *   EXPORTS_PREFIX     where packages are written (default exports/); must not overlap AUDIT_PREFIX
 *   GATEWAY_TABLE      the gateway table: each writer's registered head (`head#WRITER`)
 *   POLICY_BUCKET      the policy bucket
 *   POLICY_KEY         the policy object (default policy.yaml); its current version is rendered
 *   SIGNING_KEY_ID     the KMS ECC_NIST_P256 key that signs the audit digests (id, ARN or alias):
 *                      its public key verifies the store, and it signs the package's manifest
 *   SCHEDULED_PERIOD   day (default) | month: what a scheduled run exports
 *   ISSUERS            optional JSON {"name": "https://issuer"}: the gateway's issuer names
 *   AWS_REGION         set by Lambda; the region of every client
 *   LOG_LEVEL          debug | info (default) | warn | error
 */
const prefix = (name: string) =>
  z
    .string()
    .regex(
      /^(?:[A-Za-z0-9!_.*'()-]+\/)+$/,
      `${name} must be one or more key segments each ending with "/" (e.g. exports/)`,
    );

const issuers = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'is not JSON' });
      return z.NEVER;
    }
  })
  .pipe(
    z.record(
      z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'issuer names are letters, digits, _ . -'),
      z.string().url(),
    ),
  );

const schema = z
  .object({
    EVIDENCE_BUCKET: z.string().min(3),
    AUDIT_PREFIX: prefix('AUDIT_PREFIX').default('audit/'),
    EXPORTS_PREFIX: prefix('EXPORTS_PREFIX').default('exports/'),
    GATEWAY_TABLE: z.string().min(3),
    POLICY_BUCKET: z.string().min(3),
    POLICY_KEY: z.string().min(1).default('policy.yaml'),
    SIGNING_KEY_ID: z.string().min(1),
    SCHEDULED_PERIOD: z.enum(['day', 'month']).default('day'),
    ISSUERS: issuers.optional(),
    AWS_REGION: z.string().min(1).optional(),
    LOG_LEVEL: logLevel,
  })
  .refine(
    (env) =>
      !env.EXPORTS_PREFIX.startsWith(env.AUDIT_PREFIX) && !env.AUDIT_PREFIX.startsWith(env.EXPORTS_PREFIX),
    {
      message: 'EXPORTS_PREFIX and AUDIT_PREFIX must not contain one another: packages are not audit files',
      path: ['EXPORTS_PREFIX'],
    },
  )
  .transform(
    (env): ExportConfig => ({
      bucket: env.EVIDENCE_BUCKET,
      auditPrefix: env.AUDIT_PREFIX,
      exportsPrefix: env.EXPORTS_PREFIX,
      table: env.GATEWAY_TABLE,
      policyBucket: env.POLICY_BUCKET,
      policyKey: env.POLICY_KEY,
      signingKeyId: env.SIGNING_KEY_ID,
      scheduledPeriod: env.SCHEDULED_PERIOD,
      issuers: env.ISSUERS ?? {},
      region: env.AWS_REGION,
      logLevel: env.LOG_LEVEL,
    }),
  );

export interface ExportConfig {
  readonly bucket: string;
  readonly auditPrefix: string;
  readonly exportsPrefix: string;
  readonly table: string;
  readonly policyBucket: string;
  readonly policyKey: string;
  readonly signingKeyId: string;
  readonly scheduledPeriod: ScheduledPeriod;
  /** Issuer names of the gateway configuration (name → `iss`), as policies name them. */
  readonly issuers: Readonly<Record<string, string>>;
  readonly region?: string | undefined;
  readonly logLevel: LogLevel;
}

export function loadExportConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
): Readonly<ExportConfig> {
  return parseEnvironment(schema, env);
}
