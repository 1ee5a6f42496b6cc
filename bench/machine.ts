import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** What the numbers were measured on; a result without its machine cannot be compared with another. */
export interface Machine {
  cpu: string;
  cores: number;
  kernel: string;
  node: string;
  postgres: string;
  pgbouncer: string;
  pgbench: string;
}

export function cpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match?.[1]) return match[1].trim();
  } catch {
    // not Linux: fall back to what Node knows
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

export function toolVersion(binary: string): string {
  return (execFileSync(binary, ['--version']).toString().split('\n')[0] ?? '').trim();
}

export function describeMachine(versions: { postgres: string; pgbouncer: string; pgbench: string }): Machine {
  return {
    cpu: cpuModel(),
    cores: os.availableParallelism(),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    ...versions,
  };
}
