/**
 * The native modules (better-sqlite3, @serialport/bindings-cpp) compiled for each release
 * architecture: x64 with the build machine's gcc, arm64 and armv7l with Debian's cross compilers
 * (gcc-aarch64-linux-gnu, gcc-arm-linux-gnueabihf), always against the headers of the very Node
 * runtime the release carries (node-gyp --nodedir; no download). A compile takes minutes, so each
 * result is cached under a key of everything it depends on; a rebuild with the same versions copies.
 *
 * serialport's own prebuilds are not used: node-gyp-build may pick the wrong one on 32-bit Pi OS
 * (it reads ARM_VERSION), and build/Release, which node-gyp-build tries first, is what we ship.
 */
import { cpSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { ARCHES, type Arch } from './arches.js';
import { elfMachine, exec, log } from './exec.js';
import type { NodeRuntime } from './node-runtime.js';
import { installedVersion } from './package-tree.js';

export interface NativeModule {
  /** the npm package */
  name: string;
  /** what its binding.gyp builds into build/Release */
  file: string;
}

export const NATIVE_MODULES: readonly NativeModule[] = [
  { name: 'better-sqlite3', file: 'better_sqlite3.node' },
  { name: '@serialport/bindings-cpp', file: 'bindings.node' },
];

/** Bump when the recipe changes, so old cache entries are not reused. */
const RECIPE = 1;

export interface NativeBuild {
  arch: Arch;
  /** package name → the built .node file (in the cache) */
  files: Map<string, string>;
}

function cacheKey(root: string, runtime: NodeRuntime): string {
  const mods = NATIVE_MODULES.map((m) => `${m.name.replace('/', '+')}@${installedVersion(root, m.name)}`).join('_');
  return `r${RECIPE}_${runtime.arch}_node-${runtime.version}_${mods}`;
}

/** npm's own node-gyp (npm ships it beside itself); EDGE_NODE_GYP names another. */
function nodeGyp(): string {
  const candidates = [
    process.env.EDGE_NODE_GYP,
    join(dirname(dirname(process.execPath)), 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    '/usr/share/nodejs/node-gyp/bin/node-gyp.js',
  ];
  const found = candidates.find((c): c is string => c !== undefined && existsSync(c));
  if (found === undefined) throw new Error('EDGE_RELEASE_NODE_GYP: node-gyp not found (it comes with npm); set EDGE_NODE_GYP to its bin/node-gyp.js');
  return found;
}

function compilerEnv(arch: Arch, root: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_PATH: join(root, 'node_modules'), JOBS: '2' };
  const cross = ARCHES[arch].cross;
  if (cross === undefined) return env;
  const tool = (t: string) => `${cross}-${t}`;
  try {
    exec(tool('g++'), ['--version']);
  } catch {
    throw new Error(`EDGE_RELEASE_CROSS: ${tool('g++')} is missing: apt-get install g++-${cross} (Debian)`);
  }
  // *_host: gyp builds its host tools (if any) with the build machine's compiler.
  return { ...env, CC: tool('gcc'), CXX: tool('g++'), LINK: tool('g++'), AR: tool('ar'), CC_host: 'gcc', CXX_host: 'g++', LINK_host: 'g++', AR_host: 'ar' };
}

function compile(root: string, mod: NativeModule, runtime: NodeRuntime, work: string): string {
  const src = join(root, 'node_modules', mod.name);
  const dir = join(work, basename(mod.name));
  // The package's sources without what a previous build or npm left (build/, prebuilds/).
  cpSync(src, dir, {
    recursive: true,
    filter: (p) => {
      const rel = relative(src, p);
      return rel !== 'build' && rel !== 'prebuilds';
    },
  });
  const arch = runtime.arch;
  log(`compiling ${mod.name} for linux-${arch} against node ${runtime.version}${ARCHES[arch].cross === undefined ? '' : ` (${ARCHES[arch].cross}-g++)`}`);
  exec('nice', ['-n', '10', process.execPath, nodeGyp(), 'rebuild', '--release', `--arch=${ARCHES[arch].gyp}`, `--nodedir=${runtime.dir}`, '--jobs=2'], {
    cwd: dir,
    env: compilerEnv(arch, root),
  });
  const built = join(dir, 'build', 'Release', mod.file);
  const machine = existsSync(built) ? elfMachine(built) : undefined;
  if (machine !== ARCHES[arch].elfMachine) {
    throw new Error(`EDGE_RELEASE_NATIVE: ${built} is ${machine === undefined ? 'missing or no ELF file' : `for ELF machine 0x${machine.toString(16)}`}, not linux-${arch}`);
  }
  return built;
}

/** The native modules for `runtime.arch`, from the cache or compiled now. */
export function buildNatives(root: string, runtime: NodeRuntime, cacheDir: string): NativeBuild {
  const key = cacheKey(root, runtime);
  const done = join(cacheDir, 'natives', key);
  const files = () => new Map(NATIVE_MODULES.map((m) => [m.name, join(done, m.file)]));
  if (NATIVE_MODULES.every((m) => existsSync(join(done, m.file)))) {
    log(`native modules for linux-${runtime.arch}: cached (${key})`);
    return { arch: runtime.arch, files: files() };
  }
  const work = join(cacheDir, 'natives', `.work-${key}-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    const staged = join(work, 'out');
    mkdirSync(staged);
    for (const mod of NATIVE_MODULES) cpSync(compile(root, mod, runtime, work), join(staged, mod.file));
    // Renamed into place whole: a concurrent or interrupted build never leaves half an entry.
    rmSync(done, { recursive: true, force: true });
    renameSync(staged, done);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { arch: runtime.arch, files: files() };
}
