import path from 'node:path';
import { runCommand } from '../support/run-command';

const DIST = path.join(__dirname, '..', '..', 'dist');

describe('npm run bench:relay', () => {
  it('runs two builds (here the same one twice) through the relay and policy, and prints their ratio', async () => {
    const outcome = await runCommand(
      process.execPath,
      ['--expose-gc', path.join(DIST, 'bench', 'relay-ab.js'), DIST],
      {
        env: { ...process.env, RELAY_AB_SLICES: '3', RELAY_AB_TRANSACTIONS: '300' },
      },
    );
    expect(outcome.code).toBe(0);
    const lines = outcome.stdout.trim().split('\n');
    expect(lines.map((line) => line.split(/\s+/)[0])).toEqual(['simple', 'prepared']);
    for (const line of lines) {
      expect(line).toMatch(
        /this \d+ ns\/txn, other \d+ ns\/txn, this\/other \d+\.\d{3} \(median of 3 paired slices/,
      );
    }
  });

  it('says how to use it when no other build is named', async () => {
    const outcome = await runCommand(process.execPath, [path.join(DIST, 'bench', 'relay-ab.js')], {
      env: process.env,
    });
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toMatch(/usage: npm run bench:relay -- OTHER_DIST/);
  });
});
