import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import type { Manifest, ManifestEntry } from '../../../core/evidence/evidence-package';
import { MANIFEST_FILE, manifestEntry, safePackagePath } from '../../../core/evidence/manifest';

export class PackageExistsError extends Error {
  override readonly name = 'PackageExistsError';
}

function writeDurably(file: string, content: Buffer): void {
  const fd = openSync(file, 'wx', 0o644);
  try {
    let offset = 0;
    while (offset < content.length) offset += writeSync(fd, content, offset, content.length - offset);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function fsyncDirectory(directory: string): void {
  const fd = openSync(directory, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Whether an existing path may be replaced by --force: an empty directory or an evidence package. */
function replaceable(out: string): boolean {
  const stat = lstatSync(out);
  if (!stat.isDirectory()) return false;
  const names = readdirSync(out);
  return names.length === 0 || names.includes(MANIFEST_FILE);
}

export interface WritePackageOptions {
  /** Replace an existing package (or empty directory) at `out`. */
  readonly force?: boolean;
  /** Told after each file is written (files written so far, of how many). */
  readonly onFile?: (written: number, total: number, file: string) => void;
}

/**
 * Writes a package atomically: every file into a fresh directory beside `out` (each fsynced), then
 * the manifest, made by `manifest` from the files' entries, last; the directories are fsynced and the
 * directory renamed to `out`. A reader sees no package or a whole one. An existing `out` is refused
 * unless `force` (and then only an empty directory or an earlier package is replaced: moved aside,
 * replaced by the rename, then removed). On any failure the temporary directory is removed.
 */
export async function writePackage(
  out: string,
  files: readonly { readonly path: string; readonly content: Buffer }[],
  manifest: (entries: readonly ManifestEntry[]) => Promise<Manifest>,
  options: WritePackageOptions = {},
): Promise<{ directory: string; manifest: Manifest }> {
  const target = path.resolve(out);
  const parent = path.dirname(target);
  const exists = existsSync(target);
  if (exists && !options.force) throw new PackageExistsError(`${target} exists (--force replaces a package)`);
  if (exists && !replaceable(target))
    throw new PackageExistsError(
      `${target} exists and is neither empty nor an evidence package: not replaced`,
    );
  mkdirSync(parent, { recursive: true });
  const temporary = mkdtempSync(path.join(parent, `.${path.basename(target)}.partial-`));
  let aside: string | undefined;
  try {
    const directories = new Set<string>([temporary]);
    const entries: ManifestEntry[] = [];
    let written = 0;
    const total = files.length + 1;
    for (const file of files) {
      if (!safePackagePath(file.path) || file.path === MANIFEST_FILE)
        throw new Error(`not a package file name: ${file.path}`);
      const destination = path.join(temporary, ...file.path.split('/'));
      const directory = path.dirname(destination);
      if (!directories.has(directory)) {
        mkdirSync(directory, { recursive: true });
        directories.add(directory);
      }
      writeDurably(destination, file.content);
      entries.push(manifestEntry(file.path, file.content));
      options.onFile?.(++written, total, file.path);
    }
    const signed = await manifest(entries);
    writeDurably(path.join(temporary, MANIFEST_FILE), Buffer.from(`${JSON.stringify(signed, null, 2)}\n`));
    options.onFile?.(++written, total, MANIFEST_FILE);
    for (const directory of [...directories].sort((a, b) => b.length - a.length)) fsyncDirectory(directory);
    if (exists) {
      aside = path.join(parent, `.${path.basename(target)}.replaced-${randomBytes(4).toString('hex')}`);
      renameSync(target, aside);
    }
    renameSync(temporary, target);
    fsyncDirectory(parent);
    if (aside) rmSync(aside, { recursive: true, force: true });
    return { directory: target, manifest: signed };
  } catch (error) {
    rmSync(temporary, { recursive: true, force: true });
    // The earlier package goes back where it was if the new one did not take its place.
    if (aside && !existsSync(target)) renameSync(aside, target);
    throw error;
  }
}

/** Every file under a package directory, as `/`-separated paths relative to it. */
export function packageContents(directory: string): string[] {
  const found: string[] = [];
  const walk = (relative: string) => {
    for (const entry of readdirSync(path.join(directory, relative), { withFileTypes: true })) {
      const name = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) walk(name);
      else found.push(name);
    }
  };
  walk('');
  return found.sort();
}

/** A package file's bytes, or undefined when it is not there (or not a regular file). */
export function readPackageFile(directory: string, file: string): Buffer | undefined {
  if (!safePackagePath(file)) return undefined;
  const full = path.join(directory, ...file.split('/'));
  try {
    if (!lstatSync(full).isFile()) return undefined;
    return readFileSync(full);
  } catch {
    return undefined;
  }
}
