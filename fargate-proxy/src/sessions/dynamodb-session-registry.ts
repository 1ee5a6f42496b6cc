import { randomUUID } from 'node:crypto';
import {
  type AttributeValue,
  BatchWriteItemCommand,
  type DynamoDBClient,
  PutItemCommand,
  ScanCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import type { KillRequest, KillTarget, LiveSession, SessionRegistry } from './session-registry';

/** DynamoDB's limit of items per BatchWriteItem. */
const BATCH = 25;
/** Entries outlive their last update by this much before DynamoDB's TTL may remove them. */
const SESSION_TTL_SECONDS = 24 * 3600;
const KILL_TTL_SECONDS = 7 * 24 * 3600;

function expiresAt(ttlSeconds: number): AttributeValue {
  return { N: String(Math.floor(Date.now() / 1000) + ttlSeconds) };
}

/**
 * The registry in the gateway's DynamoDB table (AWS): one item per live session (`session#ID`) and
 * per kill request (`kill#ID`), each with a TTL; reads are scans filtered by kind, which suits a table
 * of live sessions (thousands of items, not millions). Items of a dead process are left to the TTL
 * and hidden by their age.
 */
export class DynamoDbSessionRegistry implements SessionRegistry {
  /** Per writer, the session ids it published last time: the ones now gone are deleted. */
  private readonly published = new Map<string, Set<string>>();

  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
  ) {}

  async publish(writer: string, sessions: readonly LiveSession[]): Promise<void> {
    const current = new Set(sessions.map((s) => s.id));
    const requests: WriteRequest[] = sessions.map((session) => ({
      PutRequest: {
        Item: {
          pk: { S: `session#${session.id}` },
          kind: { S: 'session' },
          writer: { S: writer },
          updated: { N: String(session.updated) },
          data: { S: JSON.stringify(session) },
          expiresAt: expiresAt(SESSION_TTL_SECONDS),
        },
      },
    }));
    for (const id of this.published.get(writer) ?? [])
      if (!current.has(id)) requests.push({ DeleteRequest: { Key: { pk: { S: `session#${id}` } } } });
    for (let i = 0; i < requests.length; i += BATCH) await this.write(requests.slice(i, i + BATCH));
    this.published.set(writer, current);
  }

  /** One batch, retrying what DynamoDB left unprocessed (throttling) with a short backoff. */
  private async write(batch: WriteRequest[]): Promise<void> {
    let pending = batch;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** attempt)));
      if (attempt > 8) throw new Error(`DynamoDB left ${pending.length} session writes unprocessed`);
      const result = await this.client.send(
        new BatchWriteItemCommand({ RequestItems: { [this.table]: pending } }),
      );
      pending = result.UnprocessedItems?.[this.table] ?? [];
    }
  }

  private async scan(kind: string, after: { attribute: string; value: number }): Promise<string[]> {
    const data: string[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new ScanCommand({
          TableName: this.table,
          FilterExpression: '#kind = :kind AND #after >= :after',
          ExpressionAttributeNames: { '#kind': 'kind', '#after': after.attribute, '#data': 'data' },
          ExpressionAttributeValues: { ':kind': { S: kind }, ':after': { N: String(after.value) } },
          ProjectionExpression: '#data',
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) if (item.data?.S) data.push(item.data.S);
      start = page.LastEvaluatedKey;
    } while (start);
    return data;
  }

  async list(freshMs: number): Promise<LiveSession[]> {
    const rows = await this.scan('session', { attribute: 'updated', value: Date.now() - freshMs });
    return rows.map((row) => JSON.parse(row) as LiveSession);
  }

  async requestKill(target: KillTarget, requestedBy: string): Promise<KillRequest> {
    const request: KillRequest = { id: randomUUID(), time: Date.now(), requestedBy, ...target };
    await this.client.send(
      new PutItemCommand({
        TableName: this.table,
        Item: {
          pk: { S: `kill#${request.id}` },
          kind: { S: 'kill' },
          time: { N: String(request.time) },
          data: { S: JSON.stringify(request) },
          expiresAt: expiresAt(KILL_TTL_SECONDS),
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return request;
  }

  async killRequestsSince(time: number): Promise<KillRequest[]> {
    const rows = await this.scan('kill', { attribute: 'time', value: time + 1 });
    return rows.map((row) => JSON.parse(row) as KillRequest).sort((a, b) => a.time - b.time);
  }
}
