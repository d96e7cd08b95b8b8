/**
 * `npm run bundle`: the agent as a few JavaScript files in dist-bundle/ (esbuild), instead of
 * dist/ plus about 200 packages in node_modules. Node then reads and compiles one file at start
 * rather than hundreds, which is what a Pi-class box waits for.
 *
 * Code splitting keeps the lazy loading of the sources: what the code imports dynamically today
 * (drivers, sinks, the central link, the broker, prom-client, the commands) stays a chunk of its
 * own, read only by a config or command that uses it. The native modules cannot be bundled; they
 * are copied beside the bundle in node_modules/ (for this machine; release.ts puts in the ones for
 * the target). Next to the code go the files the program reads at run time, in the package
 * layout it looks for (packageRoot(): a package.json named edge-agent).
 */
import { build, type Metafile } from 'esbuild';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cjsNamedExports } from './cjs-named-exports.js';
import { log } from './exec.js';
import { NATIVE_MODULES } from './natives.js';
import { copyPackageTree } from './package-tree.js';
import { zodEnglishOnly } from './zod-english.js';

/** The repository: two levels up from dist/packaging/ or one from packaging/. */
export const ROOT = ((here) => (here.endsWith('/dist') ? dirname(here) : here))(dirname(dirname(fileURLToPath(import.meta.url))));

/** Files the program reads next to itself (see agent/ops/http-static.ts, config/builtin-templates.ts, agent/cli.ts). */
const ASSETS = ['agent/ops/static', 'templates', 'config/demo.yaml', 'config/edge-agent.schema.json'];
/** The chart library the status page serves (agent/ops/http-static.ts resolves it as a package). */
const UPLOT = ['package.json', 'LICENSE', 'dist/uPlot.iife.min.js', 'dist/uPlot.min.css'];
/**
 * Not bundled: native modules (loaded from node_modules by their own loaders) and optional
 * packages the libraries try and do without (pg's pg-native).
 */
const EXTERNAL = [...NATIVE_MODULES.map((m) => m.name), 'pg-native'];

export interface BundleResult {
  dir: string;
  metafile: Metafile;
}

export interface BundleOptions {
  root?: string;
  outDir?: string;
  /** copy this machine's native modules in (false: release.ts puts the target's in) */
  hostNatives?: boolean;
}

interface Manifest {
  name: string;
  version: string;
  description?: string;
  license?: string;
}

export async function buildBundle(opts: BundleOptions = {}): Promise<BundleResult> {
  const root = opts.root ?? ROOT;
  const dir = opts.outDir ?? join(root, 'dist-bundle');
  rmSync(dir, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: { cli: join(root, 'agent', 'cli.ts') },
    outdir: dir,
    entryNames: '[name]',
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: EXTERNAL,
    // Whitespace and syntax only: stack traces and error names stay readable in the journal.
    minifyWhitespace: true,
    minifySyntax: true,
    keepNames: true,
    legalComments: 'linked',
    metafile: true,
    plugins: [cjsNamedExports(), zodEnglishOnly()],
    logLevel: 'warning',
    // The CommonJS libraries (pg, mqtt's deps, …) call require(); an ES module has none.
    banner: { js: "import { createRequire as __edgeRequire } from 'node:module'; const require = __edgeRequire(import.meta.url);" },
  });

  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Manifest;
  const manifest = { name: pkg.name, version: pkg.version, description: pkg.description, license: pkg.license, type: 'module', private: true };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  for (const asset of ASSETS) cpSync(join(root, asset), join(dir, asset), { recursive: true });
  for (const file of UPLOT) {
    mkdirSync(dirname(join(dir, 'node_modules', 'uplot', file)), { recursive: true });
    cpSync(join(root, 'node_modules', 'uplot', file), join(dir, 'node_modules', 'uplot', file));
  }
  for (const mod of NATIVE_MODULES) copyPackageTree(root, mod.name, dir);
  if (opts.hostNatives !== false) copyHostNatives(root, dir);
  log(`bundle in ${dir}`);
  return { dir, metafile: result.metafile };
}

/** This machine's builds of the native modules, where node_modules has them (serialport: its prebuild). */
function copyHostNatives(root: string, dir: string): void {
  for (const mod of NATIVE_MODULES) {
    const src = join(root, 'node_modules', mod.name);
    const built = join(src, 'build', 'Release', mod.file);
    const prebuilds = join(src, 'prebuilds', `${process.platform}-${process.arch}`);
    try {
      cpSync(built, join(dir, 'node_modules', mod.name, 'build', 'Release', mod.file));
    } catch {
      cpSync(prebuilds, join(dir, 'node_modules', mod.name, 'prebuilds', `${process.platform}-${process.arch}`), { recursive: true });
    }
  }
}

// Options: --out DIR (default dist-bundle/), --metafile FILE (esbuild's map of inputs and chunks).
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { out: { type: 'string' }, metafile: { type: 'string' } } });
  buildBundle(values.out === undefined ? {} : { outDir: resolve(values.out) }).then(
    ({ metafile }) => {
      if (values.metafile !== undefined) writeFileSync(values.metafile, JSON.stringify(metafile));
    },
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
