import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCommand } from '../support/run-command';

const CLI = path.join(__dirname, '..', '..', 'dist', 'bin', 'gatehouse.js');
const DEMO = path.join(__dirname, '..', '..', 'local', 'demo-policy.yaml');

function gatehouse(...args: string[]) {
  return runCommand(process.execPath, [CLI, ...args], { env: process.env });
}

function file(content: string): string {
  const target = path.join(mkdtempSync(path.join(os.tmpdir(), 'gh-policy-')), 'policy.yaml');
  writeFileSync(target, content);
  return target;
}

describe('gatehouse policy', () => {
  it('check validates a file, and names file:line:column of each problem', async () => {
    await expect(gatehouse('policy', 'check', DEMO)).resolves.toMatchObject({
      code: 0,
      stdout: expect.stringContaining('valid'),
    });
    const bad = file('version: 1\ngrants:\n  - name: x\n    to: [a]\n    readOnly: perhaps\n');
    const outcome = await gatehouse('policy', 'check', bad);
    expect(outcome.code).toBe(1);
    expect(outcome.stdout).toBe(`${bad}:5:15: Expected boolean, received string\n`);
  });

  it('check warns about an approval rule its grant makes unreachable (approval rules only narrow)', async () => {
    const narrowed = file(`version: 1
identities:
  job: { issuer: local, claims: { sub: job } }
approvers:
  alice: { email: alice@example.com }
grants:
  - name: readers
    to: [job]
    allow: [read]
    rules:
      - name: ddl-needs-a-dba
        decision: approve
        when: { classes: [ddl] }
        approval: { approvers: [alice] }
`);
    const outcome = await gatehouse('policy', 'check', narrowed);
    expect(outcome.code).toBe(0);
    expect(outcome.stdout).toContain(
      'warning: grant "readers", rule "ddl-needs-a-dba" can never send a statement for approval: the grant allows none of its classes (ddl)',
    );
    // The demo policy has nothing to warn about.
    expect((await gatehouse('policy', 'check', DEMO)).stdout).not.toContain('warning');
  });

  it('explain prints the decision, the grant and rule, and the analysis', async () => {
    const outcome = await gatehouse(
      'policy',
      'explain',
      DEMO,
      '--claims',
      '{"sub":"demo-ci","repository":"example/demo"}',
      '--database',
      'demo',
      '--sql',
      'WITH gone AS (DELETE FROM customers RETURNING id) SELECT count(*) FROM gone',
    );
    expect(outcome.code).toBe(3);
    expect(outcome.stdout).toContain('decision: deny');
    expect(outcome.stdout).toContain('grant:    read-only');
    expect(outcome.stdout).toContain('rule:     statement-classes');
    expect(outcome.stdout).toContain('SELECT (write); writes customers');
    const allowed = await gatehouse(
      'policy',
      'explain',
      DEMO,
      '--claims',
      '{"sub":"my-job"}',
      '--database',
      'demo',
      '--sql',
      'SELECT 1',
      '--json',
    );
    expect(allowed.code).toBe(0);
    expect(JSON.parse(allowed.stdout)).toMatchObject({
      outcome: 'allow',
      grant: 'read-only',
      identities: ['local-jobs'],
    });
  });

  it('test runs the cases in the file and fails when one does not hold', async () => {
    await expect(gatehouse('policy', 'test', DEMO)).resolves.toMatchObject({
      code: 0,
      stdout: expect.stringContaining('3 passed, 0 failed'),
    });
    const failing = file(`version: 1
identities: { job: { issuer: local, claims: { sub: job } } }
grants: [{ name: g, to: [job], allow: [read], relations: { read: [public.*] } }]
tests:
  - { name: reads, identity: { issuer: local, claims: { sub: job } }, database: d, sql: SELECT * FROM t, expect: allow }
  - { name: wrongly expected, identity: { issuer: local, claims: { sub: job } }, database: d, sql: DROP TABLE t, expect: allow }
`);
    const outcome = await gatehouse('policy', 'test', failing);
    expect(outcome.code).toBe(1);
    expect(outcome.stdout).toContain('ok    reads: allow');
    expect(outcome.stdout).toContain(
      'FAIL  wrongly expected: expected allow, got deny (rule statement-classes',
    );
    expect(outcome.stdout).toContain('1 passed, 1 failed');
  });
});
