import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { GenerateMacCommand, KMSClient, KMSInvalidMacException, VerifyMacCommand } from '@aws-sdk/client-kms';
import { SendTaskSuccessCommand, SFNClient, TaskTimedOut } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import type { ApprovalRequest } from '../../core/approval/approval';
import { requestItems } from '../../core/approval/approval-items';
import { hmacLinkMac } from '../../core/approval/approval-link';
import type { ApprovalTable } from '../../functions/shared/approval-table';
import type { TestDynamoDb } from '../support/dynalite';

/** The key the mocked KMS signs links with; tests make links with the same key through a local HMAC. */
export const LINK_KEY = Buffer.from('gatehouse-test-link-key-0123456789abcdef', 'utf8');
export const localMac = hmacLinkMac(LINK_KEY);
export const LINK_BASE = 'https://approve.example.test';

export const nowMicros = (): number => Date.now() * 1000;

/**
 * A request asking alice, bob, carol and dave, where carol is the human behind the job (excluded) and
 * dave has no contact; alice and bob have e-mail and Slack.
 */
export function sampleRequest(overrides: Partial<ApprovalRequest> = {}): ApprovalRequest {
  const requested = nowMicros();
  return {
    id: `apr-${randomBytes(6).toString('hex')}`,
    binding: randomBytes(32).toString('hex'),
    requested,
    expires: requested + 15 * 60 * 1_000_000,
    issuer: 'https://token.actions.githubusercontent.com',
    subject: 'repo:acme/app:ref:refs/heads/main',
    database: 'prod',
    grant: 'migrations',
    rule: 'drops-need-a-dba',
    reason: 'dropping a table needs a DBA',
    text: 'DROP TABLE public.sessions',
    approvers: ['alice', 'bob', 'carol', 'dave'],
    contacts: {
      alice: { email: 'alice@example.com', slack: 'U0ALICE' },
      bob: { email: 'bob@example.com', slack: 'U0BOB' },
      carol: { email: 'carol@example.com', slack: 'U0CAROL' },
    },
    needed: 1,
    coverage: { kind: 'once' },
    excluded: ['carol'],
    ...overrides,
  };
}

/** Writes the request as the gateway does (request item and binding entry). */
export async function seedRequest(table: ApprovalTable, request: ApprovalRequest): Promise<void> {
  for (const item of requestItems(request)) await table.putOnce(item);
}

/** Every item of a request's partition, every attribute, in key order: a before/after snapshot. */
export async function partition(db: TestDynamoDb, table: string, requestId: string): Promise<string> {
  const page = await db.client.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': { S: `request#${requestId}` } },
      ConsistentRead: true,
    }),
  );
  return JSON.stringify(page.Items ?? []);
}

/** KMS GenerateMac/VerifyMac as the service answers, over LINK_KEY (a wrong MAC is an exception). */
export function fakeKms() {
  const kms = mockClient(KMSClient);
  const mac = (message: Uint8Array | undefined) =>
    createHmac('sha256', LINK_KEY)
      .update(message ?? new Uint8Array())
      .digest();
  kms.on(GenerateMacCommand).callsFake((input: { Message?: Uint8Array; MacAlgorithm?: string }) => {
    if (input.MacAlgorithm !== 'HMAC_SHA_256') throw new Error('unexpected MAC algorithm');
    return { Mac: mac(input.Message), MacAlgorithm: 'HMAC_SHA_256' };
  });
  kms.on(VerifyMacCommand).callsFake((input: { Message?: Uint8Array; Mac?: Uint8Array }) => {
    if (!input.Mac || !mac(input.Message).equals(Buffer.from(input.Mac)))
      throw new KMSInvalidMacException({ message: 'invalid MAC', $metadata: {} });
    return { MacValid: true };
  });
  return kms;
}

/**
 * SendTaskSuccess as Step Functions answers: a task takes one answer; after that it is closed.
 * `failNext` makes the next call fail with the given error (a throttle, a timed-out task).
 */
export function fakeStepFunctions() {
  const sfn = mockClient(SFNClient);
  const closed = new Set<string>();
  const failures: Error[] = [];
  sfn.on(SendTaskSuccessCommand).callsFake((input: { taskToken?: string }) => {
    const failure = failures.shift();
    if (failure) throw failure;
    const token = input.taskToken ?? '';
    if (closed.has(token))
      throw new TaskTimedOut({ message: 'Task Timed Out: the task has already been closed', $metadata: {} });
    closed.add(token);
    return {};
  });
  return { sfn, failNext: (error: Error) => failures.push(error) };
}

/** A Lambda function URL event (payload format 2.0). */
export function functionUrlEvent(options: {
  method: string;
  path: string;
  query?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  base64?: boolean;
}): unknown {
  const body = options.body === undefined ? undefined : Buffer.from(options.body);
  return {
    version: '2.0',
    rawPath: options.path,
    rawQueryString: options.query ?? '',
    headers: options.headers ?? {},
    requestContext: {
      http: { method: options.method, path: options.path, userAgent: options.headers?.['user-agent'] },
    },
    ...(body ? { body: options.base64 ? body.toString('base64') : body.toString('utf8') } : {}),
    isBase64Encoded: options.base64 ?? false,
  };
}

/** A form POST of the confirmation page's fields. */
export function formEvent(link: string, fields: Record<string, string>): unknown {
  const url = new URL(link);
  const form = new URLSearchParams({
    as: url.searchParams.get('as') ?? '',
    e: url.searchParams.get('e') ?? '',
    sig: url.searchParams.get('sig') ?? '',
    ...fields,
  });
  return functionUrlEvent({
    method: 'POST',
    path: url.pathname,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
  });
}

export function getEvent(link: string, headers: Record<string, string> = {}): unknown {
  const url = new URL(link);
  return functionUrlEvent({ method: 'GET', path: url.pathname, query: url.search.slice(1), headers });
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** An HTTP server on loopback that records what it is sent (Slack's Web API, a webhook, a response_url). */
export async function recordingServer(
  answer: (request: RecordedRequest) => { status: number; body: string } = () => ({
    status: 200,
    body: '{"ok":true}',
  }),
): Promise<{ url: string; requests: RecordedRequest[]; close(): Promise<void> }> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const recorded = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(recorded);
      const { status, body } = answer(recorded);
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Log lines, to check what reaches the logs. */
export function capturedLog(): { lines: string[]; write: (line: string) => void } {
  const lines: string[] = [];
  return { lines, write: (line) => lines.push(line) };
}
