/**
 * The few packages a bundle cannot hold (native modules, found by their own loaders in
 * node_modules/<name>/build/Release) are copied beside it with their production dependencies:
 * package.json, JavaScript and licences only, never their C sources, object files or other
 * platforms' prebuilds.
 */
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';

/** Needed to build a native module, not to load it. */
const BUILD_ONLY = new Set(['prebuild-install', 'node-addon-api', 'node-gyp', 'nan']);
/** Top-level folders no package runs from. */
const NEVER = new Set(['node_modules', 'test', 'tests', 'docs', '.github']);
/** …and those of a native module (one with a binding.gyp): its C sources and build products; the loadable build is put in separately. */
const NATIVE_SOURCES = new Set(['src', 'deps', 'build', 'prebuilds']);

interface PackageJson {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
}

function readPackage(dir: string): PackageJson {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
}

/** Where node would find `name` from a package in `fromDir` (its nested node_modules first, then upwards to root). */
function resolvePackageDir(name: string, fromDir: string, root: string): string {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === root || dirname(dir) === dir) break;
  }
  throw new Error(`EDGE_RELEASE_PACKAGE: ${name} (needed by ${relative(root, fromDir) || 'the agent'}) is not installed: run npm ci`);
}

/**
 * Copies package `name` (as installed under root/node_modules) and its production dependencies
 * to destRoot/node_modules, keeping node's lookup layout (nested copies stay nested).
 */
export function copyPackageTree(root: string, name: string, destRoot: string): void {
  const seen = new Set<string>();
  const visit = (pkgDir: string) => {
    if (seen.has(pkgDir)) return;
    seen.add(pkgDir);
    const dest = join(destRoot, relative(root, pkgDir));
    const native = existsSync(join(pkgDir, 'binding.gyp'));
    cpSync(pkgDir, dest, {
      recursive: true,
      filter: (p) => {
        const rel = relative(pkgDir, p);
        const top = rel.split(sep)[0] ?? '';
        // nested node_modules are visited as packages of their own, when something needs them
        if (rel === '') return true;
        if (NEVER.has(top) || /\.(md|d\.ts|map)$/.test(rel)) return false;
        return !native || (!NATIVE_SOURCES.has(top) && !/\.(gyp|gypi)$/.test(rel));
      },
    });
    for (const dep of Object.keys(readPackage(pkgDir).dependencies ?? {})) {
      if (!BUILD_ONLY.has(dep)) visit(resolvePackageDir(dep, pkgDir, root));
    }
  };
  visit(resolvePackageDir(name, root, root));
}

/** The installed version of a package (for names and cache keys). */
export function installedVersion(root: string, name: string): string {
  return readPackage(join(root, 'node_modules', name)).version;
}
