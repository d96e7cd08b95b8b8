/**
 * Logs a person reads: under a pseudo-terminal (util-linux `script` gives the agent a pty for its
 * stdout and stderr) each event is one readable line — time, level, message, fields — and with
 * stdout a pipe (journald, Docker, `| jq`) the same events are JSON lines.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, runCli } from '../helpers/cli.js';
import { missing } from '../helpers/peers.js';

const dir = mkdtempSync(join(tmpdir(), 'edge-pretty-'));
const config = (name: string, extra = '') => {
  const file = join(dir, `${name}.yaml`);
  // a port that does not exist: the agent logs warnings, with an error, every poll
  writeFileSync(file, `gateway: { id: gw-pretty }
buffer: { path: ${join(dir, `${name}.db`)} }
http: { port: 0 }
${extra}
devices:
  - id: meter-1
    driver: modbus
    connection: { protocol: rtu, path: ${join(dir, 'no-such-port')}, unitId: 1, timeout: 100ms }
    every: 1s
    points:
      volts: { register: holding, address: 40001, type: uint16 }
`);
  return file;
};

const scriptAvailable = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;
const TIMESTAMPED = /^\[\d\d:\d\d:\d\d\.\d{3}\] (INFO|WARN|ERROR|DEBUG): /;

/** Runs the CLI under a pty until `until` appears (or it exits); the terminal's text, colours stripped. */
function underPty(args: string[], until: RegExp, env: Record<string, string> = {}): Promise<string> {
  const command = [process.execPath, CLI, ...args].map((a) => `'${a}'`).join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`no ${until} within 20 s:\n${out}`)), 20_000);
    const finish = (err?: Error) => {
      clearTimeout(timer);
      try {
        process.kill(-(child.pid as number), 'SIGTERM');
      } catch {
        // already gone
      }
      if (err) reject(err);
      else resolve(out.replace(/\r/g, ''));
    };
    child.stdout.on('data', (d: Buffer) => {
      // eslint-disable-next-line no-control-regex -- the terminal's colour codes
      out += d.toString().replace(/\x1b\[[0-9;]*m/g, '').replace(/\r/g, '');
      if (until.test(out)) finish();
    });
    child.on('exit', () => finish());
  });
}

describe.skipIf(missing('script', scriptAvailable, 'Debian package util-linux'))('readable logs on a terminal, JSON elsewhere', () => {
  it('run on a terminal: one readable line per event, errors on the line, no JSON', async () => {
    const out = await underPty(['run', '--config', config('tty')], /device not answering.*\n/);
    const lines = out.split('\n').filter((l) => l.trim() !== '');
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) expect(line, 'every line is one event').toMatch(TIMESTAMPED);
    expect(out).toMatch(/^\[[\d:.]+\] WARN: config hint: devices\[0\]\.points\.volts\.address: 40001 looks like Modicon notation.* \{"path":"devices\[0\]\.points\.volts\.address"\}$/m);
    expect(out).toMatch(/^\[[\d:.]+\] INFO: agent started \{"devices":1,"points":1,.*\}$/m);
    // an error ends its event's line (pino-pretty alone would print it as an indented block)
    expect(out).toMatch(/^\[[\d:.]+\] WARN: modbus bus link failed; reopening with back-off: cannot open serial port .*no-such-port.* \{"component":"modbus-bus",.*\}$/m);
    expect(out).not.toMatch(/"level":/);
  });

  it('run --once on a terminal: its warnings (on stderr) are readable too', async () => {
    const out = await underPty(['run', '--once', '--config', config('once')], /meter-1\/volts/);
    expect(out).toMatch(/^\[[\d:.]+\] WARN: config hint: devices\[0\]\.connection\.path|^\[[\d:.]+\] WARN: config hint: devices\[0\]\.points/m);
    expect(out).not.toMatch(/"level":/);
  });

  it('log.format: json keeps JSON on a terminal', async () => {
    const out = await underPty(['run', '--config', config('json', 'log: { format: json }')], /"msg":"agent started"/);
    const events = out.split('\n').filter((l) => l.startsWith('{'));
    expect(events.length).toBeGreaterThan(2);
    for (const l of events) expect(JSON.parse(l)).toHaveProperty('level');
  });

  it('through a pipe (journald, Docker, jq): JSON lines, whatever the format says on auto', async () => {
    const r = await runCli(['run', '--once', '--config', config('pipe')]);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(JSON.parse(l) as Record<string, unknown>).toMatchObject({ level: expect.any(String), msg: expect.any(String) });
    expect(lines.some((l) => (JSON.parse(l) as { msg: string }).msg.startsWith('config hint'))).toBe(true);
  });
});
