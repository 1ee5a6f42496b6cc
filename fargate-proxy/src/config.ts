import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { z } from 'zod';

/**
 * The gateway's one configuration module. Everything the gateway reads from its environment is parsed
 * and validated here, once, into a frozen object; no other module reads `process.env`.
 *
 * Sources, in order: the JSON file named by GATEHOUSE_CONFIG_FILE or the JSON in GATEHOUSE_CONFIG (or
 * an object given by local mode), then the upstream password from GATEHOUSE_UPSTREAM_PASSWORD when the
 * credential source is `env`. Secrets Manager secrets and the S3 policy are read at run time by their
 * adapters, not here: they change while the gateway runs.
 */

const MiB = 1024 * 1024;

const hostPort = z.string().regex(/^[^:\s]+:\d{1,5}$/, 'expected host:port');

/** The gateway's DynamoDB table (sessions, strict records, writer heads). */
const dynamoDbTable = z
  .object({
    table: z.string().min(3),
    region: z.string().min(1).optional(),
    /** Another endpoint than AWS's (tests: dynalite). */
    endpoint: z.string().url().optional(),
  })
  .strict();

/** A Secrets Manager secret the gateway reads at run time (never injected once into the environment). */
const awsSecret = z
  .object({
    /** Name or ARN. */
    secretId: z.string().min(1),
    region: z.string().min(1).optional(),
    /** Another endpoint than AWS's (tests, VPC endpoints with private DNS off). */
    endpoint: z.string().url().optional(),
  })
  .strict();

