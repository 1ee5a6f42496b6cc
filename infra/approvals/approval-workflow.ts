import path from 'node:path';
import { Duration, Names, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ApprovalDefinition } from './approval-definition';
import { acknowledgeApprovalFindings } from './approval-nag';
import { type ApprovalWorkflowProps, approvalSettings, PROJECT_ROOT } from './approval-workflow-props';

export {
  APPROVAL_DECIDE_ENTRY,
  APPROVAL_NOTIFY_ENTRY,
  type ApprovalEmailProps,
  type ApprovalFunctionEntries,
  type ApprovalSlackProps,
  type ApprovalWorkflowProps,
} from './approval-workflow-props';

import { allowLogsToUseKey } from '../shared/logs-key-access';

/**
 * What the functions and the gateway may do to items, and nothing else: every fact in the layout
 * (core/approval/approval-items.ts) is written once with a conditional PutItem and read back with a
 * strongly consistent Query, so no role can update or delete an item (TTL does the deleting).
 */
export const APPROVAL_ITEM_ACTIONS = ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem'] as const;
/** KMS actions DynamoDB performs with the caller's credentials on a table under a customer key. */
const TABLE_KEY_ACTIONS = ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'];
/** KMS actions Step Functions performs with the caller's credentials for a state machine under a customer key. */
const STATE_MACHINE_KEY_ACTIONS = ['kms:Decrypt', 'kms:GenerateDataKey'];

/** Seconds the execution may outlive the longest approval wait: loading, notify retries, recording. */
const EXECUTION_MARGIN_SECONDS = 15 * 60;

interface FunctionSpec {
  readonly entry: string;
  readonly description: string;
  readonly concurrency: number;
  readonly timeout: Duration;
  readonly retention: logs.RetentionDays;
  readonly environment: Record<string, string>;
}

/**
 * Human approval of held statements (issue 6): the approvals table, the notify and decide functions,
 * the decide function's public URL and the Standard state machine that waits for a decision with
 * the request's own timeout. The gateway opens a request in the table, then starts an execution
 * named after it (`grantStart` gives its role exactly that).
 */
export class ApprovalWorkflow extends Construct {
  /** The approvals table (layout: core/approval/approval-items.ts). */
  readonly table: dynamodb.ITable;
  /** The approval state machine; input `{"requestId": "apr-…", "timeoutSeconds": N}`. */
  readonly stateMachine: sfn.IStateMachine;
  /** The decide function's URL: Slack's interactivity request URL and the base of e-mail links. */
  readonly decideUrl: string;

  private readonly dataKey: kms.IKey;

