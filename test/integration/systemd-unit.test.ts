/**
 * The unit file and the install scripts. systemd-analyze checks the unit offline (no systemd as
 * PID 1 is needed); install.sh runs against a staging root (--prefix), and the program it laid
 * down is started from there. Where a tool is missing the test is skipped — and says why —
 * rather than passing: test/run-all.sh installs them (Debian packages systemd and shellcheck).
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collect, waitForOutput } from '../helpers/cli.js';
import { hasCommand, missing } from '../helpers/peers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const UNIT = join(ROOT, 'systemd', 'edge-agent.service');
const INSTALL = join(ROOT, 'systemd', 'install.sh');
const UNINSTALL = join(ROOT, 'systemd', 'uninstall.sh');
const SETUP = join(ROOT, 'systemd', 'setup.sh');
/** The exposure `systemd-analyze security --offline=true` gives the unit (README says so too). */
const EXPOSURE = 1.6;

function skipping(tool: string, pkg: string): boolean {
  return missing(tool, hasCommand(tool), `Debian package ${pkg}`);
}
function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}
const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

describe('the unit file', () => {
  it.skipIf(skipping('systemd-analyze', 'systemd'))('passes systemd-analyze verify', () => {
    const r = run('systemd-analyze', ['verify', UNIT]);
    expect(r.out.split('\n').filter((l) => l.includes('edge-agent.service'))).toEqual([]);
    expect(r.code, r.out).toBe(0);
  });

  it.skipIf(skipping('systemd-analyze', 'systemd'))(`is hardened to an exposure of ${EXPOSURE} ("OK") in systemd-analyze security`, () => {
    const r = run('systemd-analyze', ['security', '--offline=true', '--no-pager', UNIT]);
    expect(r.code, r.out).toBe(0);
    const m = /Overall exposure level for edge-agent\.service: (\d+\.\d+) (\w+)/.exec(r.out);
    expect(m, r.out).not.toBeNull();
    expect(Number(m?.[1])).toBeLessThanOrEqual(EXPOSURE);
    expect(m?.[2]).toBe('OK');
  });

  it('asks for what the issue and the field need', () => {
    const unit = readFileSync(UNIT, 'utf8');
    const directives = unit.split('\n').filter((l) => /^[A-Z]\w+=/.test(l));
    for (const d of [
      'Type=notify',
      'NotifyAccess=all',
      'WatchdogSec=60s',
      'Restart=always',
      'RestartSec=5s',
      'StartLimitIntervalSec=0',
      'User=edge-agent',
      'SupplementaryGroups=dialout',
      'DeviceAllow=char-ttyUSB rw',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ReadWritePaths=/var/lib/edge-agent',
      'StateDirectory=edge-agent',
      'ProtectHome=yes',
      'PrivateTmp=yes',
      'CapabilityBoundingSet=',
      'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6',
      'StandardOutput=journal',
    ]) {
      expect(directives, d).toContain(d);
    }
    // Known to break Node (V8's JIT) or serial ports on Debian 12.
    expect(directives).not.toContain('MemoryDenyWriteExecute=yes');
    expect(directives).not.toContain('PrivateDevices=yes');
  });
});