export const gatewayConfigSchema = z
  .object({
    listen: z
      .object({
        /** Address to accept clients on. */
        host: z.string().default('0.0.0.0'),
        port: z.number().int().min(0).max(65535).default(6432),
      })
      .strict()
      .default({}),
    /** Worker processes (one per core by default); 0 runs the gateway in the main process. */
    workers: z.number().int().min(0).max(64).default(availableParallelism()),
    /**
     * Cap on V8's young-generation semi-space per worker, in MiB. V8 grows it to 16 MiB under load and
     * keeps it, which costs more resident memory than a thousand idle sessions; 2 MiB keeps idle
     * sessions cheap at a small cost in scavenges.
     */
    workerSemiSpaceMb: z.number().int().min(1).max(64).default(2),
    tls: z
      .object({
        /** PEM certificate chain and private key on disk (local mode, or a file baked into an image). */
        certFile: z.string().min(1).optional(),
        keyFile: z.string().min(1).optional(),
        /**
         * Or a Secrets Manager secret `{"certificate": PEM chain, "privateKey": PEM}` (AWS), read at start
         * (the gateway does not start without it) and every `refreshMs`: a rotated certificate is served
         * to new connections; sessions already open keep theirs.
         */
        secretsManager: awsSecret
          .extend({ refreshMs: z.number().int().min(100).default(300_000) }) // 5 minutes
          .strict()
          .optional(),
        /** Accept PostgreSQL 17 direct TLS (sslnegotiation=direct, ALPN "postgresql"). */
        allowDirect: z.boolean().default(true),
      })
      .strict()
      .refine(
        (t) =>
          t.secretsManager === undefined
            ? t.certFile !== undefined && t.keyFile !== undefined
            : t.certFile === undefined && t.keyFile === undefined,
        { message: 'name either certFile and keyFile, or secretsManager, for the gateway certificate' },
      )
      .optional(),
    /**
     * Tokens are passwords: by default a token is only accepted over TLS or from loopback.
     * Setting this to true accepts them over plain TCP from anywhere. Never do this outside a lab.
     */
    allowCleartextPasswordWithoutTls: z.boolean().default(false),
    upstream: z
      .object({
        host: z.string(),
        port: z.number().int().min(1).max(65535).default(5432),
        /** disable: plain TCP; verify-full: TLS, certificate checked against caFile and the host name. */
        tls: z.enum(['disable', 'verify-full']).default('verify-full'),
        caFile: z.string().optional(),
        /**
         * The CA bundle as an S3 object instead of a file (AWS: the deployment installs it beside the
         * policy; RDS's global bundle is too large for a parameter or a secret). Read once at start.
         */
        caS3: z
          .object({ bucket: z.string().min(3), key: z.string().min(1), region: z.string().min(1).optional() })
          .strict()
          .optional(),
        /** Name to check the server certificate against; defaults to `host`. */
        serverName: z.string().optional(),
        connectTimeoutMs: z.number().int().positive().default(10_000), // 10 seconds
      })
      .strict()
      .refine((u) => u.tls === 'disable' || (u.caFile !== undefined) !== (u.caS3 !== undefined), {
        message: 'upstream.tls verify-full needs the CA bundle: name either caFile or caS3',
        path: ['caFile'],
      }),
    credentials: z
      .discriminatedUnion('source', [
        z.object({ source: z.literal('env'), user: z.string().min(1) }).strict(),
        z.object({ source: z.literal('file'), file: z.string().min(1) }).strict(),
        /**
         * A Secrets Manager secret `{"username", "password"}` (an RDS-managed secret as is; its `host`,
         * `port` and other fields are ignored), cached for `cacheMs` and read again at once when the
         * server rejects it, so a rotation needs no restart.
         */
        awsSecret
          .extend({
            source: z.literal('secrets-manager'),
            cacheMs: z.number().int().min(0).default(300_000), // 5 minutes; 0 reads it for every session
          })
          .strict(),
      ])
      .default({ source: 'env', user: 'postgres' }),
    /** Trusted token issuers. The token's `iss` picks one; a token of any other issuer is refused. */
    issuers: z
      .array(
        z
          .object({
            /** Short name policies may use instead of the URL (`github`, `gitlab`, `local`…). */
            name: z.string().regex(/^[A-Za-z0-9_.-]+$/),
            /** The exact `iss` of its tokens. */
            issuer: z.string().min(1),
            /**
             * Required audience (one, or a list of which the token must carry one). `null` only for
             * issuers whose tokens carry none (Cognito access tokens), and then requiredClaims must
             * pin the client (e.g. `client_id` and `token_use`).
             */
            audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1), z.null()]),
            /** Claims every token must carry with one of the given values. */
            requiredClaims: z
              .record(z.string().min(1), z.union([z.string(), z.array(z.string()).min(1)]))
              .default({}),
            /** https:// URL of the issuer's JWKS, or file:// for a key set on disk (local mode). */
            jwksUri: z.string().regex(/^(https|file):\/\//, 'expected an https:// or file:// URI'),
            algorithms: z
              .array(
                z.enum([
                  'RS256',
                  'RS384',
                  'RS512',
                  'PS256',
                  'PS384',
                  'PS512',
                  'ES256',
                  'ES384',
                  'ES512',
                  'EdDSA',
                ]),
              )
              .min(1)
              .default(['RS256', 'ES256']),
            /** Leeway for expiry and not-before, in seconds. */
            clockSkewSeconds: z.number().int().min(0).max(300).default(30),
            /** Claim that names the identity. */
            subjectClaim: z.string().default('sub'),
            /** Claims recorded as the identity in logs and the audit trail (e.g. repository, ref). */
            identityClaims: z.array(z.string()).default([]),
            /** After an unknown key id made the gateway fetch the JWKS, seconds before it may again. */
            jwksRefetchSeconds: z.number().int().min(1).default(60),
          })
          .strict()
          .refine((issuer) => issuer.audience !== null || Object.keys(issuer.requiredClaims).length > 0, {
            message: 'an issuer without an audience needs requiredClaims that pin the client',
            path: ['requiredClaims'],
          }),
      )
      .min(1)
      .refine(
        (list) => new Set(list.map((i) => i.issuer)).size === list.length,
        'each issuer may appear once',
      )
      .refine((list) => new Set(list.map((i) => i.name)).size === list.length, 'issuer names must be unique'),
    policy: z
      .object({
        /** The YAML policy file (see README, "Policy language"). It is reloaded when it changes. */
        file: z.string().min(1).optional(),
        /**
         * Or the policy as an S3 object (AWS; a versioned bucket): polled with HeadObject, fetched when
         * its version (or ETag) changes. The gateway does not start without it.
         */
        s3: z
          .object({
            bucket: z.string().min(3),
            key: z.string().min(1),
            region: z.string().min(1).optional(),
            /** Another endpoint than AWS's (tests, emulators). */
            endpoint: z.string().url().optional(),
            /** S3-compatible emulators want path-style addresses. */
            forcePathStyle: z.boolean().default(false),
          })
          .strict()
          .optional(),
        /** How often the file (or the object's version) is checked for changes. */
        reloadCheckMs: z.number().int().min(50).default(2_000), // 2 seconds
        /** Analyses kept per process (statements by exact text and by literal-free form). */
        cacheEntries: z.number().int().min(0).default(10_000),
        /** Statements longer than this (bytes) are parsed on a worker thread, off the event loop. */
        offloadBytes: z
          .number()
          .int()
          .min(1024)
          .default(32 * 1024), // 32 KiB
        /** Longest statement the gateway analyses; longer ones are refused (54000). */
        maxStatementBytes: z
          .number()
          .int()
          .min(1024)
          .default(4 * MiB),
      })
      .strict()
      .refine((policy) => (policy.file === undefined) !== (policy.s3 === undefined), {
        message: 'name either policy.file or policy.s3 (one of them)',
      }),
    /**
     * Approvals (README, "Approvals"): where requests and decisions are kept. Without it, statements
     * whose rule needs approval are refused.
     */
    approvals: z
      .object({
        /** A directory shared by the gateway's processes and `gatehouse approvals` (local mode). */
        directory: z.string().min(1).optional(),
        /** The approvals table the approval functions write decisions to (AWS). */
        dynamodb: dynamoDbTable.optional(),
        /** The approval state machine each new request starts (AWS, infra/approvals). */
        workflow: z
          .object({
            stateMachineArn: z.string().startsWith('arn:'),
            region: z.string().min(1).optional(),
            /** Another endpoint than AWS's (tests). */
            endpoint: z.string().url().optional(),
          })
          .strict()
          .optional(),
        /** A file holding a Slack incoming-webhook URL: local mode posts each request there. */
        slackWebhookFile: z.string().min(1).optional(),
        /** The local approval page, linked from webhook messages. */
        pageUrl: z.string().url().optional(),
        /** How often a held statement's request is looked at. */
        pollMs: z.number().int().min(10).default(250),
      })
      .strict()
      .refine((a) => (a.directory === undefined) !== (a.dynamodb === undefined), {
        message: 'name either a directory or a dynamodb table for approvals',
      })
      .refine((a) => a.dynamodb === undefined || a.workflow !== undefined, {
        message: 'approvals in DynamoDB need the workflow (stateMachineArn) that notifies approvers',
        path: ['workflow'],
      })
      .optional(),
    /** Masking (README, "Masking"): the rules are in the policy; the token key is configuration. */
    masking: z
      .object({
        /**
         * A file holding the key of deterministic tokens (at least 32 bytes). Without it each process
         * draws a random key: tokens stay consistent within one process only.
         */
        tokenKeyFile: z.string().min(1).optional(),
        /** How long catalogue answers (tables, views, functions) are trusted when no DDL passed. */
        catalogueTtlMs: z.number().int().min(0).default(30_000),
      })
      .strict()
      .default({}),
    /** The audit trail (README, "Audit trail"). */
    audit: z
      .object({
        /** Local store: one directory per writer below it (chunks, open spool, signed digests). */
        directory: z.string().min(1),
        /** PEM private key (ECDSA P-256) that signs the digests (local mode); verify with its public key. */
        signingKeyFile: z.string().min(1).optional(),
        /** Or a KMS asymmetric key (ECC_NIST_P256, SIGN_VERIFY) that signs them (AWS). */
        kmsSigningKey: z
          .object({ keyId: z.string().min(1), region: z.string().min(1).optional() })
          .strict()
          .optional(),
        /** Writer names are this (default: the host name) and the worker slot: `host-w0`. */
        writer: z
          .string()
          .regex(/^[A-Za-z0-9_.-]+$/)
          .optional(),
        /** Records wait at most this long in memory before they reach the spool on disk. */
        flushMs: z.number().int().min(1).default(200),
        /** A signed digest closes the open chunk at least this often. */
        digestIntervalMs: z.number().int().min(100).default(60_000), // 1 minute
        /** A digest also follows the end of a session within this long (ends close together share one). */
        sessionEndDigestMs: z.number().int().min(10).default(1_000),
        /**
         * How often the writer hashes again what it signed and has not shipped yet (0: never); a
         * difference is logged and counted (gatehouse_audit_self_check_problems_total).
         */
        selfCheckMs: z.number().int().min(0).default(300_000), // 5 minutes
        /**
         * Where `strict` statements' records go before the statements run (README, "Durability"):
         * the gateway's DynamoDB table in AWS; by default a file in the writer's directory, fsynced.
         */
        strict: z
          .object({
            dynamodb: dynamoDbTable.optional(),
            /** A strict statement waits at most this long for its record; then it is refused. */
            timeoutMs: z.number().int().min(10).default(2_000),
          })
          .strict()
          .default({}),
        /**
         * Shipping sealed files (chunks, recordings, digests) to S3 with Object Lock (AWS). Without it
         * the writer directories are the store (local mode).
         */
        ship: z
          .object({
            s3: z
              .object({
                bucket: z.string().min(3),
                prefix: z.string().default('audit/'),
                region: z.string().min(1).optional(),
                endpoint: z.string().url().optional(),
                /** S3-compatible emulators want path-style addresses. */
                forcePathStyle: z.boolean().default(false),
                kmsKeyId: z.string().min(1).optional(),
                /** Compliance-mode Object Lock retention of each object. */
                retentionDays: z.number().int().min(1).default(365),
              })
              .strict(),
            /** Backoff after a failed upload: from this, doubling, up to retryMaxMs; never gives up. */
            retryBaseMs: z.number().int().min(1).default(200),
            retryMaxMs: z.number().int().min(1).default(30_000),
          })
          .strict()
          .optional(),
        /** A copy of every audit record to CloudWatch Logs, one JSON event each, for SIEMs (AWS). */
        cloudwatch: z
          .object({
            logGroup: z.string().min(1),
            region: z.string().min(1).optional(),
            endpoint: z.string().url().optional(),
            intervalMs: z.number().int().min(10).default(1_000),
            maxBufferedBytes: z
              .number()
              .int()
              .min(1024 * 1024)
              .default(16 * 1024 * 1024), // 16 MiB
          })
          .strict()
          .optional(),
      })
      .strict()
      .refine((audit) => (audit.signingKeyFile === undefined) !== (audit.kmsSigningKey === undefined), {
        message: 'name either signingKeyFile or kmsSigningKey to sign the audit digests',
      }),
    /**
     * The live-session registry (README, "Live sessions"): where every process publishes its sessions
     * and reads operators' kill requests. Absent: `gatehouse sessions` cannot see this gateway.
     */
    sessions: z
      .object({
        /** A directory every process and the operator can reach (one machine: local mode). */
        directory: z.string().min(1).optional(),
        /** The gateway's DynamoDB table (AWS): every instance and the operator read it. */
        dynamodb: dynamoDbTable.optional(),
        /** How often sessions are published and kill requests looked for (a kill takes about this long). */
        refreshMs: z.number().int().min(50).default(2_000),
      })
      .strict()
      .refine((sessions) => (sessions.directory === undefined) !== (sessions.dynamodb === undefined), {
        message: 'name either a directory or a dynamodb table for the session registry',
      })
      .optional(),
    /** Session recordings (README, "Session recordings"), stored beside the audit chunks. */
    recording: z
      .object({
        enabled: z.boolean().default(true),
        /** Bytes one session's recording may hold; past it, the rest of the session is not recorded. */
        maxSessionBytes: z
          .number()
          .int()
          .min(1024)
          .default(64 * 1024 * 1024), // 64 MiB
        /** Result bytes one statement may add; past it, its further rows are not recorded. */
        maxStatementBytes: z
          .number()
          .int()
          .min(1024)
          .default(1024 * 1024), // 1 MiB
        /** Frames wait at most this long in memory before they are compressed to disk. */
        flushMs: z.number().int().min(1).default(1_000),
        /** Uncompressed bytes waiting for the disk beyond which frames are dropped (and counted). */
        maxPendingBytes: z
          .number()
          .int()
          .min(1024 * 1024)
          .default(64 * 1024 * 1024), // 64 MiB
      })
      .strict()
      .default({}),
    limits: z
      .object({
        /** StartupMessage and other untyped packets. */
        maxStartupPacketBytes: z
          .number()
          .int()
          .min(64)
          .default(10 * 1024), // 10 KiB
        /** The password message that carries the token. */
        maxTokenBytes: z
          .number()
          .int()
          .min(256)
          .default(16 * 1024), // 16 KiB
        maxClientMessageBytes: z
          .number()
          .int()
          .min(1024)
          .default(256 * MiB),
        maxServerMessageBytes: z
          .number()
          .int()
          .min(1024)
          .default(256 * MiB),
        /** Statements the gateway reads whole (Query, Parse) are also bounded by maxClientMessageBytes. */
        authTimeoutMs: z.number().int().positive().default(15_000), // 15 seconds
        /** A session with no traffic for this long, and no statement running, is closed; 0 disables. */
        idleTimeoutMs: z.number().int().min(0).default(3_600_000), // 1 hour
        /**
         * TCP keepalive on client connections: after this long without a packet from the client, the
         * kernel probes it (then every second, ten times, before it gives up on a dead peer). The probes
         * keep a quiet session alive through the load balancer, whose idle timeout must stay above this
         * (NLB: 350 s by default), and find clients that vanished. Whole seconds (rounded down); 0
         * turns it off.
         */
        tcpKeepAliveMs: z
          .number()
          .int()
          .min(0)
          .max(7_200_000) // 2 hours, the kernel's own default
          .refine((ms) => ms === 0 || ms >= 1000, 'expected 0 (off) or at least 1000 (1 second)')
          .default(60_000), // 1 minute
        /** How often a client whose statement waits for approval gets a reminder notice. */
        approvalNoticeMs: z.number().int().min(50).default(30_000),
        maxConnections: z.number().int().positive().default(10_000),
        /** Failed authentications from one address within `authFailureWindowMs` before it is refused. */
        maxAuthFailures: z.number().int().positive().default(20),
        authFailureWindowMs: z.number().int().positive().default(60_000), // 1 minute
      })
      .strict()
      .default({}),
    proxyProtocol: z
      .object({
        /** When on, every connection must start with a PROXY v2 header; when off, one is refused. */
        enabled: z.boolean().default(false),
        /** PrivateLink endpoints admitted; empty admits any (including direct, non-PrivateLink traffic). */
        allowedVpcEndpoints: z.array(z.string().regex(/^vpce-[0-9a-z]+$/)).default([]),
      })
      .strict()
      .default({}),
    cancel: z
      .object({
        /** Private port where other gateway instances forward cancel requests; omitted disables peering. */
        peerPort: z.number().int().min(0).max(65535).optional(),
        peerHost: z.string().default('0.0.0.0'),
        /** Other instances' peer addresses (host:port), when they are fixed. */
        peers: z.array(hostPort).default([]),
        /**
         * Or the other instances are every A record of `dnsName` (e.g. an AWS Cloud Map service), each on
         * `port`, this instance's own addresses left out. Resolved when a cancel must be forwarded, and
         * kept `refreshMs` (0: resolved for every one), so instances that come and go are followed.
         */
        peerDiscovery: z
          .object({
            dnsName: z
              .string()
              .regex(
                /^(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/,
                'expected a DNS name, e.g. gateway.gatehouse.internal',
              ),
            port: z.number().int().min(1).max(65535),
            refreshMs: z.number().int().min(0).max(300_000).default(5_000), // 5 seconds
          })
          .strict()
          .optional(),
      })
      .strict()
      .refine((c) => c.peerDiscovery === undefined || c.peers.length === 0, {
        message: 'set cancel.peers or cancel.peerDiscovery, not both',
        path: ['peerDiscovery'],
      })
      .default({}),
    health: z
      .object({
        host: z.string().default('0.0.0.0'),
        /** HTTP port for /healthz, /readyz and /metrics; omitted disables. */
        port: z.number().int().min(0).max(65535).optional(),
        /** How often a CloudWatch embedded-metric line is logged; 0 disables. */
        emfIntervalMs: z.number().int().min(0).default(60_000), // 1 minute
      })
      .strict()
      .default({}),
    /** On SIGTERM, how long sessions may finish before the rest are ended with 57P01. */
    drainMs: z.number().int().min(0).default(25_000), // 25 seconds, under Fargate's 30 s stopTimeout
    logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  })
  .strict();

