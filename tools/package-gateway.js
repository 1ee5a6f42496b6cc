#!/usr/bin/env node
// Packages the gateway for its container image: `npm run package:gateway` (or `node tools/package-gateway.js
// [--out DIR]`). fargate-proxy/Dockerfile only copies what this writes; nothing is compiled or installed
// in the image, so the image holds exactly what the artefact test (test/package) ran.
//
// Output, build/gateway/ by default (build/ ignores itself):
//   app/           the CLI and everything it can load, transpiled file by file to CommonJS (the layout of
//                  dist/, which the gateway relies on: it finds worker.js and parse-worker.js beside its own
//                  modules), source maps without sources, a package.json, and node_modules/ holding the
//                  production dependencies the code imports, with their own dependencies, from
//                  package-lock.json. No dev dependency, and not local mode (embedded PostgreSQL, demo data).
//   spool/gatehouse/  an empty directory: the image's /var/spool/gatehouse, owned by the runtime user.
//   artifact.json  what was packaged (sources, packages and versions); also marks the directory as ours.
//
// The artefact must run on any CPU (the image is linux/arm64, the build machine may not be): a native
// addon (*.node) among the packages fails the packaging.
'use strict';
const fs = require('node:fs');
const { isBuiltin } = require('node:module');
const path = require('node:path');
const esbuild = require('esbuild');

const ROOT = path.resolve(__dirname, '..');
const DEFAULT_OUT = path.join(ROOT, 'build', 'gateway');
const MARKER = 'artifact.json';

/**
 * The scripts Node starts: the CLI, and the two the gateway starts by path (primary.ts forks
 * `../worker.js` relative to itself, parse-pool.ts starts `parse-worker.js` beside itself).
 */
const ENTRIES = [
  'bin/gatehouse.ts',
  'fargate-proxy/src/worker.ts',
  'fargate-proxy/src/policy/parse-worker.ts',
];

/**
 * Modules deliberately left out, with why; what only they import is left out with them. Importing one
 * fails only when it happens (`gatehouse local` in the image).
 */
const LEFT_OUT = {
  'local/local-mode.ts':
    'local mode (`gatehouse local`) runs an embedded PostgreSQL (native binaries) with demo data, ' +
    'never in the image; it also imports pg, a dev dependency',
};

/** Node's target: the oldest Node the repository supports (the image runs a newer one). */
const TARGET = 'node20';

class PackagingError extends Error {}

function parseArgs(argv) {
  let out = DEFAULT_OUT;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out' && argv[i + 1]) out = path.resolve(argv[++i]);
    else throw new PackagingError(`unknown argument "${argv[i]}"; usage: package-gateway.js [--out DIR]`);
  }
  return { out };
}

/** The package a bare import names: `@aws-sdk/client-s3/dist/x` → `@aws-sdk/client-s3`. */
function packageName(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Marks the LEFT_OUT modules external, so that neither they nor what only they import is packaged. */
const leaveOut = {
  name: 'leave-out',
  setup(build) {
    build.onResolve({ filter: /^\.\.?\// }, (args) => {
      const target = path.relative(ROOT, path.resolve(args.resolveDir, args.path)).replace(/\.js$/, '.ts');
      return target in LEFT_OUT ? { path: args.path, external: true } : undefined;
    });
  },
};

/** Our sources reachable from the entries, and the packages they import, found by esbuild's resolver. */
async function reachable() {
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: ENTRIES,
    bundle: true,
    write: false, // nothing is written; esbuild still wants a directory for several entries
    outdir: path.join(ROOT, 'build', 'discovery'),
    metafile: true,
    platform: 'node',
    format: 'cjs',
    target: TARGET,
    packages: 'external',
    plugins: [leaveOut],
    logLevel: 'silent',
  });
  const sources = [];
  const packages = new Set();
  for (const [input, info] of Object.entries(result.metafile.inputs)) {
    if (input.endsWith('.ts')) sources.push(input);
    else if (input !== 'package.json')
      throw new PackagingError(`unexpected input ${input}: only .ts sources`);
    for (const imported of info.imports) {
      const bare = !imported.path.startsWith('.');
      if (imported.external && bare && !isBuiltin(imported.path)) packages.add(packageName(imported.path));
    }
  }
  return { sources: sources.sort(), packages: [...packages].sort() };
}

/** Transpiles each source on its own, keeping the repository layout (as tsc does into dist/). */
async function transpile(sources, appDir) {
  await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: sources,
    outbase: ROOT,
    outdir: appDir,
    bundle: false,
    platform: 'node',
    format: 'cjs',
    target: TARGET,
    // `import('./x.js')` becomes require(): the modules are CommonJS, as tsc emits them.
    supported: { 'dynamic-import': false },
    sourcemap: true,
    sourcesContent: false,
    logLevel: 'warning',
  });
}

/** Node's lookup over package-lock.json locations: `<from>/node_modules/<name>`, then each ancestor's. */
function locate(lockPackages, from, name) {
  let base = from;
  for (;;) {
    const candidate = base ? `${base}/node_modules/${name}` : `node_modules/${name}`;
    if (lockPackages[candidate]) return candidate;
    if (!base) return undefined;
    const parent = base.lastIndexOf('/node_modules/');
    base = parent === -1 ? '' : base.slice(0, parent);
  }
}

