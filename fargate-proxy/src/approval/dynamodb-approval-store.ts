import {
  type AttributeValue,
  type DynamoDBClient,
  PutItemCommand,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import type { ApprovalRequest } from '../../../core/approval/approval';
import {
  type ApprovalItem,
  type ApprovalRecord,
  approvalRecord,
  bindingKey,
  fromAttributes,
  markerItem,
  requestIdsOf,
  requestItems,
  requestKey,
  toAttributes,
} from '../../../core/approval/approval-items';
import type { ApprovalStore } from './approval-store';

/**
 * Approval requests in the approvals DynamoDB table (layout: core/approval/approval-items.ts), where
 * the approval functions record notifications and decisions. Reads are strongly consistent: a gateway
 * must see a decision as soon as the function that wrote it has answered the approver.
 */
export class DynamoDbApprovalStore implements ApprovalStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
  ) {}

  private async partition(pk: string): Promise<ApprovalItem[]> {
    const items: ApprovalItem[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: pk } },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const attributes of page.Items ?? []) {
        // An item without the key or expiry it must have is not one of ours: skipped.
        const item = fromAttributes(attributes);
        if (item) items.push(item);
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  async record(id: string): Promise<ApprovalRecord | undefined> {
    return approvalRecord(await this.partition(requestKey(id)));
  }

  async recordsFor(binding: string): Promise<readonly ApprovalRecord[]> {
    const ids = requestIdsOf(await this.partition(bindingKey(binding)));
    const records = await Promise.all(ids.map((id) => this.record(id)));
    return records
      .filter((r): r is ApprovalRecord => r !== undefined)
      .sort((a, b) => b.request.requested - a.request.requested);
  }

  async open(request: ApprovalRequest): Promise<void> {
    // The request first, then its binding entry, so that a retry of the statement never finds an
    // entry without its request (a binding entry that failed only costs a second request).
    for (const item of requestItems(request)) {
      if (!(await this.once(item))) throw new Error(`approval request ${request.id} exists already`);
    }
  }

  private async once(item: ApprovalItem): Promise<boolean> {
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
      if ((error as Error).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  async cancel(request: ApprovalRequest, time: number): Promise<void> {
    await this.once(markerItem(request, 'cancelled', time));
  }

  async use(request: ApprovalRequest): Promise<boolean> {
    return this.once(markerItem(request, 'used'));
  }
}