export type GatewayConfigInput = z.input<typeof gatewayConfigSchema>;
export type GatewayConfig = Readonly<z.output<typeof gatewayConfigSchema>>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Validates a configuration object; the error names every bad field with its path. */
export function parseGatewayConfig(input: unknown): GatewayConfig {
  const result = gatewayConfigSchema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
    throw new ConfigError(`invalid gateway configuration:\n  ${problems.join('\n  ')}`);
  }
  return Object.freeze(result.data);
}

/**
 * Reads the configuration of the `serve` command from the environment: the JSON file named by
 * GATEHOUSE_CONFIG_FILE, or the JSON itself in GATEHOUSE_CONFIG (how an ECS task gets it, from its
 * task definition or a secret the task injects). Exactly one of the two.
 */
export function loadGatewayConfigFromEnv(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const file = env.GATEHOUSE_CONFIG_FILE;
  const inline = env.GATEHOUSE_CONFIG;
  if (file && inline) throw new ConfigError('set GATEHOUSE_CONFIG_FILE or GATEHOUSE_CONFIG, not both');
  if (inline) {
    let raw: unknown;
    try {
      raw = JSON.parse(inline);
    } catch {
      // Not the parser's message: it quotes the text, and this text may come from a secret.
      throw new ConfigError('GATEHOUSE_CONFIG does not hold valid JSON');
    }
    return parseGatewayConfig(raw);
  }
  if (!file)
    throw new ConfigError(
      'GATEHOUSE_CONFIG_FILE is not set: it must name the gateway configuration JSON (or GATEHOUSE_CONFIG hold it)',
    );
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`cannot read GATEHOUSE_CONFIG_FILE ${file}: ${(error as Error).message}`);
  }
  return parseGatewayConfig(raw);
}

