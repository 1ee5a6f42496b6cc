import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DynamoDbSessionRegistry } from '../../../fargate-proxy/src/sessions/dynamodb-session-registry';
import { LocalSessionRegistry } from '../../../fargate-proxy/src/sessions/local-session-registry';
import type { LiveSession, SessionRegistry } from '../../../fargate-proxy/src/sessions/session-registry';
import { startDynalite, type TestDynamoDb } from '../../support/dynalite';

function session(id: string, writer: string, overrides: Partial<LiveSession> = {}): LiveSession {
  return {
    id,
    writer,
    pid: 42,
    issuer: 'https://token.actions.githubusercontent.com',
    subject: `subject-${id}`,
    database: 'orders',
    grant: 'ci',
    address: '10.0.0.7',
    started: Date.now() - 1000,
    statements: 3,
    bytesIn: 100,
    bytesOut: 200,
    updated: Date.now(),
    ...overrides,
  };
}

let dynamo: TestDynamoDb;
beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.stop();
});

const registries: [string, () => Promise<SessionRegistry>][] = [
  ['a directory', async () => new LocalSessionRegistry(mkdtempSync(path.join(os.tmpdir(), 'gh-registry-')))],
  ['DynamoDB (dynalite)', async () => new DynamoDbSessionRegistry(dynamo.client, await dynamo.createTable())],
];

describe.each(registries)('the session registry in %s', (_name, open) => {
  it('lists what every writer published last, and forgets what a writer no longer has', async () => {
    const registry = await open();
    const many = Array.from({ length: 60 }, (_, i) => session(`a-${i}`, 'host-w0'));
    await registry.publish('host-w0', many);
    await registry.publish('host-w1', [session('b-1', 'host-w1')]);
    expect((await registry.list(60_000)).map((s) => s.id).sort()).toEqual(
      [...many.map((s) => s.id), 'b-1'].sort(),
    );
    await registry.publish('host-w0', many.slice(0, 2));
    const listed = await registry.list(60_000);
    expect(listed.map((s) => s.id).sort()).toEqual(['a-0', 'a-1', 'b-1']);
    expect(listed.find((s) => s.id === 'b-1')).toEqual(
      session('b-1', 'host-w1', {
        updated: listed.find((s) => s.id === 'b-1')!.updated,
        started: listed.find((s) => s.id === 'b-1')!.started,
      }),
    );
  });

  it('hides sessions a writer has not refreshed within the freshness window (a dead process)', async () => {
    const registry = await open();
    await registry.publish('host-w0', [session('old', 'host-w0', { updated: Date.now() - 60_000 })]);
    await registry.publish('host-w1', [session('new', 'host-w1')]);
    expect((await registry.list(10_000)).map((s) => s.id)).toEqual(['new']);
  });

  it('keeps kill requests, and returns those after a time, oldest first', async () => {
    const registry = await open();
    const first = await registry.requestKill({ session: 'x' }, 'alice');
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = await registry.requestKill({ subject: 'repo:example/app', issuer: 'github' }, 'bob');
    expect(first).toMatchObject({
      session: 'x',
      requestedBy: 'alice',
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect(await registry.killRequestsSince(first.time - 1)).toEqual([first, second]);
    expect(await registry.killRequestsSince(first.time)).toEqual([second]);
    expect(await registry.killRequestsSince(second.time)).toEqual([]);
  });
});
