/**
 * The .deb of a release: release.ts hands it each architecture's release folder (the tree the
 * tarball holds) and it writes edge-agent_<version>_<amd64|arm64|armhf>.deb with Debian's own
 * `dpkg-deb --build --root-owner-group` (no debhelper: the package is one prebuilt folder). Inside:
 *
 *   /opt/edge-agent/                          the release folder as it is (Node runtime, bundle, natives)
 *   /usr/bin/edge-agent                       → /opt/edge-agent/bin/edge-agent (the launcher)
 *   /lib/systemd/system/edge-agent.service    the unit, ExecStart= on the launcher (setup.sh's ea_unit)
 *   DEBIAN/postinst, prerm, postrm            packaging/deb/*, with systemd/setup.sh written into them
 *
 * Nothing in /etc: postinst writes /etc/edge-agent/config.yaml (with the host's name as gateway id)
 * the way install.sh does, once, so there are no conffiles; a purge deletes it.
 * Reproducible: every file's mtime and the archive's are SOURCE_DATE_EPOCH (else the last commit's
 * time), ownership root:root, and dpkg-deb sorts the members.
 *
 * `node dist/packaging/deb.js --tree DIR --arch x64 [--out DIR]` packs one unpacked release folder.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { ARCHES, parseArch, type Arch } from './arches.js';
import { ROOT } from './bundle.js';
import { elfMachine, exec, log, runAsProgram } from './exec.js';

const NAME = 'edge-agent';
const LAUNCHER = `/opt/${NAME}/bin/${NAME}`;
const SCRIPTS = ['postinst', 'prerm', 'postrm'] as const;

export interface DebOptions {
  /** the repository (package.json, systemd/, packaging/deb/) */
  root?: string;
  /** an unpacked release folder (release.ts's layout, release.json in it) */
  tree: string;
  arch: Arch;
  outDir: string;
  /** seconds since 1970 for every mtime; default sourceDateEpoch(root) */
  epoch?: number;
}

interface PackageJson {
  name: string;
  version: string;
  author?: string | { name: string; email?: string };
}

/** npm's version as dpkg orders it: a pre-release (1.0.0-rc.1) sorts before its release with ~. */
export function debVersion(version: string): string {
  if (!/^\d[\w.+~-]*$/.test(version)) throw new Error(`EDGE_RELEASE_VERSION: '${version}' in package.json cannot be a Debian version`);
  return version.replace(/-/g, '~');
}

/** SOURCE_DATE_EPOCH, else the time of the checkout's last commit, else package.json's mtime. */
export function sourceDateEpoch(root: string, env = process.env): number {
  if (env.SOURCE_DATE_EPOCH !== undefined && /^\d+$/.test(env.SOURCE_DATE_EPOCH)) return Number(env.SOURCE_DATE_EPOCH);
  const git = spawnSync('git', ['-C', root, 'log', '-1', '--format=%ct'], { encoding: 'utf8' });
  if (git.status === 0 && /^\d+\s*$/.test(git.stdout)) return Number(git.stdout.trim());
  return Math.floor(statSync(join(root, 'package.json')).mtimeMs / 1000);
}

function maintainer(pkg: PackageJson): string {
  const a = pkg.author;
  const who = typeof a === 'string' ? a : a === undefined ? '' : `${a.name}${a.email === undefined ? '' : ` <${a.email}>`}`;
  if (!/^[^<>]+ <[^<>\s]+@[^<>\s]+>$/.test(who)) throw new Error(`EDGE_RELEASE_MAINTAINER: package.json "author" must be "Name <email>" for the .deb's Maintainer field (it is ${JSON.stringify(a)})`);
  return who;
}

function walk(dir: string, visit: (path: string) => void): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    visit(path);
    if (entry.isDirectory()) walk(path, visit);
  }
}

/**
 * Depends: the shared libraries the ELF files load (node and the native modules), by Debian
 * package, libc6 with the newest GLIBC_ symbol version any of them needs. That version is what
 * tells Debian releases apart (bookworm 2.36, bullseye 2.31), so apt refuses a box the program
 * could not run on instead of failing at start.
 */
function sharedLibraryDepends(top: string, elfFiles: readonly string[]): string[] {
  const packages: Record<string, string> = {
    'libc.so.6': 'libc6',
    'libm.so.6': 'libc6',
    'libdl.so.2': 'libc6',
    'libpthread.so.0': 'libc6',
    'libstdc++.so.6': 'libstdc++6',
    'libgcc_s.so.1': 'libgcc-s1',
    // Node for armv7l: 64-bit atomics on a 32-bit CPU
    'libatomic.so.1': 'libatomic1',
  };
  const needed = new Set<string>();
  let glibc = [0];
  for (const file of elfFiles) {
    const dynamic = exec('readelf', ['--dynamic', '--wide', file]);
    for (const [, lib = ''] of dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)) {
      if (/^ld-linux/.test(lib)) continue; // the dynamic loader: libc6 too
      const pkg = packages[lib];
      if (pkg === undefined) throw new Error(`EDGE_RELEASE_DEPENDS: /${relative(top, file)} needs ${lib}, which no Debian package is known for here (packaging/deb.ts)`);
      needed.add(pkg);
    }
    for (const [, v = ''] of exec('readelf', ['--version-info', '--wide', file]).matchAll(/Name: GLIBC_(\d+(?:\.\d+)*)/g)) {
      const parts = v.split('.').map(Number);
      if (compareVersions(parts, glibc) > 0) glibc = parts;
    }
  }
  needed.delete('libc6');
  return [`libc6 (>= ${glibc.join('.')})`, ...[...needed].sort()];
}

