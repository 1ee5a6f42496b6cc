import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbSessionRegistry } from './dynamodb-session-registry';
import { LocalSessionRegistry } from './local-session-registry';
import type { SessionRegistry } from './session-registry';

/** Where the registry is: a directory, or a DynamoDB table (credentials from the SDK's usual chain). */
export type RegistryLocation =
  | { directory: string; dynamodb?: undefined }
  | { directory?: undefined; dynamodb: { table: string; region?: string; endpoint?: string } };

export function openSessionRegistry(location: RegistryLocation): SessionRegistry {
  if (location.dynamodb) {
    const { table, region, endpoint } = location.dynamodb;
    return new DynamoDbSessionRegistry(new DynamoDBClient({ region, endpoint }), table);
  }
  return new LocalSessionRegistry(location.directory);
}
