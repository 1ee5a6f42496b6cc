import {
  type AttributeValue,
  type DynamoDBClient,
  PutItemCommand,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import {
  type ApprovalItem,
  type ApprovalRecord,
  approvalRecord,
  fromAttributes,
  requestKey,
  toAttributes,
} from '../../core/approval/approval-items';

/**
 * The approval functions' view of the approvals table (layout: core/approval/approval-items.ts).
 * Reads take one strongly consistent Query of the request's partition, so a decision just written is
 * seen by the next read; every write is "once" (`attribute_not_exists(pk)`), so two racing writers of
 * the same fact cannot both win.
 */
export interface ApprovalStore {
  /** Every item of a request's partition. */
  items(requestId: string): Promise<ApprovalItem[]>;
  /** The request's record, or undefined when there is no such request. */
  record(requestId: string): Promise<ApprovalRecord | undefined>;
  /** Writes the item unless one with its key exists; false when it did (someone was first). */
  putOnce(item: ApprovalItem): Promise<boolean>;
}

export class ApprovalTable implements ApprovalStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
  ) {}

  async items(requestId: string): Promise<ApprovalItem[]> {
    const items: ApprovalItem[] = [];
    let start: Record<string, AttributeValue> | undefined;
    // One Query; a partition holds a handful of small items, so a second page is only a safeguard.
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: requestKey(requestId) } },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) {
        const parsed = fromAttributes(item);
        if (parsed) items.push(parsed);
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  async record(requestId: string): Promise<ApprovalRecord | undefined> {
    return approvalRecord(await this.items(requestId));
  }

  async putOnce(item: ApprovalItem): Promise<boolean> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: toAttributes(item),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }
}
