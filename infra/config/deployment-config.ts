import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/**
 * The deployment configuration: one JSON file (`deploy/gatehouse.example.json` documents every
 * field) that `bin/app.ts` reads and validates before anything is built. A bad field fails synth with
 * its path and what was expected. Paths inside it are relative to the file.
 */

const arn = z.string().regex(/^arn:aws[a-z-]*:[a-z0-9-]+:/, 'expected an ARN (arn:aws:…)');
const cidr = z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, 'expected an IPv4 CIDR block');

const newVpc = z
  .object({
    kind: z.literal('new'),
    cidr: cidr.default('10.40.0.0/16'),
    /** At least two: the gateway runs in two availability zones at least. */
    maxAzs: z.number().int().min(2).max(6).default(2),
  })
  .strict();

/** An existing VPC by attributes: no look-up, so synth needs no AWS credentials. */
const existingVpc = z
  .object({
    kind: z.literal('existing'),
    vpcId: z.string().regex(/^vpc-[0-9a-f]+$/, 'expected a VPC id (vpc-…)'),
    cidr,
    availabilityZones: z.array(z.string().min(1)).min(2, 'at least two availability zones'),
    privateSubnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]+$/, 'expected a subnet id')).min(2),
  })
  .strict()
  .refine((v) => v.privateSubnetIds.length === v.availabilityZones.length, {
    message: 'give one private subnet per availability zone, in the same order',
    path: ['privateSubnetIds'],
  });

export const deploymentConfigSchema = z
  .object({
    /** The CloudFormation stack's name. */
    stackName: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9-]{0,100}$/, 'letters, digits and hyphens, starting with a letter')
      .default('Gatehouse'),
    /** Where to deploy; omitted: the CLI's account and region (the stack stays environment-agnostic). */
    env: z
      .object({
        account: z
          .string()
          .regex(/^\d{12}$/, 'a 12-digit account id')
          .optional(),
        region: z
          .string()
          .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'a region such as eu-west-1')
          .optional(),
      })
      .strict()
      .default({}),
    vpc: z.union([newVpc, existingVpc]),
    /** The PostgreSQL server the gateway fronts (RDS, Aurora or any reachable from the VPC). */
    upstream: z
      .object({
        host: z.string().min(1),
        port: z.number().int().min(1).max(65535).default(5432),
        /** verify-full: TLS with the CA bundle (the default); disable only for a server in the same VPC you trust. */
        tls: z.enum(['verify-full', 'disable']).default('verify-full'),
        /** PEM bundle of the CA that signed the server's certificate (RDS: the region's global bundle). */
        caBundleFile: z.string().min(1).optional(),
        /** Secrets Manager secret {"username", "password"} (an RDS-managed secret works as is). */
        credentialsSecretArn: arn,
        /** Security group of the database, to admit the gateway's tasks (optional: else do it yourself). */
        securityGroupId: z
          .string()
          .regex(/^sg-[0-9a-f]+$/)
          .optional(),
      })
      .strict()
      .refine((u) => u.tls === 'disable' || u.caBundleFile !== undefined, {
        message: 'verify-full needs caBundleFile (the CA that signed the server certificate)',
        path: ['caBundleFile'],
      }),
    /** Trusted token issuers, as in the gateway configuration (README, "Machine identities by issuer"). */
    issuers: z.array(z.record(z.string(), z.unknown())).min(1, 'name at least one token issuer'),
    /** The policy the first deployment installs; later versions are uploaded to the policy bucket. */
    policy: z.object({ file: z.string().min(1) }).strict(),
    /** The gateway's own TLS certificate: Secrets Manager secret {"certificate": PEM, "privateKey": PEM}. */
    tls: z.object({ certificateSecretArn: arn }).strict(),
    /** Who is told about approval requests (at least one of Slack and e-mail when approvals are used). */
    approvals: z
      .object({
        /** Secret {"botToken", "signingSecret"} of a Slack app, or {"webhookUrl"}. */
        slack: z
          .object({ secretArn: arn, channel: z.string().min(1).optional() })
          .strict()
          .optional(),
        /** A verified SES identity (domain or address) and the From address on it. */
        email: z.object({ sender: z.string().email(), identityArn: arn }).strict().optional(),
      })
      .strict()
      .refine((a) => a.slack !== undefined || a.email !== undefined, {
        message: 'approvals need slack or email (or both): approvers must be reachable',
      })
      .optional(),
    retention: z
      .object({
        /** Days audit chunks and recordings stay locked (Object Lock); 2555 is seven years. */
        auditDays: z.number().int().min(1).max(36_500).default(2555),
        /** compliance: nobody, root included, can delete before the end; governance: for test stacks. */
        objectLockMode: z.enum(['compliance', 'governance']).default('compliance'),
        /** Days the gateway's logs and the audit log group are kept. */
        logDays: z.number().int().min(1).default(365),
      })
      .strict()
      .default({}),
    privateLink: z
      .object({
        /** Principals (arn:aws:iam::ACCOUNT:root, roles) allowed to connect endpoints to the service. */
        allowedPrincipals: z.array(arn).default([]),
        /** CIDR blocks admitted to the listener besides the VPC's own. */
        clientCidrs: z.array(cidr).default([]),
      })
      .strict()
      .default({}),
    sizing: z
      .object({
        cpu: z
          .union([z.literal(256), z.literal(512), z.literal(1024), z.literal(2048), z.literal(4096)])
          .default(1024),
        memoryMiB: z.number().int().min(512).max(30_720).default(2048),
        minTasks: z.number().int().min(2, 'at least two tasks (two availability zones)').default(2),
        /**
         * At most 8: a cancel that lands on the wrong task is forwarded to the tasks a Cloud Map
         * multivalue answer lists, which is at most eight records.
         */
        maxTasks: z
          .number()
          .int()
          .min(2)
          .max(8, 'at most 8 tasks: cancel forwarding finds peers through DNS answers of up to eight records')
          .default(8),
        /** Ephemeral storage for the audit spool. */
        ephemeralStorageGiB: z.number().int().min(21).max(200).default(30),
      })
      .strict()
      .refine((s) => s.maxTasks >= s.minTasks, {
        message: 'maxTasks must be at least minTasks',
        path: ['maxTasks'],
      })
      .default({}),
    /** Where alarms go (an e-mail address subscribed to the alarm topic). */
    alarmEmail: z.string().email().optional(),
  })
  .strict();

export type DeploymentConfig = Readonly<z.output<typeof deploymentConfigSchema>> & {
  /** The directory of the configuration file: its relative paths start there. */
  readonly directory: string;
};

export class DeploymentConfigError extends Error {
  override readonly name = 'DeploymentConfigError';
}

/** Validates a parsed configuration; the error names every bad field with its path. */
export function parseDeploymentConfig(input: unknown, directory: string): DeploymentConfig {
  const result = deploymentConfigSchema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
    throw new DeploymentConfigError(`invalid deployment configuration:\n  ${problems.join('\n  ')}`);
  }
  return Object.freeze({ ...result.data, directory });
}

/** Reads and validates the deployment configuration file. */
export function loadDeploymentConfig(file: string): DeploymentConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new DeploymentConfigError(
      `cannot read the deployment configuration ${file}: ${(error as Error).message}`,
    );
  }
  return parseDeploymentConfig(raw, path.dirname(path.resolve(file)));
}

/** A path from the configuration, resolved against the file's directory. */
export function configPath(config: DeploymentConfig, relative: string): string {
  return path.resolve(config.directory, relative);
}
