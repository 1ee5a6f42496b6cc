import path from 'node:path';
import { CfnOutput, Duration, Names, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledgeExportFindings } from './evidence-export-nag';
import { type EvidenceExportProps, evidenceExportSettings, PROJECT_ROOT } from './evidence-export-props';

export { EvidenceExportError, type EvidenceExportErrorCode } from './evidence-export-error';
export {
  DEFAULT_SCHEDULES,
  EVIDENCE_EXPORT_ENTRY,
  type EvidenceExportPeriod,
  type EvidenceExportPolicy,
  type EvidenceExportProps,
  type EvidenceExportStore,
} from './evidence-export-props';

import { allowLogsToUseKey } from '../shared/logs-key-access';

/** Reads of the audit store (readS3Store: list, then GetObject of each file). */
export const AUDIT_READ_ACTIONS = ['s3:GetObject'] as const;
/** Writes of packages: PutObject only (the bucket's default retention locks them; no per-object retention). */
export const EXPORT_WRITE_ACTIONS = ['s3:PutObject'] as const;
/** readRegisteredHeads: a filtered Scan for `kind = head` (no key condition can narrow a Scan). */
export const HEAD_READ_ACTIONS = ['dynamodb:Scan'] as const;
/** KMS actions DynamoDB performs with the caller's credentials to read a table under a customer key. */
const TABLE_KEY_READ_ACTIONS = ['kms:Decrypt', 'kms:DescribeKey'];

/**
 * The NIST evidence package on AWS (issue 8): `gatehouse export` as a Lambda function, run by an
 * EventBridge rule (the previous UTC day at 01:30 by default, or month) and on demand
 * (`aws lambda invoke --payload '{"from": "2026-11-01", "to": "2026-11-08"}'`). It reads the audit
 * store and the registered heads, verifies the store with the signing key's public half, renders the
 * current policy object, and writes the package to `<exportsPrefix><from>_<to>/run-<time>/` in the
 * evidence bucket, manifest (signed with the signing key) last.
 *
 * The role's permissions are one customer-managed policy, exactly what the function calls: nothing
 * CDK would add to the role is added (`withoutPolicyUpdates`).
 */
export class EvidenceExport extends Construct {
  /** The export function; invoke it with `{"from": …, "to": …}` for a period on demand. */
  readonly function: lambda.IFunction;
  /** The EventBridge rule that runs it. */
  readonly rule: events.Rule;
  /** Invocations that failed after Lambda's retries (the event, so a period can be run again). */
  readonly deadLetterQueue: sqs.IQueue;
  /** Where the packages are, in the evidence bucket. */
  readonly exportsPrefix: string;

  constructor(scope: Construct, id: string, props: EvidenceExportProps) {
    super(scope, id);
    const settings = evidenceExportSettings(props);
    const { evidence, policy, exportsPrefix } = settings;
    const stack = Stack.of(this);
    this.exportsPrefix = exportsPrefix;

    const logGroupName = `/gatehouse/${Names.uniqueId(this)}/evidence-export`;
    allowLogsToUseKey(evidence.dataKey, stack, { sid: 'GatehouseEvidenceExportLogs', logGroupName });
    const logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName,
      retention: settings.logRetention,
      encryptionKey: evidence.dataKey,
    });

    // The failed event is a period (or a schedule's time): nothing confidential, so SQS-managed
    // encryption, which needs no key grant on the function's role.
    const deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.deadLetterQueue = deadLetterQueue;

    const policyDocument = new iam.ManagedPolicy(this, 'Policy', {
      description: 'Gatehouse evidence export: read the audit store, write packages, sign manifests',
      statements: exportStatements(settings, stack, logGroup, deadLetterQueue),
    });
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Gatehouse evidence export function',
      managedPolicies: [policyDocument],
    });

    const fn = new nodejs.NodejsFunction(this, 'Function', {
      entry: settings.entry,
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      description: 'Gatehouse evidence export: the NIST evidence package of a period, to the evidence bucket',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: settings.memorySize,
      timeout: settings.timeout,
      // Everything it may do is the managed policy above; CDK's own additions are not wanted.
      role: role.withoutPolicyUpdates(),
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      // One export at a time: a second invocation is throttled, never interleaved with a run.
      reservedConcurrentExecutions: 1,
      deadLetterQueue,
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      environment: {
        EVIDENCE_BUCKET: evidence.bucket.bucketName,
        AUDIT_PREFIX: evidence.auditPrefix,
        EXPORTS_PREFIX: exportsPrefix,
        GATEWAY_TABLE: evidence.table.tableName,
        POLICY_BUCKET: policy.bucket.bucketName,
        POLICY_KEY: policy.key,
        SIGNING_KEY_ID: evidence.signingKey.keyArn,
        SCHEDULED_PERIOD: settings.period,
        ...(Object.keys(settings.issuers).length > 0 ? { ISSUERS: JSON.stringify(settings.issuers) } : {}),
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        // Local esbuild (a devDependency), never Docker; the SDK versions of package-lock.json are
        // bundled, so what runs is what the tests ran, not the runtime's copy.
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        target: 'node22',
        format: nodejs.OutputFormat.CJS,
        bundleAwsSDK: true,
        externalModules: [],
      },
    });
    // The policy is attached before the function exists (the role lists it), and the function
    // waits for the role; stated, since nothing in the function's properties names the policy.
    fn.node.addDependency(policyDocument);
    this.function = fn;

    this.rule = new events.Rule(this, 'Schedule', {
      description: `Gatehouse evidence export: the previous ${settings.period} (UTC)`,
      schedule: settings.schedule,
      // The scheduled event itself: its `time` is the scheduled time the period is computed from.
      targets: [new targets.LambdaFunction(fn)],
    });

    new CfnOutput(this, 'FunctionName', {
      value: fn.functionName,
      description:
        'Evidence export on demand: aws lambda invoke --function-name <this> --cli-read-timeout 900 ' +
        `--cli-binary-format raw-in-base64-out --payload '{"from":"2026-11-01","to":"2026-11-08"}' out.json ` +
        `(packages: s3://<evidence bucket>/${exportsPrefix})`,
    });

    acknowledgeExportFindings({
      fn,
      policy: policyDocument,
      bucket: evidence.bucket,
      auditPrefix: evidence.auditPrefix,
      exportsPrefix,
    });
  }

  /** Lets a principal run an export on demand (`lambda:InvokeFunction` on this function). */
  grantInvoke(grantee: iam.IGrantable): iam.Grant {
    return this.function.grantInvoke(grantee);
  }
}

