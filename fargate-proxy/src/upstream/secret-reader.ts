import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/** One version of a secret's text. */
export interface SecretValue {
  text: string;
  /** The store's id of this version (Secrets Manager's VersionId), when it has one. */
  version?: string;
}

/**
 * Reads one secret, every time it is asked (callers cache). A port: the credential and certificate
 * sources depend on this, never on the AWS SDK.
 */
export interface SecretReader {
  /** The secret's name for messages and logs (never its value). */
  readonly name: string;
  read(): Promise<SecretValue>;
}

/** The Secrets Manager adapter: GetSecretValue of the current version (AWSCURRENT). */
export class SecretsManagerSecretReader implements SecretReader {
  constructor(
    private readonly client: SecretsManagerClient,
    private readonly secretId: string,
  ) {}

  get name(): string {
    return this.secretId;
  }

  async read(): Promise<SecretValue> {
    const result = await this.client.send(new GetSecretValueCommand({ SecretId: this.secretId }));
    const text =
      result.SecretString ??
      (result.SecretBinary ? Buffer.from(result.SecretBinary).toString('utf8') : undefined);
    if (text === undefined) throw new Error(`secret ${this.secretId} has no value`);
    return { text, version: result.VersionId };
  }
}

export interface SecretLocation {
  secretId: string;
  region?: string;
  endpoint?: string;
}

/** A reader of the configured secret, with its own client (region and endpoint from the configuration). */
export function secretsManagerReader(location: SecretLocation): SecretsManagerSecretReader {
  const client = new SecretsManagerClient({ region: location.region, endpoint: location.endpoint });
  return new SecretsManagerSecretReader(client, location.secretId);
}
