import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { LinkMac } from '../../core/approval/approval-link';
import { resultPage } from '../../core/approval/approval-pages';
import { type ApprovalStore, ApprovalTable } from '../shared/approval-table';
import { KmsLinkMac } from '../shared/kms-link-mac';
import { createLogger, type Logger } from '../shared/logger';
import { SecretsManagerSlackSecret, type SlackSecretSource } from '../shared/slack-secret';
import { type DecideConfig, loadDecideConfig } from './config';
import { type HttpResponse, htmlResponse, parseFunctionUrlEvent, textResponse } from './http';
import { decideByLink, type LinkRouteDependencies, showLink } from './link-routes';
import { type SlackRouteDependencies, slackAction } from './slack-route';
import { StepFunctionsCallback, type TaskCallback } from './task-callback';

/**
 * The DECIDE Lambda behind a function URL (public: Slack and mail readers reach it from anywhere; each
 * request authenticates itself by a Slack signature or a link MAC).
 *
 *   GET  /a/{id}?as&e&sig   the confirmation page; changes nothing
 *   POST /a/{id}            the page's form: as, e, sig, verdict=approve|deny
 *   POST /slack             Slack interactivity (block_actions)
 */

export interface DecideHandlerOptions {
  readonly config?: DecideConfig;
  readonly store?: ApprovalStore;
  readonly mac?: LinkMac;
  readonly tasks?: TaskCallback;
  readonly slackSecret?: SlackSecretSource;
  readonly fetch?: typeof fetch;
  /** Microseconds since the epoch. */
  readonly now?: () => number;
  readonly logger?: Logger;
}

type Ready = LinkRouteDependencies & SlackRouteDependencies;

/** Built on the first invocation, not at import: importing the module reads no environment. */
function build(options: DecideHandlerOptions): Ready {
  const config = options.config ?? loadDecideConfig();
  const slackSecret =
    options.slackSecret ??
    (config.slackSecretId ? new SecretsManagerSlackSecret(config.slackSecretId) : undefined);
  return {
    store: options.store ?? new ApprovalTable(new DynamoDBClient({}), config.table),
    mac: options.mac ?? new KmsLinkMac(config.linkKeyId),
    tasks: options.tasks ?? new StepFunctionsCallback(),
    ...(slackSecret ? { slackSecret } : {}),
    ...(config.slackTeamId ? { teamId: config.slackTeamId } : {}),
    responseUrlPrefix: config.slackResponseUrlPrefix,
    fetch: options.fetch ?? fetch,
    now: options.now ?? (() => Date.now() * 1000),
    logger: options.logger ?? createLogger(config.logLevel, { function: 'approval-decide' }),
  };
}

export function createDecideHandler(
  options: DecideHandlerOptions = {},
): (event: unknown, context?: { awsRequestId?: string }) => Promise<HttpResponse> {
  let ready: Ready | undefined;
  return async (event, context) => {
    ready ??= build(options);
    const deps = { ...ready, logger: ready.logger.child({ awsRequestId: context?.awsRequestId }) };
    const request = parseFunctionUrlEvent(event);
    if (!request) return textResponse(400, 'bad request');
    try {
      const link = /^\/a\/([^/]+)$/.exec(request.path);
      if (link?.[1] !== undefined) {
        const requestId = safeDecode(link[1]);
        if (request.method === 'GET' || request.method === 'HEAD')
          return await showLink(deps, request, requestId);
        if (request.method === 'POST') return await decideByLink(deps, request, requestId);
        return textResponse(405, 'method not allowed', { allow: 'GET, HEAD, POST' });
      }
      if (request.path === '/slack') {
        if (request.method === 'POST') return await slackAction(deps, request);
        return textResponse(405, 'method not allowed', { allow: 'POST' });
      }
      return textResponse(404, 'not found');
    } catch (error) {
      // The client learns nothing about the failure; the log has its name and message (no secrets).
      deps.logger.error('request failed', { method: request.method, path: request.path, error });
      return htmlResponse(
        500,
        resultPage({
          tone: 'error',
          title: 'Something went wrong',
          message:
            'Your decision may not have been recorded. Open the link again to see where the request stands.',
        }),
      );
    }
  };
}

/** A malformed escape is not an id; the link check refuses it by shape. */
function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return '';
  }
}

export const handler = createDecideHandler();