/** The upstream password for the `env` credential source; read here so nothing else touches env. */
export function upstreamPasswordFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const password = env.GATEHOUSE_UPSTREAM_PASSWORD;
  if (password === undefined) throw new ConfigError('GATEHOUSE_UPSTREAM_PASSWORD is not set');
  return password;
}

/** What the primary tells each worker process, through its environment. */
export interface WorkerSettings {
  config: GatewayConfig;
  workerSlot: number;
  instanceTag: number;
}

export function workerSettingsToEnv(settings: WorkerSettings): Record<string, string> {
  return {
    GATEHOUSE_WORKER_CONFIG: JSON.stringify(settings.config),
    GATEHOUSE_WORKER_SLOT: String(settings.workerSlot),
    GATEHOUSE_INSTANCE_TAG: String(settings.instanceTag),
  };
}

export function loadWorkerSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerSettings {
  const raw = env.GATEHOUSE_WORKER_CONFIG;
  if (!raw)
    throw new ConfigError('GATEHOUSE_WORKER_CONFIG is not set: workers are started by the gateway primary');
  return {
    config: parseGatewayConfig(JSON.parse(raw)),
    workerSlot: Number(env.GATEHOUSE_WORKER_SLOT ?? 0),
    instanceTag: Number(env.GATEHOUSE_INSTANCE_TAG ?? 0),
  };
}
