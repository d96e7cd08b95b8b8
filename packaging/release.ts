/**
 * `npm run release`: release/edge-agent-<version>-linux-{x64,arm64,armv7l}.tar.gz, each a folder
 * that installs on a box with no internet, no compiler and no Node, and the same folder as
 * release/edge-agent_<version>_{amd64,arm64,armhf}.deb (packaging/deb.ts):
 *
 *   install.sh            systemd/install.sh (it sees release.json and installs this folder)
 *   bin/edge-agent        the command: the bundled Node with small-box V8 flags (packaging/launcher.sh)
 *   node/                 the official Node 20 runtime for the architecture (npm node-linux-<arch>)
 *   app/                  the bundle (packaging/bundle.ts) with the native modules built for it
 *   systemd/              the unit, uninstall.sh and setup.sh (the user, config and data directory)
 *   README.md, release.json (version, architecture, Node version)
 *
 * Options: --arch x64,arm64,armv7l (default all), --out DIR (default release/), --cache DIR
 * (default EDGE_RELEASE_CACHE, else $XDG_CACHE_HOME/edge-agent/release, ~/.cache/… without it): Node
 * tarballs and compiled natives live there, outside the checkout like node-gyp's headers, so a fresh
 * clone on the same box (a CI run) does not compile for minutes again.
 */
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ALL_ARCHES, parseArch, type Arch } from './arches.js';
import { buildBundle, ROOT } from './bundle.js';
import { exec, log, runAsProgram } from './exec.js';
import { buildNatives, NATIVE_MODULES } from './natives.js';
import { buildDeb, sourceDateEpoch } from './deb.js';
import { nodeRuntime } from './node-runtime.js';

export interface ReleaseOptions {
  root?: string;
  outDir?: string;
  cacheDir?: string;
  arches?: readonly Arch[];
}

export interface ReleaseArtifact {
  arch: Arch;
  /** the folder's name inside the tarball: edge-agent-<version>-linux-<arch> */
  name: string;
  tarball: string;
  /** edge-agent_<version>_<amd64|arm64|armhf>.deb, the same tree under /opt/edge-agent (packaging/deb.ts) */
  deb: string;
  nodeVersion: string;
}

export interface ReleaseManifest {
  name: string;
  version: string;
  arch: Arch;
  node: string;
}

export function defaultCacheDir(env = process.env): string {
  return env.EDGE_RELEASE_CACHE ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'edge-agent', 'release');
}

export async function buildRelease(opts: ReleaseOptions = {}): Promise<ReleaseArtifact[]> {
  const root = opts.root ?? ROOT;
  const outDir = opts.outDir ?? join(root, 'release');
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  const epoch = sourceDateEpoch(root);
  const work = mkdtempSync(join(tmpdir(), 'edge-release-'));
  try {
    // The JavaScript is the same for every architecture: bundled once.
    const { dir: bundle } = await buildBundle({ root, outDir: join(work, 'bundle'), hostNatives: false });
    mkdirSync(outDir, { recursive: true });
    const artifacts: ReleaseArtifact[] = [];
    for (const arch of opts.arches ?? ALL_ARCHES) {
      const runtime = nodeRuntime(arch, cacheDir);
      const natives = buildNatives(root, runtime, cacheDir);
      const name = `edge-agent-${version}-linux-${arch}`;
      const dir = join(work, name);
      cpSync(bundle, join(dir, 'app'), { recursive: true });
      for (const mod of NATIVE_MODULES) {
        const file = natives.files.get(mod.name);
        if (file === undefined) throw new Error(`EDGE_RELEASE_NATIVE: no ${mod.name} built for linux-${arch}`);
        cpSync(file, join(dir, 'app', 'node_modules', mod.name, 'build', 'Release', mod.file));
      }
      mkdirSync(join(dir, 'node', 'bin'), { recursive: true });
      cpSync(join(runtime.dir, 'bin', 'node'), join(dir, 'node', 'bin', 'node'));
      cpSync(join(runtime.dir, 'LICENSE'), join(dir, 'node', 'LICENSE'));
      mkdirSync(join(dir, 'bin'));
      cpSync(join(root, 'packaging', 'launcher.sh'), join(dir, 'bin', 'edge-agent'));
      chmodSync(join(dir, 'bin', 'edge-agent'), 0o755);
      mkdirSync(join(dir, 'systemd'));
      for (const f of ['edge-agent.service', 'uninstall.sh', 'setup.sh']) cpSync(join(root, 'systemd', f), join(dir, 'systemd', f));
      cpSync(join(root, 'systemd', 'install.sh'), join(dir, 'install.sh'));
      cpSync(join(root, 'README.md'), join(dir, 'README.md'));
      const manifest: ReleaseManifest = { name: 'edge-agent', version, arch, node: runtime.version };
      writeFileSync(join(dir, 'release.json'), `${JSON.stringify(manifest, null, 2)}\n`);
      const tarball = join(outDir, `${name}.tar.gz`);
      // Owned by root in the archive, whoever built it: the box unpacks it with sudo. Sorted, with
      // one mtime (the .deb's) and no gzip timestamp: the same sources give the same bytes.
      exec('tar', ['cf', tarball, '--use-compress-program=gzip -n', '--sort=name', `--mtime=@${epoch}`, '--owner=0', '--group=0', '--numeric-owner', '-C', work, name]);
      log(`${tarball} (node ${runtime.version})`);
      const deb = buildDeb({ root, tree: dir, arch, outDir, epoch });
      artifacts.push({ arch, name, tarball, deb, nodeVersion: runtime.version });
      rmSync(dir, { recursive: true, force: true });
    }
    return artifacts;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await runAsProgram(import.meta.url, async () => {
  const { values } = parseArgs({ options: { arch: { type: 'string' }, out: { type: 'string' }, cache: { type: 'string' } } });
  const arches = values.arch?.split(',').map(parseArch);
  await buildRelease({ ...(arches && { arches }), ...(values.out !== undefined && { outDir: values.out }), ...(values.cache !== undefined && { cacheDir: values.cache }) });
});