/**
 * Exactly what the function calls, on exactly the resources it names:
 *
 * - the audit store: ListBucket (prefix `auditPrefix`) and GetObject below it (readS3Store);
 * - the packages: ListBucket (prefix `exportsPrefix`, to find a period's complete runs) and PutObject
 *   below it; no read, delete, retention or governance bypass;
 * - the policy object: GetObject (its current version; S3PolicyObjectStore.get);
 * - the data key through S3 only, in the encryption context of those objects (Decrypt to read,
 *   GenerateDataKey to write), and through DynamoDB only to read the table;
 * - the table: Scan (readRegisteredHeads);
 * - the signing key: GetPublicKey, and Sign with ECDSA_SHA_256 over a DIGEST only (KmsDigestSigner);
 * - its log group, and its dead-letter queue (Lambda sends failed events with this role).
 */
function exportStatements(
  settings: ReturnType<typeof evidenceExportSettings>,
  stack: Stack,
  logGroup: logs.ILogGroup,
  deadLetterQueue: sqs.IQueue,
): iam.PolicyStatement[] {
  const { evidence, policy, exportsPrefix } = settings;
  const { bucket, auditPrefix, table, signingKey, dataKey } = evidence;
  const auditObjects = bucket.arnForObjects(`${auditPrefix}*`);
  const exportObjects = bucket.arnForObjects(`${exportsPrefix}*`);
  const policyObject = policy.bucket.arnForObjects(policy.key);
  const via = (service: string) => ({ 'kms:ViaService': `${service}.${stack.region}.amazonaws.com` });
  const s3Key = (key: kms.IKey, actions: string[], contexts: string[]) =>
    new iam.PolicyStatement({
      actions,
      resources: [key.keyArn],
      conditions: {
        StringEquals: via('s3'),
        StringLike: { 'kms:EncryptionContext:aws:s3:arn': contexts },
      },
    });
  return [
    new iam.PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${auditPrefix}*`, `${exportsPrefix}*`] } },
    }),
    new iam.PolicyStatement({ actions: [...AUDIT_READ_ACTIONS], resources: [auditObjects] }),
    new iam.PolicyStatement({ actions: [...EXPORT_WRITE_ACTIONS], resources: [exportObjects] }),
    new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [policyObject] }),
    s3Key(bucket.encryptionKey ?? dataKey, ['kms:Decrypt'], [bucket.bucketArn, auditObjects]),
    s3Key(bucket.encryptionKey ?? dataKey, ['kms:GenerateDataKey'], [bucket.bucketArn, exportObjects]),
    s3Key(policy.bucket.encryptionKey ?? dataKey, ['kms:Decrypt'], [policy.bucket.bucketArn, policyObject]),
    new iam.PolicyStatement({ actions: [...HEAD_READ_ACTIONS], resources: [table.tableArn] }),
    new iam.PolicyStatement({
      actions: TABLE_KEY_READ_ACTIONS,
      resources: [(table.encryptionKey ?? dataKey).keyArn],
      conditions: { StringEquals: via('dynamodb') },
    }),
    new iam.PolicyStatement({ actions: ['kms:GetPublicKey'], resources: [signingKey.keyArn] }),
    new iam.PolicyStatement({
      actions: ['kms:Sign'],
      resources: [signingKey.keyArn],
      conditions: { StringEquals: { 'kms:SigningAlgorithm': 'ECDSA_SHA_256', 'kms:MessageType': 'DIGEST' } },
    }),
    new iam.PolicyStatement({
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [logGroup.logGroupArn],
    }),
    new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [deadLetterQueue.queueArn] }),
  ];
}