/** The lock locations of `roots` and everything they depend on at run time (peers included, dev never). */
function closure(lock, roots) {
  const lockPackages = lock.packages;
  const selected = new Map();
  const queue = roots.map((name) => ({ from: '', name, optional: false, by: 'package.json' }));
  while (queue.length > 0) {
    const { from, name, optional, by } = queue.shift();
    const location = locate(lockPackages, from, name);
    const installed = location && fs.existsSync(path.join(ROOT, location, 'package.json'));
    if (!location || !installed) {
      if (optional) continue; // another platform's optional package, not installed here
      throw new PackagingError(`${name} (needed by ${by}) is not installed; run npm ci`);
    }
    if (selected.has(location)) continue;
    const entry = lockPackages[location];
    if (entry.link) throw new PackagingError(`${location} is a link; the artefact copies real packages only`);
    if (entry.dev) throw new PackagingError(`${location} is a dev dependency, needed at run time by ${by}`);
    selected.set(location, entry);
    const peersMeta = entry.peerDependenciesMeta ?? {};
    for (const dep of Object.keys(entry.dependencies ?? {}))
      queue.push({ from: location, name: dep, optional: false, by: location });
    for (const dep of Object.keys(entry.optionalDependencies ?? {}))
      queue.push({ from: location, name: dep, optional: true, by: location });
    for (const dep of Object.keys(entry.peerDependencies ?? {}))
      queue.push({ from: location, name: dep, optional: Boolean(peersMeta[dep]?.optional), by: location });
  }
  return selected;
}

function copyPackage(location, appDir) {
  const source = path.join(ROOT, location);
  const nested = path.join(source, 'node_modules');
  // Nested node_modules are packages of their own in the lock file: copied only if selected.
  fs.cpSync(source, path.join(appDir, location), {
    recursive: true,
    filter: (file) => file !== nested && !file.startsWith(`${nested}${path.sep}`),
  });
}

function nativeAddons(dir) {
  const found = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.node'))
      found.push(path.join(entry.parentPath ?? entry.path, entry.name));
  }
  return found;
}

function directorySize(dir) {
  let bytes = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) bytes += fs.statSync(path.join(entry.parentPath ?? entry.path, entry.name)).size;
  }
  return bytes;
}

/** Empties `out` when it is a previous artefact (or absent); refuses any other directory. */
function prepare(out) {
  if (fs.existsSync(out)) {
    const ours = fs.existsSync(path.join(out, MARKER)) || fs.readdirSync(out).length === 0;
    if (!ours)
      throw new PackagingError(`${out} exists and is not a gateway artefact (no ${MARKER}); not touching it`);
    fs.rmSync(out, { recursive: true, force: true });
  }
  fs.mkdirSync(out, { recursive: true });
  if (out === DEFAULT_OUT)
    fs.writeFileSync(path.join(ROOT, 'build', '.gitignore'), '# npm run package:gateway\n*\n');
}

async function main() {
  const started = Date.now();
  const { out } = parseArgs(process.argv.slice(2));
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8'));
  const production = manifest.dependencies ?? {};

  const { sources, packages: imported } = await reachable();
  for (const name of imported) {
    if (!(name in production))
      throw new PackagingError(`the gateway imports ${name}, which is not in package.json dependencies`);
  }
  const roots = imported;

  prepare(out);
  const appDir = path.join(out, 'app');
  await transpile(sources, appDir);
  const selected = closure(lock, roots);
  for (const location of selected.keys()) copyPackage(location, appDir);
  const addons = nativeAddons(path.join(appDir, 'node_modules'));
  if (addons.length > 0) {
    throw new PackagingError(
      `native addons would tie the artefact to this machine's CPU: ${addons.map((a) => path.relative(out, a)).join(', ')}`,
    );
  }
  const dependencies = Object.fromEntries(roots.map((name) => [name, production[name]]));
  const appManifest = {
    name: manifest.name,
    version: manifest.version,
    description: manifest.description,
    license: manifest.license,
    private: true,
    type: 'commonjs',
    engines: manifest.engines,
    dependencies,
  };
  fs.writeFileSync(path.join(appDir, 'package.json'), `${JSON.stringify(appManifest, null, 2)}\n`);
  fs.mkdirSync(path.join(out, 'spool', 'gatehouse'), { recursive: true, mode: 0o700 });

  const installed = Object.fromEntries(
    [...selected].map(([location, entry]) => [location.replace(/^node_modules\//, ''), entry.version]),
  );
  const record = {
    version: manifest.version,
    entries: ENTRIES,
    target: TARGET,
    sources,
    leftOut: LEFT_OUT,
    packages: installed,
  };
  fs.writeFileSync(path.join(out, MARKER), `${JSON.stringify(record, null, 2)}\n`);
  const mib = (directorySize(appDir) / 1024 / 1024).toFixed(1);
  process.stdout.write(
    `${path.relative(process.cwd(), out) || out}: ${sources.length} modules, ${selected.size} packages, ` +
      `${mib} MiB in ${Date.now() - started} ms\n`,
  );
}

main().catch((error) => {
  process.stderr.write(`package-gateway: ${error instanceof PackagingError ? error.message : error.stack}\n`);
  process.exit(1);
});
