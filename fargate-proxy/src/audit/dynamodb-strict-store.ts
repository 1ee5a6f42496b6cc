import { BatchWriteItemCommand, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { GroupCommit, type StrictItem, type StrictStore, StrictStoreError } from './strict-store';

const BATCH = 25;

function request(item: StrictItem): WriteRequest {
  return {
    PutRequest: {
      Item: {
        pk: { S: `strict#${item.session}#${item.index}` },
        kind: { S: 'strict' },
        session: { S: item.session },
        time: { N: String(item.time) },
        data: { S: JSON.stringify(item) },
      },
    },
  };
}

/**
 * Strict records in the gateway's DynamoDB table: a statement is forwarded only once DynamoDB has
 * acknowledged its item, so the record survives the loss of the whole instance. Items of one event-loop
 * turn go in BatchWriteItem requests of 25; what DynamoDB leaves unprocessed is retried with backoff
 * within the caller's timeout.
 */
export class DynamoDbStrictStore implements StrictStore {
  private readonly commit: GroupCommit;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
    timeoutMs: number,
  ) {
    this.commit = new GroupCommit((items) => this.write(items), timeoutMs);
  }

  put(items: readonly StrictItem[]): Promise<void> {
    return this.commit.put(items);
  }

  private async write(items: StrictItem[]): Promise<void> {
    const batches: WriteRequest[][] = [];
    for (let i = 0; i < items.length; i += BATCH) batches.push(items.slice(i, i + BATCH).map(request));
    await Promise.all(batches.map((batch) => this.writeBatch(batch)));
  }

  private async writeBatch(batch: WriteRequest[]): Promise<void> {
    let pending = batch;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 6)
        throw new StrictStoreError(`DynamoDB left ${pending.length} strict records unprocessed`);
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 20 * 2 ** attempt));
      const result = await this.client.send(
        new BatchWriteItemCommand({ RequestItems: { [this.table]: pending } }),
      );
      pending = result.UnprocessedItems?.[this.table] ?? [];
    }
  }
}
