export { freePort } from '../../local/free-port';

import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';

/** A failure of the compat harness itself (not of a suite): printed as is, exit status 2. */
export class SetupError extends Error {
  override readonly name = 'SetupError';
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** The whole process group is killed after this long. */
  timeoutMs?: number;
  /** Also append everything the command prints to this file. */
  logFile?: string;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  seconds: number;
}

const running = new Set<ChildProcess>();

/** Kills the process group of every command still running (on Ctrl-C or a fatal error). */
export function killRunningCommands(): void {
  for (const child of running) {
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  running.clear();
}

/** Runs a command in its own process group and collects its output. */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    running.add(child);
    const log = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      log?.write(chunk);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      log?.write(chunk);
    });
    let timedOut = false;
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            if (child.pid !== undefined) {
              try {
                process.kill(-child.pid, 'SIGKILL');
              } catch {
                // already gone
              }
            }
          }, options.timeoutMs);
    child.once('error', (error) => {
      running.delete(child);
      if (timer) clearTimeout(timer);
      log?.end();
      reject(new SetupError(`cannot run ${command}: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      running.delete(child);
      if (timer) clearTimeout(timer);
      log?.end();
      resolve({ code, signal, stdout, stderr, timedOut, seconds: (performance.now() - started) / 1000 });
    });
  });
}

/** Runs a command that must succeed; the error carries its output. */
export async function runChecked(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    const output = `${result.stdout}${result.stderr}`.trim().split('\n').slice(-15).join('\n');
    const why = result.timedOut ? 'timed out' : `exited with ${result.code ?? result.signal}`;
    throw new SetupError(`${command} ${args.join(' ')} ${why}${output ? `:\n${output}` : ''}`);
  }
  return result;
}

/** The process environment without any libpq variable, so the suites see only what we set. */
export function cleanEnvironment(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('PG')) env[name] = value;
  return { ...env, ...extra };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
