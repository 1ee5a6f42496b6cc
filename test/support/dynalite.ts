import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';

/** DynamoDB as the tests know it: dynalite, an emulator that checks requests as the service does. */
export interface TestDynamoDb {
  endpoint: string;
  client: DynamoDBClient;
  /**
   * Creates a table shaped like the gateway's (string partition key `pk`; with `sortKey`, a string
   * sort key of that name, as the approvals table has `sk`); returns its name.
   */
  createTable(name?: string, options?: { sortKey?: string }): Promise<string>;
  stop(): Promise<void>;
}

let tables = 0;

/**
 * `port` and `path` (a directory that keeps the tables) let a test stop the emulator and start it
 * again where it was, with what it held: the store going away and coming back.
 */
export async function startDynalite(options: { port?: number; path?: string } = {}): Promise<TestDynamoDb> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, path: options.path });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', () => resolve()));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  return {
    endpoint,
    client,
    createTable: async (name = `gatehouse-test-${++tables}`, options = {}) => {
      const sortKey = options.sortKey;
      await client.send(
        new CreateTableCommand({
          TableName: name,
          AttributeDefinitions: [
            { AttributeName: 'pk', AttributeType: 'S' },
            ...(sortKey ? [{ AttributeName: sortKey, AttributeType: 'S' as const }] : []),
          ],
          KeySchema: [
            { AttributeName: 'pk', KeyType: 'HASH' },
            ...(sortKey ? [{ AttributeName: sortKey, KeyType: 'RANGE' as const }] : []),
          ],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      return name;
    },
    stop: async () => {
      client.destroy();
      // As a store that goes away: open connections (the gateway's keep-alive ones too) are cut, not
      // waited for; close() alone waits for requests under way.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
