/**
 * The self-contained releases (npm run release, packaging/release.ts), built once for the whole
 * file into a temporary folder (the native modules and Node runtimes come from the cache,
 * ~/.cache/edge-agent/release or EDGE_RELEASE_CACHE; a cold build compiles for several minutes). The arm64 and armv7l
 * tarballs run under qemu-user-static with Debian's cross libc as sysroot; the x64 one is installed
 * by its own install.sh into a staging root, with no Node on the PATH, and runs the demo.
 * A missing qemu or cross compiler fails the test (test/run-all.sh installs them): never a skip.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ARCHES, type Arch } from '../../packaging/arches.js';
import { buildDeb, sourceDateEpoch } from '../../packaging/deb.js';
import { elfMachine } from '../../packaging/exec.js';
import { nodeFlagArgs, RUN_NODE_FLAGS } from '../../packaging/node-flags.js';
import { collect, waitForOutput } from '../helpers/cli.js';
import { hasCommand } from '../helpers/peers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const work = mkdtempSync(join(tmpdir(), 'edge-release-test-'));
const OUT = join(work, 'out');
// One epoch for the build and the checks below: a commit made while the suite runs must not move it.
const EPOCH = sourceDateEpoch(ROOT);
const dirOf = (arch: Arch) => join(work, 'unpacked', `edge-agent-${VERSION}-linux-${arch}`);
/** The launcher's default V8 flags for the daemon (`run`), as it passes them (the qemu runs bypass the shell script). */
const FLAGS = nodeFlagArgs(RUN_NODE_FLAGS);

function sh(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: opts.timeoutMs ?? 180_000, cwd: opts.cwd ?? work, env: opts.env ?? process.env });
  const killed = r.signal === null ? '' : `\n(killed by ${r.signal}${r.error === undefined ? '' : `: ${r.error.message}`})`;
  return { code: r.status, out: `${r.stdout}${r.stderr}${killed}` };
}

beforeAll(() => {
  const tools = ['qemu-aarch64-static', 'qemu-arm-static', 'aarch64-linux-gnu-g++', 'arm-linux-gnueabihf-g++'];
  for (const tool of tools) expect(hasCommand(tool), `${tool} is needed (test/run-all.sh installs it)`).toBe(true);
  for (const arch of ['arm64', 'armv7l'] as const) expect(existsSync(join(ARCHES[arch].qemu?.sysroot ?? '/', 'lib')), `sysroot of ${arch}`).toBe(true);
  // A cold cache compiles better-sqlite3 and serialport three times (two cross compilers): minutes.
  const r = sh(process.execPath, [join(ROOT, 'dist', 'packaging', 'release.js'), '--out', OUT], { cwd: ROOT, timeoutMs: 28 * 60_000, env: { ...process.env, SOURCE_DATE_EPOCH: String(EPOCH) } });
  expect(r.code, r.out).toBe(0);
  mkdirSync(join(work, 'unpacked'));
  for (const f of readdirSync(OUT).filter((n) => n.endsWith('.tar.gz'))) expect(sh('tar', ['xzf', join(OUT, f), '-C', join(work, 'unpacked')]).code).toBe(0);
}, 30 * 60_000);

