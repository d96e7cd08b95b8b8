import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { demoConfigPath } from '../../agent/cli.js';
import { loadConfig } from '../../config/index.js';
import { CLI, collect, runCli, startCli, waitForOutput } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'edge-cli-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('edge-agent validate', () => {
  it('accepts the demo config with a one-line summary', async () => {
    const r = await runCli(['validate', '--demo']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/demo\.yaml: ok, 1 device, \d+ points$/);
    // With its local alert (the demo shows one raised and cleared within a minute or two).
    const flow = loadConfig({ file: demoConfigPath(), env: {} }).devices[0]?.points.find((p) => p.id === 'flow');
    expect(flow?.alerts).toMatchObject([{ id: 'flow-high', above: 36.4, clearBelow: 36, for: 4000, clearFor: 4000, severity: 'warning' }]);
  });

  it('lists every error of a broken file with its path and exits 1', async () => {
    const broken = file(
      'broken.yaml',
      `gateway: { id: gw-1, colour: red }
buffer: { path: ${join(dir, 'b.db')} }
templates:
  meter:
    points:
      flow: { register: holding, address: 0, type: float33 }
devices:
  - id: pump-1
    driver: modbus
    connection: { protocol: tcp, host: 127.0.0.1, port: 70000 }
    every: 10 seconds
    template: meter
  - id: pump-2
    driver: modbus
    connection: { protocol: tcp, host: 127.0.0.1 }
    every: 1s
    template: nope
    points:
      level: { register: holding, type: int16 }
`,
    );
    const r = await runCli(['validate', '--config', broken]);
    expect(r.code).toBe(1);
    const lines = r.stderr.split('\n');
    // The first line names the code, as `run` does for the same file (and with the count).
    expect(lines[0]).toBe(`${broken}: configuration invalid (EDGE_CONFIG_INVALID), ${lines.filter((l) => l.startsWith('  ')).length} errors`);
    const has = (re: RegExp) => expect(lines.some((l) => re.test(l)), `expected a line matching ${re} in:\n${r.stderr}`).toBe(true);
    has(/gateway\.colour: /);
    has(/templates\.meter\.points\.flow\.type: /);
    has(/devices\[0\]\.connection\.port: /);
    has(/devices\[0\]\.every: .*invalid duration/);
    has(/devices\[1\]\.template: .*nope/);
    has(/devices\[1\]\.points\.level\.address: /);
    expect(r.stdout).toBe('');
  });

  it('refuses a tag named like a field the InfluxDB sink writes (InfluxDB 3 would reject every line)', async () => {
    const f = file(
      'collide.yaml',
      `gateway: { id: gw-1 }
devices:
  - { id: m1, driver: modbus, connection: { protocol: tcp, host: 127.0.0.1 }, every: 5s, tags: { value: x }, points: { a: { register: input, address: 3, type: int16 } } }
  - { id: q1, driver: mqtt, topic: "ward/{state}/temp", points: { t: {} } }
`,
    );
    const r = await runCli(['validate', '--config', f]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/devices\[0\]\.tags\.value: "value" is a field name the InfluxDB sink writes; InfluxDB 3 refuses/);
    expect(r.stderr).toMatch(/devices\[1\]\.topic: \{state\}: "state" is a field name/);
  });

  it('reads JSON with the same schema', async () => {
    const json = file(
      'ok.json',
      JSON.stringify({
        gateway: { id: 'gw-json' },
        devices: [{ id: 'm1', driver: 'modbus', connection: { protocol: 'tcp', host: '127.0.0.1' }, every: '5s', points: { a: { register: 'input', address: 3, type: 'int16' } } }],
      }),
    );
    const r = await runCli(['validate', '--config', json]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/1 device, 1 point$/m);
  });

  it('explains usage errors with exit 2, and has --help on each command', async () => {
    const r = await runCli(['validate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing --config FILE/);
    const h = await runCli(['run', '--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/Usage: edge-agent run/);
    const v = await runCli(['validate', '--help']);
    expect(v.stdout).toMatch(/Usage: edge-agent validate/);
    const u = await runCli(['frobnicate']);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/unknown command 'frobnicate'/);
  });

  it('refuses to run an invalid config before any I/O', async () => {
    const bad = file('bad.yaml', `gateway: { id: gw-1 }\nbuffer: { path: ${join(dir, 'never', 'b.db')} }\nlog: { level: loud }\n`);
    const r = await runCli(['run', '--config', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/EDGE_CONFIG_INVALID/);
    expect(r.stderr).toMatch(/log\.level: /);
  });

  it('validate and run name the same code for an invalid or unreadable file, both exit 1', async () => {
    const bad = file('one-error.yaml', 'gateway: { id: gw-1 }\nlog: { level: loud }\n');
    const missingFile = join(dir, 'no-such.yaml');
    for (const f of [bad, missingFile]) {
      const v = await runCli(['validate', '--config', f]);
      const r = await runCli(['run', '--once', '--config', f]);
      expect([v.code, r.code]).toEqual([1, 1]);
      expect(v.stderr.split('\n')[0]).toBe(`${f}: configuration invalid (EDGE_CONFIG_INVALID), 1 error`);
      expect(r.stderr.split('\n')[0]).toBe(`${f}: configuration invalid (EDGE_CONFIG_INVALID)`);
      expect(v.stderr.split('\n').slice(1)).toEqual(r.stderr.split('\n').slice(1));
      expect(v.stdout).toBe('');
    }
  });
});

describe('edge-agent run --demo', () => {
  it('polls the simulated pump, prints points, and exits 0 on SIGTERM', async () => {
    const child = startCli(['run', '--demo'], { EDGE_BUFFER_PATH: join(dir, 'demo', 'buffer.db'), EDGE_LOG_LEVEL: 'info' });
    const exited = collect(child, 30_000);
    const out = await waitForOutput(child, /pump-1\/flow .*m3\/h/, 20_000);
    expect(out).toMatch(/"msg":"agent started"/);
    child.kill('SIGTERM');
    const r = await exited;
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/"msg":"agent stopped"/);
  });
});

describe('two demos on one box', () => {
  const lines = (out: string) => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; port?: number; configuredPort?: number; devices?: string[] });

  it('both poll: a demo whose simulator port is taken moves its simulator and device to a free port, and says so', { timeout: 90_000 }, async () => {
    const start = (name: string) => startCli(['run', '--demo'], { EDGE_BUFFER_PATH: join(dir, name, 'buffer.db'), EDGE_HTTP_PORT: '0', EDGE_LOG_LEVEL: 'info' });
    // At once, as two test files (or two terminals) do.
    const a = start('demo-a');
    const b = start('demo-b');
    const exits = [collect(a, 80_000), collect(b, 80_000)];
    try {
      const [outA, outB] = await Promise.all([waitForOutput(a, /pump-1\/flow .*m3\/h/, 30_000), waitForOutput(b, /pump-1\/flow .*m3\/h/, 30_000)]);
      const listening = [outA, outB].map((o) => lines(o).find((l) => l.msg === 'simulator listening')?.port);
      expect(listening[0]).toBeGreaterThan(0);
      expect(listening[1]).toBeGreaterThan(0);
      expect(listening[0]).not.toBe(listening[1]);
      const moved = [outA, outB].flatMap(lines).filter((l) => /^simulator port 15020 is in use/.test(l.msg));
      expect(moved.length).toBeGreaterThanOrEqual(1);
      for (const m of moved) expect(m).toMatchObject({ configuredPort: 15020, devices: ['pump-1'] });
      // Each demo polls its own simulator: with the one on 15020 gone, the moved one still reads.
      const first = listening[0] === 15020 ? a : b;
      const other = first === a ? b : a;
      first.kill('SIGTERM');
      await exits[first === a ? 0 : 1];
      // Two good readings after it (a bad one prints `null m3/h … [bad EDGE_…]`).
      const good = String.raw`pump-1/flow\s+[\d.]+ m3/h\s+\(raw [^)]*\)$`;
      await waitForOutput(other, new RegExp(`${good}[\\s\\S]*${good}`, 'm'), 15_000);
    } finally {
      a.kill('SIGTERM');
      b.kill('SIGTERM');
    }
    const results = await Promise.all(exits);
    expect(results.map((r) => r.code)).toEqual([0, 0]);
  });
});

