import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testUpstream } from './environment';
import { baseTestConfig, type ConfigOverrides } from './gateway';

const CLI = path.join(__dirname, '..', '..', 'dist', 'bin', 'gatehouse.js');

export interface GatewayChild {
  port: number;
  healthPort: number;
  child: ChildProcess;
  output: () => string;
  /** Sends SIGTERM and resolves with the exit code. */
  terminate(): Promise<number | null>;
}

/**
 * Runs the built gateway (`gatehouse serve`) as its own process with worker processes, the way a
 * container runs it. Needs `npm run build` first (npm test does it).
 */
export async function spawnGateway(overrides: ConfigOverrides): Promise<GatewayChild> {
  const config = baseTestConfig({ workers: 2, logLevel: 'info', ...overrides });
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'gh-config-')), 'gateway.json');
  writeFileSync(file, JSON.stringify(config));
  const child = spawn(process.execPath, [CLI, 'serve'], {
    env: {
      ...process.env,
      GATEHOUSE_CONFIG_FILE: file,
      GATEHOUSE_UPSTREAM_PASSWORD: testUpstream().password,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const listening = await new Promise<{ port: number; healthPort: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${output}`)), 20_000);
    const check = () => {
      const line = output.split('\n').find((l) => l.includes('"gateway listening"'));
      if (!line) return;
      clearTimeout(timer);
      const record = JSON.parse(line) as { port: number; healthPort: number };
      resolve({ port: record.port, healthPort: record.healthPort });
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => reject(new Error(`gateway exited (${code}):\n${output}`)));
  });
  return {
    ...listening,
    child,
    output: () => output,
    terminate: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill('SIGTERM');
      }),
  };
}
