import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/**
 * Finds an executable on PATH or in `extraDirs`. Debian installs pgbouncer in /usr/sbin, which is not on
 * every user's PATH, so callers name the directories where the packages put their binaries.
 */
export function findExecutable(name: string, extraDirs: readonly string[] = []): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), ...extraDirs].filter((dir) => dir !== '');
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here: try the next directory
    }
  }
  return undefined;
}

/** Like findExecutable, but a missing tool stops the benchmark: a comparison row must never vanish silently. */
export function requireExecutable(
  name: string,
  installHint: string,
  extraDirs: readonly string[] = [],
): string {
  const found = findExecutable(name, extraDirs);
  if (!found)
    throw new Error(
      `${name} was not found on PATH or in ${extraDirs.join(', ') || '(no extra dirs)'}: ${installHint}`,
    );
  return found;
}
