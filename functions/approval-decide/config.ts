import { z } from 'zod';
import { logLevel, parseEnvironment, serviceUrl } from '../shared/environment';
import type { LogLevel } from '../shared/logger';

/**
 * The decide function's configuration, from its environment (read here only).
 *
 *   TABLE_NAME                  the approvals table (pk, sk)
 *   LINK_KEY_ID                 the KMS HMAC_256 key that verifies links (id, ARN or alias)
 *   SLACK_SECRET_ARN            optional: Secrets Manager secret holding {signingSecret}; without it
 *                               POST /slack answers 404
 *   SLACK_TEAM_ID               optional: accept Slack clicks from this workspace (T…) only
 *   SLACK_RESPONSE_URL_PREFIX   where Slack's response_url may point (default https://hooks.slack.com/);
 *                               the function posts nowhere else
 *   LOG_LEVEL                   debug | info | warn | error (default info)
 */
const schema = z
  .object({
    TABLE_NAME: z.string().min(3),
    LINK_KEY_ID: z.string().min(1),
    SLACK_SECRET_ARN: z.string().min(1).optional(),
    SLACK_TEAM_ID: z
      .string()
      .regex(/^T[A-Z0-9]+$/, 'expected a Slack team id (T…)')
      .optional(),
    SLACK_RESPONSE_URL_PREFIX: serviceUrl.default('https://hooks.slack.com/'),
    LOG_LEVEL: logLevel,
  })
  .transform(
    (env): DecideConfig => ({
      table: env.TABLE_NAME,
      linkKeyId: env.LINK_KEY_ID,
      slackSecretId: env.SLACK_SECRET_ARN,
      slackTeamId: env.SLACK_TEAM_ID,
      slackResponseUrlPrefix: env.SLACK_RESPONSE_URL_PREFIX,
      logLevel: env.LOG_LEVEL,
    }),
  );

export interface DecideConfig {
  readonly table: string;
  readonly linkKeyId: string;
  readonly slackSecretId?: string | undefined;
  readonly slackTeamId?: string | undefined;
  readonly slackResponseUrlPrefix: string;
  readonly logLevel: LogLevel;
}

export function loadDecideConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
): Readonly<DecideConfig> {
  return parseEnvironment(schema, env);
}
