import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time and resident memory of a process and its descendants, read from /proc. The gateway runs as a
 * primary plus cluster workers, so its cost is the sum over the whole tree, not the pid we spawned.
 */

/** Kernel clock ticks per second: the unit of utime and stime in /proc/<pid>/stat (almost always 100). */
export const CLOCK_TICKS = readClockTicks();

function readClockTicks(): number {
  try {
    const ticks = Number(
      execFileSync('getconf', ['CLK_TCK'], { stdio: ['ignore', 'pipe', 'ignore'] })
        .toString()
        .trim(),
    );
    if (ticks > 0) return ticks;
  } catch {
    // getconf missing: fall through to the Linux default
  }
  return 100;
}

interface Stat {
  ppid: number;
  /** utime + stime, in clock ticks. */
  ticks: number;
}

function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // exited meanwhile
  }
  // The command name (field 2) may hold spaces and parentheses; the fields after its last ')' are fixed.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state), so ppid (field 4) is rest[1], utime (14) rest[11], stime (15) rest[12].
  return { ppid: Number(rest[1]), ticks: Number(rest[11]) + Number(rest[12]) };
}

/**
 * `root` and all its live descendants. /proc/<pid>/task/<tid>/children needs CONFIG_PROC_CHILDREN, which
 * not every kernel has (this machine's does not), so the parent links are read from every /proc/<pid>/stat.
 */
export function processTree(root: number): number[] {
  const childrenOf = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (!stat) continue;
    const siblings = childrenOf.get(stat.ppid);
    if (siblings) siblings.push(Number(entry));
    else childrenOf.set(stat.ppid, [Number(entry)]);
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(childrenOf.get(tree[i]!) ?? []));
  return tree;
}

/** CPU ticks used so far by each process of the tree, by pid. */
export type CpuSnapshot = Map<number, number>;

export function cpuSnapshot(root: number): CpuSnapshot {
  const snapshot: CpuSnapshot = new Map();
  for (const pid of processTree(root)) {
    const stat = readStat(pid);
    if (stat) snapshot.set(pid, stat.ticks);
  }
  return snapshot;
}

export interface CpuUsage {
  /** CPU time (user + system) spent by the tree between the snapshots, in microseconds. */
  micros: number;
  /** Processes of the first snapshot gone by the second: their last ticks are lost, so the figure is low. */
  lostProcesses: number;
}

export function cpuBetween(before: CpuSnapshot, after: CpuSnapshot): CpuUsage {
  let ticks = 0;
  // A process born between the snapshots counts from zero; that is its whole life, all inside the window.
  for (const [pid, now] of after) ticks += now - (before.get(pid) ?? 0);
  let lostProcesses = 0;
  for (const pid of before.keys()) if (!after.has(pid)) lostProcesses++;
  return { micros: (ticks * 1_000_000) / CLOCK_TICKS, lostProcesses };
}

function rssKb(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** Resident memory of the tree in KiB (VmRSS summed; pages shared between processes count in each). */
export function treeRssKb(root: number): number {
  return processTree(root).reduce((sum, pid) => sum + rssKb(pid), 0);
}
