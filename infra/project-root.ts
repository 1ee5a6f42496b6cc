import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * The repository root: the nearest directory above `from` holding package-lock.json. (Not
 * package.json: the compiled tree in dist/ carries a copy of it, and the app runs from there.)
 */
export function projectRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package-lock.json'))) return dir;
    if (path.dirname(dir) === dir)
      throw new Error(`no package-lock.json above ${from}: run from the repository`);
  }
}

/** The repository root, where package-lock.json is: esbuild resolves modules from here. */
export const PROJECT_ROOT = projectRoot();