  constructor(scope: Construct, id: string, props: ApprovalWorkflowProps) {
    super(scope, id);
    const settings = approvalSettings(props);
    const { entries, maxTimeoutSeconds, logRetention: retention, slack, email, dataKey } = settings;
    const stack = Stack.of(this);
    this.dataKey = dataKey;

    allowLogsToUseKey(dataKey, stack, { sid: 'GatehouseApprovalsCloudWatchLogs' });

    const table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true, recoveryPeriodInDays: 35 },
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: dataKey,
      // Seconds since the epoch; deletion is best effort, so readers compare expiry times themselves.
      timeToLiveAttribute: 'expiresAt',
      removalPolicy: RemovalPolicy.RETAIN,
      deletionProtection: true,
    });
    this.table = table;

    // HMAC keys cannot rotate (KMS refuses, and CDK with it); links carry their own expiry instead.
    const linkKey = new kms.Key(this, 'LinkKey', {
      description: 'Gatehouse approvals: HMAC of the decision links sent by e-mail',
      keySpec: kms.KeySpec.HMAC_256,
      keyUsage: kms.KeyUsage.GENERATE_VERIFY_MAC,
      enableKeyRotation: false,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const common: Record<string, string> = {
      TABLE_NAME: table.tableName,
      LINK_KEY_ID: linkKey.keyId,
      NODE_OPTIONS: '--enable-source-maps',
      ...(slack ? { SLACK_SECRET_ARN: slack.secret.secretArn } : {}),
    };

    // Decide first: notify needs its URL. Decide learns its own URL from each request
    // (requestContext.domainName): giving it DECIDE_URL would make the function depend on itself.
    const decide = this.approvalFunction('Decide', {
      entry: entries.decide,
      description: 'Gatehouse approvals: records a decision from Slack or an e-mail link and ends the wait',
      concurrency: settings.decideConcurrency,
      timeout: Duration.seconds(10),
      retention,
      environment: common,
    });
    // Slack's interactivity requests and approvers' browsers come from the internet without AWS
    // credentials, so the URL cannot use IAM auth. Authenticity is checked in the function: the Slack
    // v0 signature, or the KMS HMAC of an e-mail link; a GET only shows a page, only a POST decides.
    const decideUrl = decide.fn.addFunctionUrl({
      authType: lambda.FunctionUrlAuthType.NONE,
      invokeMode: lambda.InvokeMode.BUFFERED,
    });
    this.decideUrl = decideUrl.url;

    const notify = this.approvalFunction('Notify', {
      entry: entries.notify,
      description: 'Gatehouse approvals: stores the task token and notifies the approvers',
      concurrency: settings.notifyConcurrency,
      timeout: Duration.seconds(30),
      retention,
      environment: {
        ...common,
        DECIDE_URL: decideUrl.url,
        ...(slack?.channel ? { SLACK_CHANNEL: slack.channel } : {}),
        ...(email ? { SES_SENDER: email.sender } : {}),
      },
    });

    const requestItems = ['request#*'];
    this.grantItems(notify.role, requestItems);
    this.grantItems(decide.role, requestItems);
    linkKey.grantGenerateMac(notify.role);
    // Decide verifies; its confirmation page re-posts the link's own MAC, so it never makes one.
    linkKey.grantVerifyMac(decide.role);
    if (slack) {
      slack.secret.grantRead(notify.role);
      slack.secret.grantRead(decide.role);
    }
    if (email) {
      iam.Grant.addToPrincipal({
        grantee: notify.role,
        actions: ['ses:SendEmail'],
        resourceArns: [email.identity.emailIdentityArn],
        conditions: { StringEquals: { 'ses:FromAddress': email.sender } },
      });
    }

    const definition = new ApprovalDefinition(this, 'Definition', {
      table,
      notify: notify.fn,
      maxTimeoutSeconds,
    });
    const stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      // Named, because the key grants are conditioned on the ARN in the encryption context, and CDK
      // writes that condition from the name (an unnamed machine would get ":stateMachine:" and no key).
      stateMachineName: Names.uniqueResourceName(this, { maxLength: 80, separator: '-' }),
      comment: 'Gatehouse approvals: notify, wait for a decision or the timeout, record the outcome',
      definitionBody: sfn.DefinitionBody.fromChainable(definition.start),
      stateMachineType: sfn.StateMachineType.STANDARD,
      timeout: Duration.seconds(maxTimeoutSeconds + EXECUTION_MARGIN_SECONDS),
      tracingEnabled: true,
      logs: {
        destination: new logs.LogGroup(this, 'StateMachineLogs', {
          retention,
          encryptionKey: dataKey,
        }),
        level: sfn.LogLevel.ALL,
        // Execution data holds the task token, which is as good as a decision: keep it out of logs.
        includeExecutionData: false,
      },
      encryptionConfiguration: new sfn.CustomerManagedEncryptionConfiguration(dataKey),
    });
    this.stateMachine = stateMachine;
    // The tasks' own grants give GetItem/PutItem on the table; DynamoDB also needs the table's key.
    this.grantTableKey(stateMachine);

    // SendTaskSuccess on this state machine (as CDK scopes it; AccessDenied names the state machine's ARN,
    // though the service authorization reference lists no resource type), and its key for the output.
    // These go in a policy of their own, attached through the role's ARN: the decide function waits for
    // its role's default policy, and a state machine ARN there would close a cycle (state machine →
    // notify → DECIDE_URL → decide).
    const decideCallbacks = iam.Role.fromRoleArn(this, 'DecideCallbacks', decide.role.roleArn, {
      mutable: true,
    });
    stateMachine.grantTaskResponse(decideCallbacks);
    this.grantStateMachineKey(decideCallbacks);

    acknowledgeApprovalFindings({ stack, notify, decide, decideCallbacks, stateMachine, table });
  }

  /**
   * Lets the gateway's role start approvals: `states:StartExecution` on this state machine (and its
   * key for the input), and Query/GetItem/PutItem on the request and binding partitions.
   */
  grantStart(grantee: iam.IGrantable): iam.Grant {
    return this.stateMachine
      .grantStartExecution(grantee)
      .combine(this.grantStateMachineKey(grantee))
      .combine(this.grantItems(grantee, ['request#*', 'binding#*']));
  }

  private approvalFunction(id: string, spec: FunctionSpec): { fn: nodejs.NodejsFunction; role: iam.Role } {
    const role = new iam.Role(this, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: spec.description,
    });
    const logGroup = new logs.LogGroup(this, `${id}Logs`, {
      retention: spec.retention,
      encryptionKey: this.dataKey,
    });
    // The log group exists before the function, so the role only writes streams into it.
    logGroup.grantWrite(role);
    const fn = new nodejs.NodejsFunction(this, `${id}Function`, {
      entry: spec.entry,
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      description: spec.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: spec.timeout,
      role,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.ACTIVE,
      reservedConcurrentExecutions: spec.concurrency,
      environment: spec.environment,
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
    return { fn, role };
  }

  /** Query/GetItem/PutItem on the partitions given, and the table key through DynamoDB. */
  private grantItems(grantee: iam.IGrantable, partitions: readonly string[]): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: [...APPROVAL_ITEM_ACTIONS],
      resourceArns: [this.table.tableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...partitions] } },
    }).combine(this.grantTableKey(grantee));
  }

  private grantTableKey(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: TABLE_KEY_ACTIONS,
      resourceArns: [this.dataKey.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(this).region}.amazonaws.com` } },
    });
  }

  /** Callers of StartExecution and SendTaskSuccess encrypt their input or output with the machine's key. */
  private grantStateMachineKey(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: STATE_MACHINE_KEY_ACTIONS,
      resourceArns: [this.dataKey.keyArn],
      conditions: {
        StringEquals: {
          'kms:EncryptionContext:aws:states:stateMachineArn': this.stateMachine.stateMachineArn,
        },
      },
    });
  }
}
