import {
  type AttributeValue,
  type DynamoDBClient,
  PutItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import type { HeadRegistry } from './audit-store';

/**
 * Each writer's latest shipped digest in the gateway's DynamoDB table (`head#WRITER`): a store whose
 * newest digests were deleted ends before the registered head, and `gatehouse verify` says so.
 */
export class DynamoDbHeadRegistry implements HeadRegistry {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
  ) {}

  async register(writer: string, head: { seq: number; signature: string; to: number }): Promise<void> {
    await this.client
      .send(
        new PutItemCommand({
          TableName: this.table,
          Item: {
            pk: { S: `head#${writer}` },
            kind: { S: 'head' },
            writer: { S: writer },
            seq: { N: String(head.seq) },
            signature: { S: head.signature },
            to: { N: String(head.to) },
          },
          // Heads only move forward (a late retry of an older digest must not move one back).
          ConditionExpression: 'attribute_not_exists(seq) OR seq < :seq',
          ExpressionAttributeValues: { ':seq': { N: String(head.seq) } },
        }),
      )
      .catch((error: Error) => {
        if (error.name !== 'ConditionalCheckFailedException') throw error;
      });
  }
}

/** Every writer's registered head, for `gatehouse verify`. */
export async function readRegisteredHeads(
  client: DynamoDBClient,
  table: string,
): Promise<Map<string, { seq: number; signature: string }>> {
  const heads = new Map<string, { seq: number; signature: string }>();
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: table,
        FilterExpression: '#kind = :head',
        ExpressionAttributeNames: { '#kind': 'kind' },
        ExpressionAttributeValues: { ':head': { S: 'head' } },
        ExclusiveStartKey: start,
      }),
    );
    for (const item of page.Items ?? []) {
      if (item.writer?.S && item.seq?.N && item.signature?.S)
        heads.set(item.writer.S, { seq: Number(item.seq.N), signature: item.signature.S });
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return heads;
}
