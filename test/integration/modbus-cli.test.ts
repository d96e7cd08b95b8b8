/**
 * The commissioning commands as a technician runs them (the built CLI, a child process) against
 * real slaves: `probe modbus` over TCP and over RTU on a pty, and `run --once` on a config that
 * mixes a Modbus TCP device with RTU slaves on one serial bus, one of them dead.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeString, encodeValue } from '../../drivers/modbus/decode.js';
import { startModbusRtuServer, type RunningRtuServer } from '../../drivers/modbus/rtu-server.js';
import type { RunningModbusServer } from '../../drivers/modbus/server.js';
import { runCli } from '../helpers/cli.js';
import { RegisterImage, startImageServer } from '../helpers/modbus-server.js';
import { openPtyPair, socatAvailable, type PtyPair } from '../helpers/pty.js';
import { missing } from '../helpers/peers.js';

const dir = mkdtempSync(join(tmpdir(), 'edge-modbus-cli-'));
let tcp: RunningModbusServer;
let pty: PtyPair;
let rtu: RunningRtuServer;

beforeAll(async () => {
  // A meter that sends float32 123.456 word-swapped (CDAB) at holding 100, and a flow at 0.
  tcp = await startImageServer(
    new RegisterImage()
      .setWords('holding', 100, encodeValue(123.456, 'float32', 'CDAB'))
      .setValue('holding', 0, 123, 'uint16')
      .setWords('holding', 1, encodeString('P-17', 2)),
  );
  pty = await openPtyPair();
  rtu = await startModbusRtuServer(
    new Map([
      [1, new RegisterImage().setWords('holding', 0, [0b1000_0000_0000_0010, 0x0c07])],
      [2, new RegisterImage().setWords('input', 5, encodeValue(-1.5, 'float32', 'ABCD'))],
    ]),
    { path: pty.slave, baudRate: 19200, frameGapMs: 10 },
  );
});

afterAll(async () => {
  await tcp?.close();
  await rtu?.close();
  await pty?.close();
});

describe('edge-agent probe modbus', () => {
  it('over TCP: the register table and the four orders, the right one obvious', async () => {
    const r = await runCli(['probe', 'modbus', '--host', '127.0.0.1', '--port', String(tcp.port), '--address', '100', '--count', '2']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^holding registers 100-101 of unit 1 at 127\.0\.0\.1:\d+ \(tcp\)$/m);
    const row = r.stdout.split('\n').find((l) => /^\s+100\s+float32/.test(l));
    // ABCD, CDAB, BADC, DCBA: only CDAB reads 123.456.
    expect(row?.trim().split(/\s{2,}/)[3]).toBe('123.456');
    expect(row?.trim().split(/\s{2,}/)[2]).not.toBe('123.456');
  });

  it.skipIf(missing('socat', socatAvailable(), 'Debian package socat'))('over RTU on a serial port, and a slave that does not answer', async () => {
    const args = ['probe', 'modbus', '--path', pty.master, '--baud-rate', '19200', '--timeout', '300ms'];
    const r = await runCli([...args, '--unit-id', '2', '--register', 'input', '--address', '5', '--count', '2']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^input registers 5-6 of unit 2 on .* \(rtu, 19200 baud, parity none, 1 stop bit\)$/m);
    expect(r.stdout.split('\n').find((l) => /^\s+5\s+float32/.test(l))?.trim().split(/\s{2,}/)[2]).toBe('-1.5');
    const dead = await runCli([...args, '--unit-id', '9', '--address', '0']);
    expect(dead.code).toBe(1);
    expect(dead.stderr).toMatch(/EDGE_DEVICE_TIMEOUT: no answer from unit 9 within 300 ms/);
    expect(dead.stderr).toMatch(/check --unit-id, the baud rate and parity/);
    expect(rtu.requests.get(9)).toBe(1);
  });

  it('usage errors exit 2 and say which option', async () => {
    const r = await runCli(['probe', 'modbus', '--host', '127.0.0.1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing --address/);
    expect((await runCli(['probe', 'bacnet'])).stderr).toMatch(/unknown kind 'bacnet'/);
    const help = await runCli(['probe', 'modbus', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: edge-agent probe modbus/);
  });
});

describe.skipIf(missing('socat', socatAvailable(), 'Debian package socat'))('edge-agent run --once', () => {
  it('polls every device once, prints each point after its transforms, writes nothing', async () => {
    const buffer = join(dir, 'once', 'buffer.db');
    const line = `protocol: rtu, path: ${pty.master}, baudRate: 19200, timeout: 300ms`;
    const file = join(dir, 'once.yaml');
    writeFileSync(
      file,
      `gateway: { id: gw-once }
buffer: { path: ${buffer} }
log: { level: warn }
devices:
  - id: tcp-pump
    driver: modbus
    connection: { protocol: tcp, host: 127.0.0.1, port: ${tcp.port}, timeout: 500ms }
    every: 10s
    points:
      flow: { register: holding, address: 0, type: uint16, scale: 0.1, unit: m3/h }
      name: { register: holding, address: 1, type: string, length: 2 }
      efficiency: { register: holding, address: 100, type: float32, order: CDAB, decimals: 1 }
  - id: rtu-panel
    driver: modbus
    connection: { ${line}, unitId: 1 }
    every: 10s
    points:
      tripped: { register: holding, address: 0, bit: 1, map: { 'false': ok, 'true': TRIPPED } }
      stage:   { register: holding, address: 1, type: uint8, byte: low }
  - id: rtu-dead
    driver: modbus
    connection: { ${line}, unitId: 3 }
    every: 10s
    points:
      level: { register: holding, address: 0, type: float32, unit: m }
`,
    );
    const r = await runCli(['run', '--config', file, '--once']);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toEqual([
      'tcp-pump/flow  12.3 m3/h  (raw 123)  [holding:0 uint16]  ok',
      'tcp-pump/name  P-17  (raw P-17)  [holding:1 string×2]  ok',
      'tcp-pump/efficiency  123.5  (raw 123.456001)  [holding:100 float32 CDAB]  ok',
      'rtu-panel/tripped  TRIPPED  (raw true)  [holding:0 bit 1]  ok',
      'rtu-panel/stage  7  (raw 7)  [holding:1 uint8 low]  ok',
      expect.stringMatching(/^rtu-dead\/level {2}— m {2}\(raw —\) {2}\[holding:0 float32 ABCD\] {2}bad EDGE_DEVICE_TIMEOUT \(no answer from unit 3 within 300 ms\)$/),
    ]);
    // A read failed: exit 1, like a test that did not pass. And nothing was written.
    expect(r.code).toBe(1);
    expect(existsSync(buffer)).toBe(false);
  });
});
