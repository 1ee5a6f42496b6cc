import type { ApprovalDecision, ApprovalRequest, Cancellation } from './approval';

/**
 * How approvals are laid out in one DynamoDB table (partition key `pk`, sort key `sk`, both strings),
 * shared by the gateway, which opens requests and learns their outcome, and the approval functions,
 * which notify and record decisions. Everything about one request is under one partition, so a single
 * strongly consistent Query reads it whole; each fact that must happen once (a decision per approver,
 * the use of a once-only approval, a cancellation, a task token) is its own item, written with
 * `attribute_not_exists(pk)`. Pure: the stores marshal these plain objects.
 *
 *   pk request#ID   sk request              the request (JSON), expiresAt for TTL
 *   pk request#ID   sk decision#APPROVER    one decision (JSON)
 *   pk request#ID   sk notified#CHANNEL#TO  a notification sent (JSON)
 *   pk request#ID   sk task                 the Step Functions task token (never leaves the server)
 *   pk request#ID   sk used | cancelled     once-only approval used; client stopped waiting
 *   pk request#ID   sk outcome              the workflow's end (JSON: approved, denied, timed-out)
 *   pk binding#HASH sk request#ID           requests of one exact statement (non-interactive retries)
 */

export interface ApprovalItem {
  readonly pk: string;
  readonly sk: string;
  /** JSON of the request, decision, notification or outcome. */
  readonly body?: string;
  readonly taskToken?: string;
  /** Seconds since the epoch: DynamoDB's TTL attribute (best effort, so readers check times too). */
  readonly expiresAt: number;
}

/** A notification the workflow sent, for the audit trail. */
export interface ApprovalNotification {
  readonly request: string;
  /** slack, email or webhook. */
  readonly channel: string;
  /** The approver notified, or the channel (a webhook reaches whoever reads it). */
  readonly to: string;
  /** Microseconds since the epoch. */
  readonly time: number;
}

/** How the workflow ended, as the state machine recorded it. */
export interface ApprovalOutcomeRecord {
  readonly request: string;
  readonly state: 'approved' | 'denied' | 'timed-out' | 'failed';
  /** ISO 8601, from the state's entered time (ASL in JSONPath has no date arithmetic). */
  readonly time: string;
}

/** Everything recorded about one request. */
export interface ApprovalRecord {
  readonly request: ApprovalRequest;
  readonly decisions: readonly ApprovalDecision[];
  readonly notifications: readonly ApprovalNotification[];
  readonly used: boolean;
  /** When the client withdrew the request (see Cancellation). */
  readonly cancelled: Cancellation;
  readonly taskToken?: string;
  readonly outcome?: ApprovalOutcomeRecord;
}

/** Items are kept a week past the request's expiry (the audit trail keeps them for good). */
const keptSeconds = 7 * 24 * 3600;

export function requestKey(id: string): string {
  return `request#${id}`;
}

export function bindingKey(binding: string): string {
  return `binding#${binding}`;
}

function expiresAt(request: Pick<ApprovalRequest, 'expires'>): number {
  return Math.ceil(request.expires / 1_000_000) + keptSeconds;
}

export function requestItems(request: ApprovalRequest): [ApprovalItem, ApprovalItem] {
  const expiry = expiresAt(request);
  return [
    { pk: requestKey(request.id), sk: 'request', body: JSON.stringify(request), expiresAt: expiry },
    { pk: bindingKey(request.binding), sk: requestKey(request.id), expiresAt: expiry },
  ];
}

export function decisionItem(request: ApprovalRequest, decision: ApprovalDecision): ApprovalItem {
  return {
    pk: requestKey(request.id),
    sk: `decision#${decision.approver}`,
    body: JSON.stringify(decision),
    expiresAt: expiresAt(request),
  };
}

export function notificationItem(request: ApprovalRequest, notification: ApprovalNotification): ApprovalItem {
  return {
    pk: requestKey(request.id),
    sk: `notified#${notification.channel}#${notification.to}`,
    body: JSON.stringify(notification),
    expiresAt: expiresAt(request),
  };
}

