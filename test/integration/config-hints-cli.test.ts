import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'edge-hints-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

// Valid, with two classic commissioning mistakes: Modicon notation and a ttyUSB path.
const mistakes = `gateway: { id: gw-hints }
buffer: { path: ${join(dir, 'buffer.db')} }
http: { port: 0 }
templates:
  meter:
    points:
      volts: { register: holding, address: 40001, type: uint16, order: CDAB }
devices:
  - id: meter-1
    driver: modbus
    connection: { protocol: rtu, path: /dev/ttyUSB0, unitId: 1, timeout: 100ms }
    every: 10s
    template: meter
`;

// Valid, with the other three: Modicon input notation, a poll interval shorter than the bus's
// wire time (125 single-register reads at 9600 baud take about 2.9 s), and seven 10 s timeouts on
// one bus (70 s, past the watchdog's 60 s).
const registers = Array.from({ length: 125 }, (_, i) => `      r${i}: { register: holding, address: ${i}, type: uint16 }`).join('\n');
const bus = (id: number, extra: string) =>
  `  - { id: m${id}, driver: modbus, connection: { protocol: rtu, path: ${join(dir, 'no-such-port')}, unitId: ${id + 1}, timeout: 10s }, every: 1m${extra} }\n`;
const busMistakes = `gateway: { id: gw-bus }
buffer: { path: ${join(dir, 'bus.db')} }
http: { port: 0 }
templates:
  sensor:
    points:
      level: { register: input, address: 30001, type: uint16 }
  long:
    points:
${registers}
devices:
${bus(0, ', template: long, coalesce: false, every: 2s').replace(', every: 1m, template', ', template')}${[1, 2, 3, 4, 5, 6].map((i) => bus(i, ', template: sensor')).join('')}`;

/** The agent's log lines (JSON, stderr is no terminal here) that carry a config hint. */
const hintLogLines = (stderr: string) =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: string; msg: string; path?: string })
    .filter((l) => l.msg.startsWith('config hint'));

describe('config hints on the command line', () => {
  it('validate prints the hints as warnings and exits 0', async () => {
    const cfg = file('mistakes.yaml', mistakes);
    const r = await runCli(['validate', '--config', cfg]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe(`${cfg}: ok, 1 device, 1 point`);
    expect(lines[1]).toBe(`${cfg}: 3 warnings (likely mistakes; the config is valid)`);
    expect(lines.slice(2)).toEqual([
      expect.stringMatching(/^ {2}templates\.meter\.points\.volts\.address: 40001 looks like Modicon notation .*did you mean address 0\?/),
      expect.stringMatching(/^ {2}templates\.meter\.points\.volts\.order: a uint16 is one register: CDAB/),
      expect.stringMatching(/^ {2}devices\[0\]\.connection\.path: \/dev\/ttyUSB0 can change after a reboot/),
    ]);
  });

  it('validate refuses two devices with one unit id on one RTU bus (exit 1)', async () => {
    const twice = mistakes + `  - id: meter-2
    driver: modbus
    connection: { protocol: rtu, path: /dev/ttyUSB0, unitId: 1 }
    every: 10s
    template: meter
`;
    const r = await runCli(['validate', '--config', file('twice.yaml', twice)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/devices\[1\]\.connection\.unitId: unit id 1 is already used on \/dev\/ttyUSB0 by devices\[0\]/);
  });

  it('the agent logs the same hints as warnings when it starts', async () => {
    // --once polls once and exits: the RTU port does not exist, so the poll is bad (exit 1), but the hints come first
    const r = await runCli(['run', '--once', '--config', file('run.yaml', mistakes)]);
    const warnings = hintLogLines(r.stderr);
    expect(warnings.map((w) => [w.level, w.path])).toEqual([
      ['warn', 'templates.meter.points.volts.address'],
      ['warn', 'templates.meter.points.volts.order'],
      ['warn', 'devices[0].connection.path'],
    ]);
    expect(warnings[0]?.msg).toMatch(/did you mean address 0\?/);
  });

  it('validate and the agent at start give the bus hints and the input-register one too', async () => {
    const cfg = file('bus.yaml', busMistakes);
    const expected = [
      ['templates.sensor.points.level.address', /30001 looks like Modicon notation \(30001 is input address 0\): did you mean address 0\?/],
      ['devices.m0.every', /every 2s is shorter than one round of .* at 9600 baud/],
      ['devices.m0.connection.timeout', /the timeouts of the 7 devices on .* add up to 70s, past the watchdog's 1m/],
    ] as const;
    const v = await runCli(['validate', '--config', cfg]);
    expect(v.stderr).toBe('');
    expect(v.code).toBe(0);
    const lines = v.stdout.trim().split('\n');
    expect(lines[1]).toBe(`${cfg}: 3 warnings (likely mistakes; the config is valid)`);
    for (const [i, [path, message]] of expected.entries()) {
      expect(lines[2 + i]?.startsWith(`  ${path}: `)).toBe(true);
      expect(lines[2 + i]).toMatch(message);
    }

    const r = await runCli(['run', '--once', '--config', cfg]);
    const warnings = hintLogLines(r.stderr);
    expect(warnings.map((w) => [w.level, w.path])).toEqual(expected.map(([path]) => ['warn', path]));
    for (const [i, [, message]] of expected.entries()) expect(warnings[i]?.msg).toMatch(message);
  });
});
