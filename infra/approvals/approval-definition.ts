import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';

/**
 * The approval state machine, in JSONPath (not JSONata) so that the synthesized definition runs in
 * aws-local-stepfunctions for tests. One execution per request, named after it, with the input
 * `{"requestId": "apr-…", "timeoutSeconds": N}`:
 *
 *   LoadRequest      GetItem request#ID/request (expiresAt only: the statement never enters the
 *                    execution history)
 *   CheckRequest     no such request → UnknownRequest (Fail, nothing recorded: there is no partition
 *                    to record into); 1 ≤ timeoutSeconds ≤ max → NotifyApprovers; otherwise → Failed
 *   NotifyApprovers  the notify function with .waitForTaskToken; the decide function ends the wait
 *                    with SendTaskSuccess {"verdict": "approved"|"denied", "by": [names]}; the wait
 *                    lasts timeoutSeconds (TimeoutSecondsPath). States.Timeout → TimedOut, any other
 *                    error → Failed
 *   ReadVerdict      approved → Approved, denied → Denied, anything else → Failed
 *   Approved | Denied | TimedOut | Failed
 *                    Pass states that build $.outcome = {request, state, time}
 *   RecordOutcome    PutItem request#ID/outcome, body = States.JsonToString($.outcome), expiresAt
 *                    copied from the request item (so TTL removes the outcome with its partition),
 *                    written once (attribute_not_exists)
 *   CheckOutcome     failed → WorkflowFailed (Fail); otherwise → Done (Succeed)
 *
 * The execution status says whether the workflow worked, not what was decided: approved, denied and
 * timed out all succeed (the verdict is in the output and the table); only a fault fails it, so an
 * alarm on ExecutionsFailed means something is broken.
 *
 * `time` in the outcome body is `$$.State.EnteredTime` of the Pass state that settled it, an
 * ISO-8601 string with milliseconds ("2025-01-02T03:04:05.678Z"): JSONPath has no date arithmetic,
 * so the state machine cannot write the microseconds the other items carry. Readers convert with
 * `Date.parse(time) * 1000`.
 */
export const ApprovalStates = {
  load: 'LoadRequest',
  check: 'CheckRequest',
  unknown: 'UnknownRequest',
  notify: 'NotifyApprovers',
  verdict: 'ReadVerdict',
  approved: 'Approved',
  denied: 'Denied',
  timedOut: 'TimedOut',
  failed: 'Failed',
  record: 'RecordOutcome',
  checkOutcome: 'CheckOutcome',
  done: 'Done',
  workflowFailed: 'WorkflowFailed',
} as const;

/** The outcome states the state machine records, as in `ApprovalOutcomeRecord['state']`. */
export type RecordedOutcome = 'approved' | 'denied' | 'timed-out' | 'failed';

/** Error names of the two Fail states, for alarms and for the gateway reading an execution. */
export const ApprovalErrors = {
  unknownRequest: 'Gatehouse.UnknownRequest',
  failed: 'Gatehouse.ApprovalFailed',
} as const;

export interface ApprovalDefinitionProps {
  /** The approvals table (layout: core/approval/approval-items.ts). */
  readonly table: dynamodb.ITable;
  /** The notify function, invoked with `.waitForTaskToken`. */
  readonly notify: lambda.IFunction;
  /** The longest wait allowed for a decision, in seconds; longer `timeoutSeconds` inputs fail. */
  readonly maxTimeoutSeconds: number;
}

/** The partition key of a request's items, built in the state machine from `$.requestId`. */
const requestPartition = sfn.JsonPath.format('request#{}', sfn.JsonPath.stringAt('$.requestId'));

/** DynamoDB errors worth retrying: throttling and service faults, never a failed condition. */
const DYNAMODB_TRANSIENT_ERRORS = [
  'DynamoDB.ProvisionedThroughputExceededException',
  'DynamoDB.RequestLimitExceeded',
  'DynamoDB.ThrottlingException',
  'DynamoDB.InternalServerError',
  'DynamoDB.ServiceUnavailable',
];

/**
 * Builds the states under `scope` and returns the chain to start from. Kept apart from the
 * construct so the flow reads top to bottom; the construct owns the resources and permissions.
 */
export class ApprovalDefinition extends Construct {
  readonly start: sfn.IChainable;

