import {
  ExecutionError,
  type RunOptions,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import { ApprovalStates } from '../../../infra/approvals/approval-definition';

type LocalHandler = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>[string];
type JsonValue = Parameters<LocalHandler>[0];

/**
 * aws-local-stepfunctions 3 declares Node >= 22 and calls Promise.withResolvers (Node 22) to race a
 * task against its TimeoutSeconds; the suite runs on Node 20, the oldest the repository supports.
 * Same semantics as the standard method, installed only where it is missing.
 */
function ensurePromiseWithResolvers(): void {
  const promise = Promise as PromiseConstructor & { withResolvers?: unknown };
  if (typeof promise.withResolvers === 'function') return;
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value<T>() {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const created = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise: created, resolve, reject };
    },
  });
}
ensurePromiseWithResolvers();

/** The payload the state machine sends the notify function. */
export interface NotifyPayload {
  readonly taskToken: string;
  readonly requestId: string;
}

/** How an execution ended: its output, or the error of the Fail state (or uncaught error). */
export type ExecutionEnd =
  | { readonly status: 'succeeded'; readonly output: JsonValue }
  | { readonly status: 'failed'; readonly error: string; readonly cause: string };

export interface LocalApprovalOptions {
  readonly input: JsonValue;
  /** The request item's expiresAt (DynamoDB N string); undefined: no request item. */
  readonly storedExpiresAt?: string;
  /** The notify invocation fails with this error (as a Lambda error would). */
  readonly notifyError?: Error;
  /** How many notify invocations are throttled before one gets through. */
  readonly notifyThrottles?: number;
}

/** `$$.State.EnteredTime` as the context object gives it (the local engine has no clock of its own here). */
export const ENTERED_TIME = '2030-01-02T03:04:05.678Z';
export const TASK_TOKEN = 'task-token-of-the-notify-state';

/**
 * aws-local-stepfunctions resolves a Task's TimeoutSecondsPath against its effective input (after
 * Parameters, here `{FunctionName, Payload}`); Step Functions documents it as a path into the state input.
 * The notify state's input is the execution input plus `$.stored`, so the path (a plain `$.field`)
 * is resolved here against the execution input into the fixed TimeoutSeconds the engine then enforces.
 */
function withNotifyTimeoutResolved(
  definition: Record<string, unknown>,
  input: JsonValue,
): Record<string, unknown> {
  // A JSON copy, not structuredClone: under Jest that makes objects of another realm, which the
  // engine's plain-object checks then refuse to treat as payload templates.
  const copy = JSON.parse(JSON.stringify(definition)) as { States: Record<string, Record<string, unknown>> };
  const notify = copy.States[ApprovalStates.notify];
  const path = notify?.TimeoutSecondsPath;
  const field = typeof path === 'string' ? /^\$\.(\w+)$/.exec(path)?.[1] : undefined;
  const seconds =
    field && input && typeof input === 'object' && !Array.isArray(input) ? input[field] : undefined;
  if (notify && typeof seconds === 'number' && Number.isInteger(seconds) && seconds >= 1) {
    delete notify.TimeoutSecondsPath;
    notify.TimeoutSeconds = seconds;
  }
  return copy;
}

function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/**
 * One execution of the synthesized definition in aws-local-stepfunctions, with every Task state
 * replaced by a local handler: DynamoDB GetItem/PutItem record their parameters, and the notify
 * task waits for the test to play the decide function (`sendTaskSuccess`) or for its timeout.
 */
export class LocalApprovalExecution {
  /** Parameters of each GetItem, in order. */
  readonly reads: JsonValue[] = [];
  /** Parameters of each PutItem, in order: the items the state machine wrote. */
  readonly writes: JsonValue[] = [];
  /** Payloads of each notify invocation, throttled ones included. */
  readonly notifications: NotifyPayload[] = [];
  /** Settles once notify has been invoked successfully and the task waits for its token. */
  readonly notified: Promise<NotifyPayload>;
  readonly finished: Promise<ExecutionEnd>;

  private waiting?: { token: string; resolve: (output: JsonValue) => void; reject: (error: Error) => void };

  constructor(definition: Record<string, unknown>, options: LocalApprovalOptions) {
    let notified!: (payload: NotifyPayload) => void;
    this.notified = new Promise((resolve) => {
      notified = resolve;
    });
    let throttles = options.notifyThrottles ?? 0;

    const handlers: Record<string, LocalHandler> = {
      [ApprovalStates.load]: (parameters): JsonValue => {
        this.reads.push(parameters);
        return options.storedExpiresAt === undefined
          ? {}
          : { Item: { expiresAt: { N: options.storedExpiresAt } } };
      },
      [ApprovalStates.record]: (parameters) => {
        this.writes.push(parameters);
        return {};
      },
      [ApprovalStates.notify]: (parameters) => {
        const payload = (parameters as unknown as { Payload: NotifyPayload }).Payload;
        this.notifications.push(payload);
        if (throttles > 0) {
          throttles -= 1;
          throw namedError('Lambda.TooManyRequestsException', 'Rate exceeded');
        }
        if (options.notifyError) throw options.notifyError;
        // With .waitForTaskToken the task's result is what SendTaskSuccess sends, whenever it comes.
        const decision = new Promise<JsonValue>((resolve, reject) => {
          this.waiting = { token: payload.taskToken, resolve, reject };
        });
        notified(payload);
        return decision;
      },
    };

    const local = withNotifyTimeoutResolved(definition, options.input);
    const machine = new StateMachine(local as unknown as StateMachineDefinition);
    const execution = machine.run(options.input, {
      overrides: {
        taskResourceLocalHandlers: handlers,
        retryIntervalOverrides: {
          [ApprovalStates.load]: 0,
          [ApprovalStates.record]: 0,
          [ApprovalStates.notify]: 0,
        },
      },
      context: {
        Execution: { Name: 'apr-local', Input: options.input, StartTime: ENTERED_TIME },
        State: { Name: ApprovalStates.notify, EnteredTime: ENTERED_TIME },
        Task: { Token: TASK_TOKEN },
      },
    });
    this.finished = execution.result.then(
      (output): ExecutionEnd => ({ status: 'succeeded', output }),
      (error: unknown): ExecutionEnd => {
        if (!(error instanceof ExecutionError)) throw error;
        const cause = error.cause as Error;
        return { status: 'failed', error: cause.name, cause: cause.message };
      },
    );
  }

  /** Plays the decide function: SendTaskSuccess with the token notify stored. */
  sendTaskSuccess(taskToken: string, output: { verdict: string; by: string[] } | JsonValue): void {
    if (!this.waiting || this.waiting.token !== taskToken) {
      throw namedError('TaskDoesNotExist', 'no task waits for this token');
    }
    this.waiting.resolve(output);
    this.waiting = undefined;
  }
}