describe('install and uninstall scripts', () => {
  it.skipIf(skipping('shellcheck', 'shellcheck'))('pass shellcheck', () => {
    const r = run('shellcheck', ['-x', INSTALL, UNINSTALL, SETUP]);
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
  });

  it('lay down program, command, config, data directory and unit; keep the config on a re-run; and the installed program runs', async () => {
    const prefix = mkdtempSync(join(tmpdir(), 'edge-install-'));
    const first = run('bash', [INSTALL, '--prefix', prefix]);
    expect(first.code, first.out).toBe(0);

    const app = join(prefix, 'opt', 'edge-agent');
    for (const f of ['dist/agent/cli.js', 'agent/ops/static/index.html', 'agent/ops/static/app.js', 'templates/eastron-sdm630.yaml', 'config/edge-agent.schema.json', 'package.json', 'node_modules/better-sqlite3', 'node_modules/prom-client', 'systemd/uninstall.sh']) {
      expect(existsSync(join(app, f)), f).toBe(true);
    }
    // Test and build tools are pruned from the installed program.
    expect(existsSync(join(app, 'node_modules', 'vitest'))).toBe(false);
    expect(existsSync(join(app, 'node_modules', 'playwright-core'))).toBe(false);

    const bin = join(prefix, 'usr', 'local', 'bin', 'edge-agent');
    expect(mode(bin)).toBe('755');
    expect(readFileSync(bin, 'utf8')).toMatch(/^exec \S*node \/opt\/edge-agent\/dist\/agent\/cli\.js "\$@"$/m);

    const etc = join(prefix, 'etc', 'edge-agent');
    expect(mode(etc)).toBe('750');
    expect(mode(join(etc, 'config.yaml'))).toBe('640');
    expect(mode(join(etc, 'env'))).toBe('640');
    expect(mode(join(prefix, 'var', 'lib', 'edge-agent'))).toBe('750');
    const config = join(etc, 'config.yaml');
    const validate = run(process.execPath, [join(app, 'dist', 'agent', 'cli.js'), 'validate', '--config', config]);
    expect(validate.out).toMatch(/ok, 0 devices, 0 points/);

    const unit = readFileSync(join(prefix, 'etc', 'systemd', 'system', 'edge-agent.service'), 'utf8');
    const node = run('sh', ['-c', 'command -v node']).out.trim();
    expect(unit).toBe(readFileSync(UNIT, 'utf8').replace(/^ExecStart=\/usr\/bin\/node /m, `ExecStart=${node} `));

    // The program as installed (not the checkout) starts and serves the status page.
    const child = spawn(process.execPath, [join(app, 'dist', 'agent', 'cli.js'), 'run', '--config', config], {
      env: { ...process.env, EDGE_BUFFER_PATH: join(prefix, 'var', 'lib', 'edge-agent', 'buffer.db'), EDGE_HTTP_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = collect(child, 30_000);
    const out = await waitForOutput(child, /"msg":"agent started"/);
    const port = (JSON.parse(out.split('\n').find((l) => l.includes('"http listening"')) ?? '{}') as { port: number }).port;
    const page = await fetch(`http://127.0.0.1:${port}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<script src="app\.js" defer>/);
    child.kill('SIGTERM');
    expect((await exited).code).toBe(0);

    // Again, after a technician edited the config: the config stays, the program is replaced.
    writeFileSync(config, readFileSync(config, 'utf8').replace(/^log:\n {2}level: info$/m, 'log:\n  level: debug'));
    writeFileSync(join(app, 'stale-file'), 'from the old version');
    const second = run('bash', [INSTALL, '--prefix', prefix, '--no-deps']);
    expect(second.code, second.out).toBe(0);
    expect(second.out).toMatch(/kept .*config\.yaml/);
    expect(readFileSync(config, 'utf8')).toMatch(/level: debug/);
    expect(existsSync(join(app, 'stale-file'))).toBe(false);
    expect(readdirSync(join(prefix, 'opt'))).toEqual(['edge-agent']);

    const remove = run('bash', [UNINSTALL, '--prefix', prefix]);
    expect(remove.code, remove.out).toBe(0);
    expect(existsSync(app)).toBe(false);
    expect(existsSync(bin)).toBe(false);
    expect(existsSync(join(prefix, 'etc', 'systemd', 'system', 'edge-agent.service'))).toBe(false);
    expect(existsSync(config)).toBe(true);
    expect(existsSync(join(prefix, 'var', 'lib', 'edge-agent', 'buffer.db'))).toBe(true);

    const purge = run('bash', [UNINSTALL, '--prefix', prefix, '--purge']);
    expect(purge.code, purge.out).toBe(0);
    expect(existsSync(etc)).toBe(false);
    expect(existsSync(join(prefix, 'var', 'lib', 'edge-agent'))).toBe(false);
  });

  it('refuses to run without a build, and explains a wrong option', () => {
    const empty = mkdtempSync(join(tmpdir(), 'edge-nobuild-'));
    const script = join(empty, 'systemd', 'install.sh');
    mkdirSync(join(empty, 'systemd'));
    writeFileSync(script, readFileSync(INSTALL));
    cpSync(SETUP, join(empty, 'systemd', 'setup.sh'));
    chmodSync(script, 0o755);
    const r = run('bash', [script, '--prefix', join(empty, 'root')]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/no build in .*: run 'npm ci && npm run build'/);
    const u = run('bash', [INSTALL, '--frobnicate']);
    expect(u.code).toBe(2);
    expect(u.out).toMatch(/unknown option '--frobnicate'/);
  });
});