  constructor(scope: Construct, id: string, props: ApprovalDefinitionProps) {
    super(scope, id);
    const { table, notify, maxTimeoutSeconds } = props;

    const load = tasks.DynamoGetItem.jsonPath(this, ApprovalStates.load, {
      table,
      key: {
        pk: tasks.DynamoAttributeValue.fromString(requestPartition),
        sk: tasks.DynamoAttributeValue.fromString('request'),
      },
      consistentRead: true,
      projectionExpression: [new tasks.DynamoProjectionExpression().withAttribute('expiresAt')],
      resultPath: '$.stored',
    });
    load.addRetry({
      errors: DYNAMODB_TRANSIENT_ERRORS,
      interval: Duration.seconds(1),
      maxAttempts: 4,
      backoffRate: 2,
      jitterStrategy: sfn.JitterType.FULL,
    });

    const record = tasks.DynamoPutItem.jsonPath(this, ApprovalStates.record, {
      table,
      item: {
        pk: tasks.DynamoAttributeValue.fromString(requestPartition),
        sk: tasks.DynamoAttributeValue.fromString('outcome'),
        body: tasks.DynamoAttributeValue.fromString(
          sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt('$.outcome')),
        ),
        expiresAt: tasks.DynamoAttributeValue.numberFromString(
          sfn.JsonPath.stringAt('$.stored.Item.expiresAt.N'),
        ),
      },
      // The outcome is a fact like the others in the partition: written once, never replaced.
      conditionExpression: 'attribute_not_exists(pk)',
      resultPath: sfn.JsonPath.DISCARD,
    });
    record.addRetry({
      errors: DYNAMODB_TRANSIENT_ERRORS,
      interval: Duration.seconds(1),
      maxAttempts: 4,
      backoffRate: 2,
      jitterStrategy: sfn.JitterType.FULL,
    });

    const outcome = (id: string, state: RecordedOutcome): sfn.Pass => {
      const pass = sfn.Pass.jsonPath(this, id, {
        parameters: {
          request: sfn.JsonPath.stringAt('$.requestId'),
          state,
          time: sfn.JsonPath.stringAt('$$.State.EnteredTime'),
        },
        resultPath: '$.outcome',
      });
      pass.next(record);
      return pass;
    };
    const approved = outcome(ApprovalStates.approved, 'approved');
    const denied = outcome(ApprovalStates.denied, 'denied');
    const timedOut = outcome(ApprovalStates.timedOut, 'timed-out');
    const failed = outcome(ApprovalStates.failed, 'failed');

    record.next(
      sfn.Choice.jsonPath(this, ApprovalStates.checkOutcome)
        .when(
          sfn.Condition.stringEquals('$.outcome.state', 'failed'),
          sfn.Fail.jsonPath(this, ApprovalStates.workflowFailed, {
            error: ApprovalErrors.failed,
            cause: 'Notifying the approvers failed or the decision was unreadable; outcome "failed" recorded',
          }),
        )
        .otherwise(sfn.Succeed.jsonPath(this, ApprovalStates.done)),
    );

    const notifyApprovers = tasks.LambdaInvoke.jsonPath(this, ApprovalStates.notify, {
      lambdaFunction: notify,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: sfn.TaskInput.fromObject({
        taskToken: sfn.JsonPath.taskToken,
        requestId: sfn.JsonPath.stringAt('$.requestId'),
      }),
      // Humans do not heartbeat: the only clock is the request's own timeout, from the input.
      taskTimeout: sfn.Timeout.at('$.timeoutSeconds'),
      resultPath: '$.decision',
    });
    // Reserved concurrency throttles notify under a burst of requests; the burst drains through retries.
    notifyApprovers.addRetry({
      errors: ['Lambda.TooManyRequestsException'],
      interval: Duration.seconds(2),
      maxAttempts: 6,
      backoffRate: 2,
      jitterStrategy: sfn.JitterType.FULL,
    });
    notifyApprovers.addCatch(timedOut, { errors: [sfn.Errors.TIMEOUT], resultPath: '$.error' });
    notifyApprovers.addCatch(failed, { errors: [sfn.Errors.ALL], resultPath: '$.error' });

    // IsPresent first in each And: Step Functions stops at the first false rule, and comparing a
    // missing path is a States.Runtime error that no Catch sees.
    const verdictIs = (verdict: 'approved' | 'denied'): sfn.Condition =>
      sfn.Condition.and(
        sfn.Condition.isPresent('$.decision.verdict'),
        sfn.Condition.stringEquals('$.decision.verdict', verdict),
      );
    notifyApprovers.next(
      sfn.Choice.jsonPath(this, ApprovalStates.verdict)
        .when(verdictIs('approved'), approved)
        .when(verdictIs('denied'), denied)
        .otherwise(failed),
    );

    const check = sfn.Choice.jsonPath(this, ApprovalStates.check)
      .when(
        sfn.Condition.not(sfn.Condition.isPresent('$.stored.Item.expiresAt.N')),
        sfn.Fail.jsonPath(this, ApprovalStates.unknown, {
          error: ApprovalErrors.unknownRequest,
          cause: 'No request item for this requestId: the gateway writes it before starting the execution',
        }),
      )
      .when(
        sfn.Condition.and(
          sfn.Condition.isPresent('$.timeoutSeconds'),
          sfn.Condition.isNumeric('$.timeoutSeconds'),
          sfn.Condition.numberGreaterThanEquals('$.timeoutSeconds', 1),
          sfn.Condition.numberLessThanEquals('$.timeoutSeconds', maxTimeoutSeconds),
        ),
        notifyApprovers,
      )
      .otherwise(failed);

    this.start = load.next(check);
  }
}