function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** A maintainer script: its template with systemd/setup.sh (less its shellcheck header) in place of #SETUP#. */
function maintainerScript(root: string, name: (typeof SCRIPTS)[number]): string {
  const setup = readFileSync(join(root, 'systemd', 'setup.sh'), 'utf8').replace(/^# shellcheck shell=sh\n/, '');
  const template = readFileSync(join(root, 'packaging', 'deb', name), 'utf8');
  return template.replace(/^#SETUP#$/m, () => `# --- systemd/setup.sh ---\n${setup.trimEnd()}\n# --- end of systemd/setup.sh ---`);
}

/** Builds the .deb of one release folder; returns its path. */
export function buildDeb(opts: DebOptions): string {
  const root = opts.root ?? ROOT;
  const info = ARCHES[opts.arch];
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson;
  const manifest = JSON.parse(readFileSync(join(opts.tree, 'release.json'), 'utf8')) as { arch: string; node: string };
  if (manifest.arch !== opts.arch) throw new Error(`EDGE_RELEASE_ARCH: ${opts.tree} is a release for ${manifest.arch}, not ${opts.arch}`);
  const version = debVersion(pkg.version);
  const epoch = opts.epoch ?? sourceDateEpoch(root);
  const work = mkdtempSync(join(tmpdir(), 'edge-deb-'));
  try {
    const top = join(work, 'pkg');
    const app = join(top, 'opt', NAME);
    cpSync(opts.tree, app, { recursive: true, verbatimSymlinks: true });
    mkdirSync(join(top, 'usr', 'bin'), { recursive: true });
    symlinkSync(LAUNCHER, join(top, 'usr', 'bin', NAME));
    const units = join(top, 'lib', 'systemd', 'system');
    mkdirSync(units, { recursive: true });
    const unit = exec('sh', ['-c', '. "$1" && ea_unit "$2" "$3"', 'sh', join(root, 'systemd', 'setup.sh'), join(app, 'systemd', `${NAME}.service`), LAUNCHER]);
    writeFileSync(join(units, `${NAME}.service`), unit);

    // Sizes, checksums and the ELF files, before DEBIAN/ is there to be counted.
    let kib = 0;
    const sums: string[] = [];
    const elfFiles: string[] = [];
    walk(top, (path) => {
      const st = lstatSync(path);
      if (!st.isFile()) {
        kib += 1;
        return;
      }
      kib += Math.ceil(st.size / 1024);
      const body = readFileSync(path);
      sums.push(`${createHash('md5').update(body).digest('hex')}  ${relative(top, path)}`);
      if ((st.mode & 0o111) !== 0 || path.endsWith('.node')) {
        const machine = elfMachine(path);
        if (machine !== undefined && machine !== info.elfMachine) throw new Error(`EDGE_RELEASE_NATIVE: ${relative(top, path)} is for ELF machine 0x${machine.toString(16)}, not ${opts.arch}`);
        if (machine !== undefined) elfFiles.push(path);
      }
    });

    const control = join(top, 'DEBIAN');
    mkdirSync(control);
    writeFileSync(join(control, 'md5sums'), `${sums.sort().join('\n')}\n`);
    for (const name of SCRIPTS) {
      writeFileSync(join(control, name), maintainerScript(root, name));
      chmodSync(join(control, name), 0o755);
    }
    const fields: [string, string][] = [
      ['Package', NAME],
      ['Version', version],
      ['Architecture', info.deb],
      ['Maintainer', maintainer(pkg)],
      ['Installed-Size', String(kib)],
      // No nodejs: the runtime is inside. passwd: postinst's useradd/groupadd/usermod.
      ['Depends', [...sharedLibraryDepends(top, elfFiles), 'passwd'].join(', ')],
      ['Section', 'net'],
      ['Priority', 'optional'],
      [
        'Description',
        [
          'field gateway agent: Modbus, serial and MQTT to InfluxDB and PostgreSQL',
          'edge-agent polls field devices (Modbus TCP/RTU, serial, MQTT), applies',
          'per-point transforms and local alerts, and buffers every reading in SQLite',
          'until InfluxDB or PostgreSQL has it (store-and-forward).',
          '.',
          `Self-contained: it carries its own Node.js ${manifest.node} runtime and native`,
          'modules built for this architecture, under /opt/edge-agent. The service',
          'is enabled, not started: add devices and sinks to /etc/edge-agent/config.yaml,',
          'then run: systemctl start edge-agent',
        ].join('\n '),
      ],
    ];
    writeFileSync(join(control, 'control'), fields.map(([k, v]) => `${k}: ${v}\n`).join(''));

    // The same modes and times whoever builds it, whatever the umask.
    exec('chmod', ['-R', 'u+rwX,go+rX,go-w', top]);
    exec('find', [top, '-exec', 'touch', '--no-dereference', '--date', `@${epoch}`, '{}', '+']);
    mkdirSync(opts.outDir, { recursive: true });
    const deb = join(opts.outDir, `${NAME}_${version}_${info.deb}.deb`);
    // gzip, as the tarball: xz saves a fifth of the size for three times the build time, and every dpkg reads gzip.
    exec('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', top, deb], { env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) } });
    log(`${deb}`);
    return deb;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await runAsProgram(import.meta.url, () => {
  const { values } = parseArgs({ options: { tree: { type: 'string' }, arch: { type: 'string' }, out: { type: 'string' } } });
  if (values.tree === undefined || values.arch === undefined) throw new Error('usage: node dist/packaging/deb.js --tree RELEASE_FOLDER --arch x64|arm64|armv7l [--out DIR]');
  buildDeb({ tree: values.tree, arch: parseArch(values.arch), outDir: values.out ?? join(ROOT, 'release') });
});