/** A once-only fact; a cancellation carries its time (microseconds), so later decisions do not count. */
export function markerItem(
  request: ApprovalRequest,
  marker: 'used' | 'cancelled',
  time?: number,
): ApprovalItem {
  return {
    pk: requestKey(request.id),
    sk: marker,
    expiresAt: expiresAt(request),
    ...(time !== undefined ? { body: JSON.stringify({ time }) } : {}),
  };
}

/** When a cancellation marker was written; `true` for markers written before the time was kept. */
export function cancellationOf(item: ApprovalItem | undefined): Cancellation {
  if (!item) return false;
  const time = (JSON.parse(item.body ?? '{}') as { time?: unknown }).time;
  return typeof time === 'number' ? time : true;
}

export function taskItem(request: ApprovalRequest, taskToken: string): ApprovalItem {
  return { pk: requestKey(request.id), sk: 'task', taskToken, expiresAt: expiresAt(request) };
}

export function outcomeItem(request: ApprovalRequest, outcome: ApprovalOutcomeRecord): ApprovalItem {
  return {
    pk: requestKey(request.id),
    sk: 'outcome',
    body: JSON.stringify(outcome),
    expiresAt: expiresAt(request),
  };
}

/** The request ids a binding partition lists. */
export function requestIdsOf(items: readonly Pick<ApprovalItem, 'sk'>[]): string[] {
  return items.filter((i) => i.sk.startsWith('request#')).map((i) => i.sk.slice('request#'.length));
}

/** Reads one request's partition back; undefined when the request item is missing. */
export function approvalRecord(items: readonly ApprovalItem[]): ApprovalRecord | undefined {
  const parse = <T>(item: ApprovalItem): T => JSON.parse(item.body ?? 'null') as T;
  const requestItem = items.find((i) => i.sk === 'request');
  if (!requestItem?.body) return undefined;
  const outcome = items.find((i) => i.sk === 'outcome');
  const task = items.find((i) => i.sk === 'task');
  return {
    request: parse<ApprovalRequest>(requestItem),
    decisions: items.filter((i) => i.sk.startsWith('decision#')).map((i) => parse<ApprovalDecision>(i)),
    notifications: items
      .filter((i) => i.sk.startsWith('notified#'))
      .map((i) => parse<ApprovalNotification>(i)),
    used: items.some((i) => i.sk === 'used'),
    cancelled: cancellationOf(items.find((i) => i.sk === 'cancelled')),
    ...(task?.taskToken ? { taskToken: task.taskToken } : {}),
    ...(outcome ? { outcome: parse<ApprovalOutcomeRecord>(outcome) } : {}),
  };
}

/**
 * An item as DynamoDB's low-level API carries it (structurally an `AttributeValue` map): the items
 * are flat strings and one number, so the marshalling is written out rather than imported.
 */
export type ItemAttributes = Record<string, { S: string } | { N: string }>;

function attribute(
  attributes: Readonly<Record<string, unknown>>,
  name: string,
  kind: 'S' | 'N',
): string | undefined {
  const value = (attributes[name] as Record<string, unknown> | undefined)?.[kind];
  return typeof value === 'string' ? value : undefined;
}

/** The items are flat strings and one number, so the marshalling is written out rather than imported. */
export function toAttributes(item: ApprovalItem): ItemAttributes {
  return {
    pk: { S: item.pk },
    sk: { S: item.sk },
    expiresAt: { N: String(item.expiresAt) },
    ...(item.body !== undefined ? { body: { S: item.body } } : {}),
    ...(item.taskToken !== undefined ? { taskToken: { S: item.taskToken } } : {}),
  };
}

/** An item read back; one without the key or expiry it must have is not ours and is skipped. */
export function fromAttributes(attributes: Readonly<Record<string, unknown>>): ApprovalItem | undefined {
  const pk = attribute(attributes, 'pk', 'S');
  const sk = attribute(attributes, 'sk', 'S');
  const expiresAt = Number(attribute(attributes, 'expiresAt', 'N'));
  if (pk === undefined || sk === undefined || !Number.isFinite(expiresAt)) return undefined;
  const body = attribute(attributes, 'body', 'S');
  const taskToken = attribute(attributes, 'taskToken', 'S');
  return {
    pk,
    sk,
    expiresAt,
    ...(body !== undefined ? { body } : {}),
    ...(taskToken !== undefined ? { taskToken } : {}),
  };
}
