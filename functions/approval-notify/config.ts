import { z } from 'zod';
import { logLevel, parseEnvironment, serviceUrl } from '../shared/environment';
import type { LogLevel } from '../shared/logger';

/**
 * The notify function's configuration, from its environment (read here only).
 *
 *   TABLE_NAME         the approvals table (pk, sk)
 *   DECIDE_URL         where decision links point: the decide function's URL
 *   LINK_KEY_ID        the KMS HMAC_256 key that signs links (id, ARN or alias)
 *   SLACK_SECRET_ARN   optional: Secrets Manager secret {botToken, signingSecret} or {webhookUrl}
 *   SLACK_CHANNEL      optional: post to this channel; without it, a DM to each approver's Slack id
 *   SLACK_API_URL      Slack's Web API base (default https://slack.com/api; tests use a local server)
 *   SES_SENDER         optional: the SES From address (a verified identity); without it, no e-mail
 *   LOG_LEVEL          debug | info | warn | error (default info)
 * At least one of SLACK_SECRET_ARN and SES_SENDER is required.
 */
const schema = z
  .object({
    TABLE_NAME: z.string().min(3),
    DECIDE_URL: serviceUrl,
    LINK_KEY_ID: z.string().min(1),
    SLACK_SECRET_ARN: z.string().min(1).optional(),
    SLACK_CHANNEL: z.string().min(1).optional(),
    SLACK_API_URL: serviceUrl.default('https://slack.com/api'),
    SES_SENDER: z.string().min(3).optional(),
    LOG_LEVEL: logLevel,
  })
  .refine((env) => env.SLACK_SECRET_ARN !== undefined || env.SES_SENDER !== undefined, {
    message: 'set SLACK_SECRET_ARN or SES_SENDER (or both): approvers must be reachable',
    path: ['SLACK_SECRET_ARN'],
  })
  .transform(
    (env): NotifyConfig => ({
      table: env.TABLE_NAME,
      linkBase: env.DECIDE_URL,
      linkKeyId: env.LINK_KEY_ID,
      slackSecretId: env.SLACK_SECRET_ARN,
      slackChannel: env.SLACK_CHANNEL,
      slackApiUrl: env.SLACK_API_URL,
      emailFrom: env.SES_SENDER,
      logLevel: env.LOG_LEVEL,
    }),
  );

export interface NotifyConfig {
  readonly table: string;
  readonly linkBase: string;
  readonly linkKeyId: string;
  readonly slackSecretId?: string | undefined;
  readonly slackChannel?: string | undefined;
  readonly slackApiUrl: string;
  readonly emailFrom?: string | undefined;
  readonly logLevel: LogLevel;
}

export function loadNotifyConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
): Readonly<NotifyConfig> {
  return parseEnvironment(schema, env);
}