describe('one agent per buffer file', () => {
  it('two demos started in one folder (npm start twice) buffer in two files, serve HTTP on two ports and both poll', { timeout: 90_000 }, async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'edge-demo-cwd-'));
    // The demo's own HTTP port (8080): the second demo, or both if something else holds it, moves.
    const env: NodeJS.ProcessEnv = { ...process.env, EDGE_LOG_LEVEL: 'info' };
    delete env.EDGE_HTTP_PORT;
    const start = () => spawn(process.execPath, [CLI, 'run', '--demo'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const a = start();
    const b = start();
    const exits = [collect(a, 80_000), collect(b, 80_000)];
    try {
      // A reading and the HTTP server's "listening", in whichever order they come.
      const ready = /^(?=[\s\S]*pump-1\/flow\s+[\d.]+ m3\/h)(?=[\s\S]*"msg":"http listening")/;
      const outs = await Promise.all([waitForOutput(a, ready, 30_000), waitForOutput(b, ready, 30_000)]);
      const moved = outs.join('\n').split('\n').filter((l) => l.includes('"code":"EDGE_BUFFER_IN_USE"'));
      expect(moved).toHaveLength(1);
      expect(JSON.parse(moved[0] as string)).toMatchObject({ level: 'warn', configured: './data/buffer.db', path: './data/buffer-2.db' });
      expect(outs.join('\n')).not.toMatch(/readings could not be stored|UNIQUE constraint|EDGE_HTTP_LISTEN_FAILED/);
      const httpPorts = outs.map((o) => o.split('\n').filter((l) => l.includes('"msg":"http listening"')).map((l) => (JSON.parse(l) as { port: number }).port));
      expect(httpPorts.every((p) => p.length === 1)).toBe(true);
      expect(httpPorts[0]![0]).not.toBe(httpPorts[1]![0]);
      for (const [p] of httpPorts) expect((await fetch(`http://127.0.0.1:${p!}/health`)).status).toBe(200);
    } finally {
      a.kill('SIGTERM');
      b.kill('SIGTERM');
    }
    expect((await Promise.all(exits)).map((r) => r.code)).toEqual([0, 0]);
    expect(existsSync(join(cwd, 'data', 'buffer.db'))).toBe(true);
    expect(existsSync(join(cwd, 'data', 'buffer-2.db'))).toBe(true);
  });

  it('a second run on the buffer of a running agent (a config of your own) stops with EDGE_BUFFER_IN_USE; a killed one leaves no stale lock', { timeout: 60_000 }, async () => {
    const cfg = file('held.yaml', `gateway: { id: gw-held }\nbuffer: { path: ${join(dir, 'held', 'buffer.db')} }\nhttp: { port: 0 }\n`);
    const first = startCli(['run', '--config', cfg]);
    const firstExit = collect(first, 50_000);
    await waitForOutput(first, /"msg":"agent started"/, 20_000);
    const second = await runCli(['run', '--config', cfg]);
    expect(second.code).toBe(1);
    const fatal = second.stdout.split('\n').find((l) => l.includes('"level":"fatal"'));
    expect(JSON.parse(fatal ?? '{}')).toMatchObject({ code: 'EDGE_BUFFER_IN_USE', path: join(dir, 'held', 'buffer.db') });
    expect(second.stdout).not.toMatch(/"msg":"buffer open"/);
    first.kill('SIGKILL'); // a power cut: the kernel drops the lock with the process
    await firstExit;
    const third = startCli(['run', '--config', cfg]);
    const thirdExit = collect(third, 30_000);
    await waitForOutput(third, /"msg":"agent started"/, 20_000);
    third.kill('SIGTERM');
    expect((await thirdExit).code).toBe(0);
  });
});

describe("V8's optimising compiler", () => {
  // V8's --trace-opt prints a line for each function TurboFan compiles.
  it('is off for a one-shot command (validate) and on for the daemon (run)', async () => {
    const validate = spawnSync(process.execPath, ['--trace-opt', CLI, 'validate', '--demo'], { encoding: 'utf8', timeout: 30_000 });
    expect(validate.status, validate.stderr).toBe(0);
    expect(validate.stdout).toMatch(/demo\.yaml: ok/);
    expect(validate.stdout).not.toMatch(/completed (optimizing|compiling).*TURBOFAN/);

    // The command after its options: still the daemon.
    const run = spawn(process.execPath, ['--trace-opt', CLI, '--demo', 'run'], {
      env: { ...process.env, EDGE_BUFFER_PATH: join(dir, 'opt', 'buffer.db'), EDGE_HTTP_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = collect(run, 60_000);
    await waitForOutput(run, /"msg":"agent started"/, 30_000);
    await waitForOutput(run, /completed (optimizing|compiling).*TURBOFAN/, 30_000);
    run.kill('SIGTERM');
    expect((await exited).code).toBe(0);
  }, 60_000);
});