describe('npm run release', () => {
  it('makes one tarball per architecture, each with its own Node, the bundle and natives built for it', () => {
    expect(readdirSync(OUT).filter((n) => n.endsWith('.tar.gz')).sort()).toEqual(['arm64', 'armv7l', 'x64'].map((a) => `edge-agent-${VERSION}-linux-${a}.tar.gz`));
    for (const arch of ['x64', 'arm64', 'armv7l'] as const) {
      const dir = dirOf(arch);
      const manifest = JSON.parse(readFileSync(join(dir, 'release.json'), 'utf8')) as { arch: string; version: string; node: string };
      expect(manifest).toMatchObject({ arch, version: VERSION });
      expect(manifest.node).toMatch(/^20\./);
      const machine = ARCHES[arch].elfMachine;
      expect(elfMachine(join(dir, 'node', 'bin', 'node')), `${arch} node`).toBe(machine);
      expect(elfMachine(join(dir, 'app', 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node')), `${arch} better-sqlite3`).toBe(machine);
      expect(elfMachine(join(dir, 'app', 'node_modules', '@serialport', 'bindings-cpp', 'build', 'Release', 'bindings.node')), `${arch} serialport`).toBe(machine);
      // Only the build for this architecture: no prebuilds node-gyp-build could pick instead, no C sources.
      expect(existsSync(join(dir, 'app', 'node_modules', '@serialport', 'bindings-cpp', 'prebuilds'))).toBe(false);
      expect(existsSync(join(dir, 'app', 'node_modules', 'better-sqlite3', 'deps'))).toBe(false);
      for (const f of ['install.sh', 'bin/edge-agent', 'systemd/edge-agent.service', 'systemd/uninstall.sh', 'systemd/setup.sh', 'app/cli.js', 'app/agent/ops/static/index.html', 'app/node_modules/uplot/dist/uPlot.iife.min.js', 'app/templates', 'README.md']) {
        expect(existsSync(join(dir, f)), `${arch}: ${f}`).toBe(true);
      }
    }
  });

  it.each(['arm64', 'armv7l'] as const)('runs on %s (qemu-user-static): --version, validate, run --demo --once, and its native modules load', (arch) => {
    const qemu = ARCHES[arch].qemu;
    if (qemu === undefined) throw new Error(`no qemu for ${arch}`);
    const dir = dirOf(arch);
    const node = (...args: string[]) => sh(qemu.bin, ['-L', qemu.sysroot, join(dir, 'node', 'bin', 'node'), ...FLAGS, ...args]);
    const cli = (...args: string[]) => node(join(dir, 'app', 'cli.js'), ...args);
    expect(cli('--version')).toEqual({ code: 0, out: `${VERSION}\n` });
    const validate = cli('validate', '--config', join(dir, 'app', 'config', 'demo.yaml'));
    expect(validate.out).toMatch(/demo\.yaml: ok, 1 device, 16 points/);
    expect(validate.code).toBe(0);
    const once = cli('run', '--demo', '--once');
    expect(once.code, once.out).toBe(0);
    expect(once.out).toMatch(/pump-1\/flow\s+[\d.]+ m3\/h/);
    const natives = node(
      '-e',
      `const Database = require(${JSON.stringify(join(dir, 'app', 'node_modules', 'better-sqlite3'))});
       const binding = require(${JSON.stringify(join(dir, 'app', 'node_modules', 'node-gyp-build'))})(${JSON.stringify(join(dir, 'app', 'node_modules', '@serialport', 'bindings-cpp'))});
       console.log(JSON.stringify({ arch: process.arch, sqlite: new Database(':memory:').prepare('select sqlite_version() v').get().v, serial: typeof binding.open }));`,
    );
    expect(natives.code, natives.out).toBe(0);
    expect(JSON.parse(natives.out)).toMatchObject({ arch: ARCHES[arch].gyp, sqlite: expect.stringMatching(/^3\./), serial: 'function' });
  }, 180_000);
});

describe('the x64 release, installed', () => {
  /** A PATH of the plain tools install.sh and the launcher use, and no node: the box has none. */
  function pathWithoutNode(): string {
    const bin = join(work, 'no-node-bin');
    mkdirSync(bin, { recursive: true });
    for (const tool of ['bash', 'sh', 'mkdir', 'cp', 'mv', 'rm', 'chmod', 'sed', 'mktemp', 'hostname', 'tr', 'id', 'uname', 'cat', 'dirname', 'readlink', 'printf']) {
      const found = sh('sh', ['-c', `command -v ${tool}`]).out.trim();
      if (found.startsWith('/') && !existsSync(join(bin, tool))) symlinkSync(found, join(bin, tool));
    }
    expect(sh('sh', ['-c', 'command -v node'], { env: { PATH: bin } }).code).not.toBe(0);
    return bin;
  }

  it('installs with install.sh --prefix (no Node, npm or compiler on the PATH) and runs the demo', async () => {
    const PATH = pathWithoutNode();
    const prefix = join(work, 'root');
    const install = sh(join(dirOf('x64'), 'install.sh'), ['--prefix', prefix], { env: { PATH } });
    expect(install.code, install.out).toBe(0);
    const app = join(prefix, 'opt', 'edge-agent');
    const bin = join(prefix, 'usr', 'local', 'bin', 'edge-agent');
    expect(readFileSync(bin, 'utf8')).toMatch(/^exec \/opt\/edge-agent\/bin\/edge-agent "\$@"$/m);
    const unit = readFileSync(join(prefix, 'etc', 'systemd', 'system', 'edge-agent.service'), 'utf8');
    expect(unit).toMatch(/^ExecStart=\/opt\/edge-agent\/bin\/edge-agent run --config \/etc\/edge-agent\/config\.yaml$/m);
    const command = join(app, 'bin', 'edge-agent');
    const validate = sh(command, ['validate', '--config', join(prefix, 'etc', 'edge-agent', 'config.yaml')], { env: { PATH } });
    expect(validate.out).toMatch(/ok, 0 devices, 0 points/);

    const child = spawn(command, ['run', '--demo'], {
      env: { PATH, EDGE_HTTP_PORT: '0', EDGE_BUFFER_PATH: join(prefix, 'var', 'lib', 'edge-agent', 'buffer.db') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = collect(child, 60_000);
    try {
      const out = await waitForOutput(child, /pump-1\/flow/, 30_000);
      const port = (JSON.parse(out.split('\n').find((l) => l.includes('"http listening"')) ?? '{}') as { port?: number }).port;
      expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/uplot.js`)).status).toBe(200);
      // The launcher's heap flags reached the runtime.
      const pid = child.pid ?? 0;
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toEqual(expect.arrayContaining([join(app, 'node', 'bin', 'node'), ...FLAGS]));
    } finally {
      child.kill('SIGTERM');
    }
    expect((await exited).code).toBe(0);
  }, 120_000);

  it('refuses a release whose runtime does not run on the box, naming the architecture', () => {
    const copy = join(work, 'wrong-arch');
    cpSync(dirOf('x64'), copy, { recursive: true });
    writeFileSync(join(copy, 'node', 'bin', 'node'), 'not a program for this machine');
    chmodSync(join(copy, 'node', 'bin', 'node'), 0o755);
    const r = sh(join(copy, 'install.sh'), ['--prefix', join(work, 'wrong-root')]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/this release is for linux-x64 and its Node runtime does not run on this \S+ box/);
    expect(existsSync(join(work, 'wrong-root', 'opt', 'edge-agent'))).toBe(false);
  });

  it('launcher and install scripts pass shellcheck', () => {
    const r = sh('shellcheck', ['-x', join(ROOT, 'packaging', 'launcher.sh'), ...['install.sh', 'uninstall.sh', 'setup.sh'].map((f) => join(ROOT, 'systemd', f))]);
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
  });
});

describe('the .deb packages', () => {
  const ALL = ['x64', 'arm64', 'armv7l'] as const;
  const debOf = (arch: Arch) => join(OUT, `edge-agent_${VERSION}_${ARCHES[arch].deb}.deb`);

  function fields(deb: string): Record<string, string> {
    const r = sh('dpkg-deb', ['--field', deb]);
    expect(r.code, r.out).toBe(0);
    const out: Record<string, string> = {};
    let last = '';
    for (const line of r.out.split('\n')) {
      const m = /^([\w-]+): (.*)$/.exec(line);
      if (m?.[1] !== undefined) out[(last = m[1])] = m[2] ?? '';
      else if (line.startsWith(' ')) out[last] += `\n${line}`;
    }
    return out;
  }

  it('are one per architecture, with the control fields, no nodejs dependency and the node of that architecture inside', () => {
    expect(readdirSync(OUT).filter((n) => n.endsWith('.deb')).sort()).toEqual([`edge-agent_${VERSION}_amd64.deb`, `edge-agent_${VERSION}_arm64.deb`, `edge-agent_${VERSION}_armhf.deb`]);
    for (const arch of ALL) {
      const f = fields(debOf(arch));
      expect(f).toMatchObject({ Package: 'edge-agent', Version: VERSION, Architecture: ARCHES[arch].deb, Section: 'net', Priority: 'optional' });
      expect(f.Maintainer).toMatch(/^[^<>]+ <[^<>\s]+@[^<>\s]+>$/);
      expect(f.Description).toMatch(/^field gateway agent: .*\n .*Node\.js 20\.\d+\.\d+ runtime/s);
      // The runtime is inside: only what it and the natives link to, and passwd for postinst's useradd.
      // (Node for armv7l also needs libatomic1.)
      const atomic = arch === 'armv7l' ? 'libatomic1, ' : '';
      expect(f.Depends).toMatch(new RegExp(`^libc6 \\(>= 2\\.\\d+\\), ${atomic}libgcc-s1, libstdc\\+\\+6, passwd$`));
      const node = join(work, 'deb-node', arch);
      mkdirSync(node, { recursive: true });
      expect(sh('sh', ['-c', 'dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" ./opt/edge-agent/node/bin/node', 'sh', debOf(arch), node]).code).toBe(0);
      expect(elfMachine(join(node, 'opt', 'edge-agent', 'node', 'bin', 'node')), `${arch}: the node inside`).toBe(ARCHES[arch].elfMachine);
      // Installed-Size (KiB) counts the tree: within 2 % of what it unpacks to.
      const unpacked = Number(sh('du', ['-sk', '--apparent-size', dirOf(arch)]).out.split('\t')[0]);
      expect(Number(f['Installed-Size'])).toBeGreaterThan(unpacked * 0.98);
      expect(Number(f['Installed-Size'])).toBeLessThan(unpacked * 1.02);
    }
  });

  it('hold the tarball’s tree under /opt/edge-agent, the command in /usr/bin and the unit in /lib/systemd/system, all root’s', () => {
    for (const arch of ALL) {
      const listing = sh('dpkg-deb', ['--contents', debOf(arch)]).out.trim().split('\n');
      for (const line of listing) expect(line, line).toMatch(/^[-dl]\S+ root\/root /);
      const paths = listing.map((l) => l.replace(/^(\S+\s+){5}/, ''));
      expect(paths).toContain('./usr/bin/edge-agent -> /opt/edge-agent/bin/edge-agent');
      for (const p of ['./lib/systemd/system/edge-agent.service', './opt/edge-agent/bin/edge-agent', './opt/edge-agent/node/bin/node', './opt/edge-agent/app/node_modules/better-sqlite3/build/Release/better_sqlite3.node', './opt/edge-agent/app/node_modules/@serialport/bindings-cpp/build/Release/bindings.node']) {
        expect(paths, `${arch}: ${p}`).toContain(p);
      }
      // Nothing in /etc: postinst writes the config once, so there are no conffiles.
      expect(paths.filter((p) => p.startsWith('./etc'))).toEqual([]);
      const inTarball = sh('tar', ['tzf', join(OUT, `edge-agent-${VERSION}-linux-${arch}.tar.gz`)]).out.trim().split('\n');
      const opt = paths.filter((p) => p.startsWith('./opt/edge-agent/')).map((p) => p.slice('./opt/edge-agent/'.length)).filter((p) => p !== '');
      expect(opt.sort()).toEqual(inTarball.map((p) => p.slice(`edge-agent-${VERSION}-linux-${arch}/`.length)).filter((p) => p !== '').sort());
    }
  });

  it('have maintainer scripts that pass shellcheck and carry systemd/setup.sh as it is, the same for every architecture', () => {
    const scripts = (arch: Arch) => {
      const dir = join(work, 'deb-control', arch);
      mkdirSync(dirname(dir), { recursive: true });
      expect(sh('dpkg-deb', ['--control', debOf(arch), dir]).code).toBe(0);
      return dir;
    };
    const amd64 = scripts('x64');
    const names = ['postinst', 'prerm', 'postrm'];
    const r = sh('shellcheck', names.map((n) => join(amd64, n)));
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
    const setup = readFileSync(join(ROOT, 'systemd', 'setup.sh'), 'utf8').replace(/^# shellcheck shell=sh\n/, '');
    for (const n of ['postinst', 'postrm']) expect(readFileSync(join(amd64, n), 'utf8')).toContain(setup.trimEnd());
    expect(existsSync(join(amd64, 'conffiles'))).toBe(false);
    for (const arch of ['arm64', 'armv7l'] as const) {
      const other = scripts(arch);
      for (const n of names) expect(readFileSync(join(other, n), 'utf8'), `${arch} ${n}`).toBe(readFileSync(join(amd64, n), 'utf8'));
    }
  });

  it('is reproducible: packed again from the unpacked tarball, the same bytes; the tarball’s files carry one mtime', () => {
    const again = buildDeb({ tree: dirOf('x64'), arch: 'x64', outDir: join(work, 'deb-again'), epoch: EPOCH });
    const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
    expect(sha(again)).toBe(sha(debOf('x64')));
    const epoch = new Date(EPOCH * 1000).toISOString().replace('T', ' ').slice(0, 19);
    const times = new Set(
      sh('tar', ['tvzf', join(OUT, `edge-agent-${VERSION}-linux-x64.tar.gz`), '--full-time'], { env: { ...process.env, TZ: 'UTC' } })
        .out.trim()
        .split('\n')
        .map((l) => /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/.exec(l)?.[0]),
    );
    expect([...times]).toEqual([epoch]);
  }, 120_000);

  /**
   * Runs `script` (bash) as root in a throw-away copy of this machine: a private mount namespace in
   * which an overlay (lower: /, upper: a tmpfs) is chroot()ed into. Whatever apt, dpkg and the
   * maintainer scripts change there (/etc/passwd too) goes with the namespace; / stays as it was.
   * A private network namespace too, with only loopback: no internet for apt, and the demo's ports
   * cannot meet another program's.
   */
  function inThrowawayRoot(script: string): { code: number | null; out: string } {
    expect(process.getuid?.(), 'installing a .deb needs root (for the private mount namespace and the chroot)').toBe(0);
    const base = join(work, 'throwaway-root');
    mkdirSync(base, { recursive: true });
    const setup = `set -euo pipefail
      base=$1 out=$2
      mount -t tmpfs edge-agent-throwaway "$base"
      mkdir "$base/upper" "$base/work" "$base/root"
      mount -t overlay overlay -o "lowerdir=/,upperdir=$base/upper,workdir=$base/work" "$base/root"
      [ "$(stat -f -c %T "$base/root")" = overlayfs ] || { echo "no overlay at $base/root" >&2; exit 1; }
      mount -t proc proc "$base/root/proc"
      mount --rbind /dev "$base/root/dev"
      mkdir -p "$base/root$out" && mount --bind "$out" "$base/root$out"
      ip link set lo up
      exec chroot "$base/root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive /bin/bash --norc -c "$3"`;
    const r = sh('unshare', ['--mount', '--net', '--fork', 'bash', '--norc', '-c', setup, 'bash', base, OUT, script], { timeoutMs: 240_000 });
    // apt runs dpkg on a terminal: \r\n line ends and \r progress.
    return { code: r.code, out: r.out.replace(/\r\n?/g, '\n') };
  }

  it('installs with apt on a box with no Node, runs as its user, keeps the config on a reinstall; remove keeps the data, purge deletes it and the user', () => {
    const deb = debOf('x64');
    const r = inThrowawayRoot(`set -euo pipefail
      step() { printf '\\n@@ %s\\n' "$1"; }
      rm -f /usr/bin/node   # the overlay's copy: this box has no Node
      step node; command -v node || echo none
      step links; ip -o link | wc -l
      step install; apt-get install -y -q --no-install-recommends ${deb} 2>&1
      step version; edge-agent --version
      step user; id edge-agent
      step modes; stat -c '%n %U:%G %a' /etc/edge-agent /etc/edge-agent/config.yaml /etc/edge-agent/env /var/lib/edge-agent
      step enabled; systemctl is-enabled edge-agent.service || true
      step unit; grep '^ExecStart=' /lib/systemd/system/edge-agent.service
      step validate; runuser -u edge-agent -- edge-agent validate --config /etc/edge-agent/config.yaml 2>&1
      step once; cd /var/lib/edge-agent && runuser -u edge-agent -- edge-agent run --demo --once 2>&1; cd /
      step verify; dpkg --verify edge-agent && echo verified
      sed -i 's/^  level: info$/  level: debug/' /etc/edge-agent/config.yaml
      runuser -u edge-agent -- touch /var/lib/edge-agent/buffer.db
      step postinst-again; /var/lib/dpkg/info/edge-agent.postinst configure ${VERSION} 2>&1
      step reinstall; apt-get install -y -q --reinstall ${deb} 2>&1; grep '^  level:' /etc/edge-agent/config.yaml
      step remove; apt-get remove -y -q edge-agent 2>&1
      ls -d /opt/edge-agent /usr/bin/edge-agent /lib/systemd/system/edge-agent.service 2>&1 || true
      ls /etc/edge-agent /var/lib/edge-agent; id edge-agent
      ls /etc/systemd/system/multi-user.target.wants/ | grep -c edge-agent || true
      step purge; apt-get purge -y -q edge-agent 2>&1
      ls -d /etc/edge-agent /var/lib/edge-agent 2>&1 || true; id edge-agent 2>&1 || true
      step end`);
    expect(r.code, r.out).toBe(0);
    const steps = Object.fromEntries(r.out.split('\n@@ ').slice(1).map((s) => [s.slice(0, s.indexOf('\n')), s.slice(s.indexOf('\n') + 1)]));
    expect(Object.keys(steps)).toContain('end');
    expect(steps.node?.trim()).toBe('none');
    expect(steps.links?.trim(), 'only loopback: apt installs with no network').toBe('1');
    expect(steps.install).toMatch(/created user edge-agent/);
    expect(steps.install).toMatch(/enabled, not started: add devices and sinks/);
    expect(steps.version?.trim()).toBe(VERSION);
    expect(steps.user).toMatch(/groups=\d+\(edge-agent\),\d+\(dialout\)/);
    expect(steps.modes?.trim().split('\n')).toEqual(['/etc/edge-agent root:edge-agent 750', '/etc/edge-agent/config.yaml root:edge-agent 640', '/etc/edge-agent/env root:edge-agent 640', '/var/lib/edge-agent edge-agent:edge-agent 750']);
    expect(steps.enabled?.trim()).toBe('enabled');
    expect(steps.unit?.trim()).toBe('ExecStart=/opt/edge-agent/bin/edge-agent run --config /etc/edge-agent/config.yaml');
    expect(steps.validate).toMatch(/config\.yaml: ok, 0 devices, 0 points/);
    expect(steps.once).toMatch(/pump-1\/flow\s+[\d.]+ m3\/h/);
    expect(steps.verify?.trim()).toBe('verified');
    expect(steps['postinst-again']).toMatch(/kept \/etc\/edge-agent\/config\.yaml/);
    expect(steps['postinst-again']).not.toMatch(/created user/);
    expect(steps.reinstall).toMatch(/kept \/etc\/edge-agent\/config\.yaml\n[\s\S]*^ {2}level: debug$/m);
    expect(steps.remove).toMatch(/No such file or directory[\s\S]*No such file or directory[\s\S]*No such file or directory/);
    expect(steps.remove).toMatch(/config\.yaml\nenv\n[\s\S]*buffer\.db\n[\s\S]*?uid=\d+\(edge-agent\)[^\n]*\n0\n/);
    expect(steps.purge).toMatch(/purged the configuration, the buffer and the user/);
    expect(steps.purge).toMatch(/cannot access '\/etc\/edge-agent'[\s\S]*cannot access '\/var\/lib\/edge-agent'[\s\S]*no such user/);
    // …and the machine itself was not touched.
    expect(sh('id', ['edge-agent']).code).not.toBe(0);
    expect(existsSync('/opt/edge-agent')).toBe(false);
  }, 300_000);
});
