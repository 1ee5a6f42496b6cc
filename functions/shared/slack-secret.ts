import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';

/**
 * The Slack secret in Secrets Manager, a JSON object:
 *   { "botToken": "xoxb-…", "signingSecret": "…" }   a Slack app (interactive buttons), or
 *   { "webhookUrl": "https://hooks.slack.com/…" }    an incoming webhook (links, no buttons).
 * The notify function needs botToken or webhookUrl; the decide function needs signingSecret. Values
 * are cached for a few minutes per container, so a rotated secret is picked up without a redeploy and
 * Secrets Manager is not called on every click.
 */

export const slackSecretSchema = z.object({
  botToken: z.string().min(1).optional(),
  signingSecret: z.string().min(1).optional(),
  webhookUrl: z.string().url().startsWith('https://').optional(),
});

export type SlackSecret = z.infer<typeof slackSecretSchema>;

export interface SlackSecretSource {
  read(): Promise<SlackSecret>;
}

/** How long a read secret is reused: 5 minutes. */
const CACHE_MS = 5 * 60 * 1000;

export class SecretsManagerSlackSecret implements SlackSecretSource {
  private cached?: { value: SlackSecret; at: number };

  constructor(
    private readonly secretId: string,
    private readonly client: SecretsManagerClient = new SecretsManagerClient({}),
    private readonly now: () => number = Date.now,
  ) {}

  async read(): Promise<SlackSecret> {
    if (this.cached && this.now() - this.cached.at < CACHE_MS) return this.cached.value;
    const answer = await this.client.send(new GetSecretValueCommand({ SecretId: this.secretId }));
    const value = parseSlackSecret(this.secretId, answer.SecretString);
    this.cached = { value, at: this.now() };
    return value;
  }
}

/**
 * Errors name the secret and the fields, never the content: JSON.parse's message can quote the text
 * around a syntax error, so it is not passed on.
 */
export function parseSlackSecret(secretId: string, text: string | undefined): SlackSecret {
  let json: unknown;
  try {
    json = JSON.parse(text ?? '');
  } catch {
    throw new Error(`the Slack secret ${secretId} is not a JSON object`);
  }
  const parsed = slackSecretSchema.safeParse(json);
  if (!parsed.success)
    throw new Error(
      `the Slack secret ${secretId} is malformed at ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`,
    );
  return parsed.data;
}
