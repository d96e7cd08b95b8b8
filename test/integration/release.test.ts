/**
 * The self-contained releases (npm run release, packaging/release.ts), built once for the whole
 * file into a temporary folder (the native modules and Node runtimes come from the cache,
 * ~/.cache/edge-agent/release or EDGE_RELEASE_CACHE; a cold build compiles for several minutes). The arm64 and armv7l
 * tarballs run under qemu-user-static with Debian's cross libc as sysroot; the x64 one is installed
 * by its own install.sh into a staging root, with no Node on the PATH, and runs the demo.
 * A missing qemu or cross compiler fails the test (test/run-all.sh installs them): never a skip.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ARCHES, type Arch } from '../../packaging/arches.js';
import { elfMachine } from '../../packaging/exec.js';
import { nodeFlagArgs, RUN_NODE_FLAGS } from '../../packaging/node-flags.js';
import { collect, waitForOutput } from '../helpers/cli.js';
import { hasCommand } from '../helpers/peers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const work = mkdtempSync(join(tmpdir(), 'edge-release-test-'));
const OUT = join(work, 'out');
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
  const r = sh(process.execPath, [join(ROOT, 'dist', 'packaging', 'release.js'), '--out', OUT], { cwd: ROOT, timeoutMs: 28 * 60_000 });
  expect(r.code, r.out).toBe(0);
  mkdirSync(join(work, 'unpacked'));
  for (const f of readdirSync(OUT)) expect(sh('tar', ['xzf', join(OUT, f), '-C', join(work, 'unpacked')]).code).toBe(0);
}, 30 * 60_000);

describe('npm run release', () => {
  it('makes one tarball per architecture, each with its own Node, the bundle and natives built for it', () => {
    expect(readdirSync(OUT).sort()).toEqual(['arm64', 'armv7l', 'x64'].map((a) => `edge-agent-${VERSION}-linux-${a}.tar.gz`));
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
      for (const f of ['install.sh', 'bin/edge-agent', 'systemd/edge-agent.service', 'systemd/uninstall.sh', 'app/cli.js', 'app/agent/ops/static/index.html', 'app/node_modules/uplot/dist/uPlot.iife.min.js', 'app/templates', 'README.md']) {
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

  it('launcher and install script pass shellcheck', () => {
    const r = sh('shellcheck', [join(ROOT, 'packaging', 'launcher.sh'), join(ROOT, 'systemd', 'install.sh')]);
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
  });
});
