/**
 * The serial line driver against real pseudo-terminals (socat pty pairs): serialport opens the
 * device file exactly as it opens /dev/ttyUSB0, and the "device" writes at the other end.
 */
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checkDocument } from '../../config/index.js';
import type { SerialDevice } from '../../config/types.js';
import { SerialLineDriver } from '../../drivers/serial/driver.js';
import type { Reading } from '../../drivers/types.js';
import { openPtyPair, socatAvailable, type PtyPair } from '../helpers/pty.js';
import { eventually, SerialPeer } from '../helpers/serial-peer.js';

function serialDevice(over: Record<string, unknown>): SerialDevice {
  const r = checkDocument({ gateway: { id: 'gw-1' }, devices: [{ id: 'monitor-1', driver: 'serial', ...over }] }, { env: {} });
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
  return r.config.devices[0] as SerialDevice;
}

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function pair(): Promise<PtyPair> {
  const p = await openPtyPair();
  cleanup.push(() => p.close());
  return p;
}
async function peer(path: string): Promise<SerialPeer> {
  const s = await SerialPeer.open(path);
  cleanup.push(() => s.close());
  return s;
}
function driver(device: SerialDevice): { d: SerialLineDriver; got: Reading[][] } {
  const d = new SerialLineDriver({ device, reopen: { initialMs: 50, maxMs: 200 } });
  const got: Reading[][] = [];
  d.onReadings((r) => got.push(r));
  cleanup.push(() => d.stop());
  return { d, got };
}
const values = (batch: Reading[] | undefined) => Object.fromEntries((batch ?? []).map((r) => [r.pointId, r.quality === 'good' ? r.raw : r.error]));

beforeAll(() => {
  if (!socatAvailable()) throw new Error('socat is needed for the serial tests (apt-get install socat)');
});

describe('serial line driver over a pty pair', () => {
  it('streams one reading batch per line; garbage lines are counted, not fatal', async () => {
    const p = await pair();
    const { d, got } = driver(
      serialDevice({
        connection: { path: p.master, baudRate: 115200 },
        parse: { regex: '^HR=(?<hr>\\d+) SPO2=(?<spo2>\\d+)(?: T=(?<temp>-?[\\d.]+))?$' },
        points: { hr: { unit: 'bpm' }, spo2: {}, temp: { unit: '°C' } },
      }),
    );
    await d.start();
    const monitor = await peer(p.slave);
    await monitor.write('BOOT v1.2 (c) ACME\r\nHR=72 SPO2=98\r\n');
    await monitor.write('HR=75 SPO2=9');
    await monitor.write('7 T=36.6\r\n\u0000\u00ff\u0013garbage\r\nHR=80 SPO2=96\r\n');
    await eventually('three readings batches', () => got.length >= 3);
    expect(got.map(values)).toEqual([{ hr: 72, spo2: 98 }, { hr: 75, spo2: 97, temp: 36.6 }, { hr: 80, spo2: 96 }]);
    expect(d.stats).toMatchObject({ open: true, lines: 5, garbageLines: 2, readings: 7, badReadings: 0 });
    expect(got[0]?.[0]?.ts).toBeTypeOf('number');
  });

  it('parses key=value and CSV lines; a field that is not a number is a bad reading', async () => {
    const kvPair = await pair();
    const kv = driver(serialDevice({ connection: { path: kvPair.master }, parse: { keyValue: {} }, points: { T: { scale: 0.1 }, H: {}, door: { field: 'DOOR', type: 'bool' } } }));
    await kv.d.start();
    const station = await peer(kvPair.slave);
    await station.write('T=215 H=40 DOOR=open\nT=abc, H = 41\nDOOR=off\n');
    await eventually('three key=value lines', () => kv.got.length >= 3);
    expect(kv.got.map(values)).toEqual([{ T: 215, H: 40, door: 'EDGE_VALUE_NOT_BOOLEAN' }, { T: 'EDGE_VALUE_NOT_NUMERIC', H: 41 }, { door: false }]);
    expect(kv.d.stats).toMatchObject({ readings: 6, badReadings: 2, garbageLines: 0 });

    const csvPair = await pair();
    const csv = driver(serialDevice({ connection: { path: csvPair.master, delimiter: '\r\n' }, parse: { csv: { separator: ';', columns: ['id', 'gross', 'tare', 'unit'] } }, points: { gross: {}, tare: {}, unit: { type: 'string' }, id: { field: 0, type: 'string' } } }));
    await csv.d.start();
    const scale = await peer(csvPair.slave);
    await scale.write('S1;12.50;0.25;kg\r\nS1;"12.75";0.25;"kg"\r\n');
    await eventually('two CSV lines', () => csv.got.length >= 2);
    expect(csv.got.map(values)).toEqual([
      { id: 'S1', gross: 12.5, tare: 0.25, unit: 'kg' },
      { id: 'S1', gross: 12.75, tare: 0.25, unit: 'kg' },
    ]);
  });

  it('polls: sends the command, skips the echo, reads the reply; a silent device times out', async () => {
    const p = await pair();
    const device = serialDevice({
      connection: { path: p.master, timeout: '300ms', delimiter: '\r\n' },
      command: 'READ\r\n',
      every: '1s',
      parse: { regex: '^W=(?<weight>[-\\d.]+) (?<unit>\\w+)$' },
      points: { weight: {}, unit: { type: 'string' } },
    });
    const { d } = driver(device);
    await d.start();
    const scale = await peer(p.slave);
    let mode: 'answer' | 'silent' | 'garbage' | 'partial' = 'answer';
    scale.onCommand((command) => {
      if (command !== 'READ\r\n') return `ERR unknown ${JSON.stringify(command)}\r\n`;
      if (mode === 'silent') return undefined;
      if (mode === 'garbage') return 'READ\r\n?? E7\r\n';
      return 'READ\r\nW=12.5 kg\r\n';
    });
    const signal = new AbortController().signal;
    const ok = await d.read(device.points, signal);
    expect(ok.map((r) => [r.pointId, r.raw, r.quality])).toEqual([['weight', 12.5, 'good'], ['unit', 'kg', 'good']]);

    mode = 'silent';
    const silent = await d.read([{ id: 'weight', field: 'weight', type: 'number' }], signal);
    expect(silent[0]).toMatchObject({ quality: 'bad', error: 'EDGE_DEVICE_TIMEOUT' });

    mode = 'garbage';
    const garbage = await d.read([{ id: 'weight', field: 'weight', type: 'number' }], signal);
    expect(garbage[0]).toMatchObject({ quality: 'bad', error: 'EDGE_LINE_UNPARSED' });

    mode = 'answer';
    const missing = await d.read([{ id: 'weight', field: 'weight', type: 'number' }, { id: 'battery', field: 'battery', type: 'number' }], signal);
    expect(missing.map((r) => r.error)).toEqual([undefined, 'EDGE_LINE_FIELD_MISSING']);
    expect(d.stats.garbageLines).toBeGreaterThanOrEqual(2);
  });

  it('survives the device being unplugged and plugged in again, and a port missing at start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-serial-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'ttyUSB0');
    const { d, got } = driver(serialDevice({ connection: { path }, parse: { keyValue: {} }, points: { T: {} } }));
    // Nothing at the path yet: start() does not throw; the driver keeps trying.
    await d.start();
    expect(d.stats.open).toBe(false);
    await eventually('a second open attempt', () => d.stats.openFailures >= 2);

    const first = await pair();
    symlinkSync(first.master, path);
    await eventually('the port opened', () => d.stats.open);
    let sensor = await SerialPeer.open(first.slave);
    await sensor.write('T=1\n');
    await eventually('the first reading', () => got.length === 1);

    // Unplugged: the pty disappears under the open port.
    await sensor.close();
    await first.close();
    await eventually('the port closed', () => !d.stats.open);
    rmSync(path);

    // Plugged in again (a new device file at the same path).
    const second = await pair();
    symlinkSync(second.master, path);
    await eventually('the port reopened', () => d.stats.open && d.stats.opens === 2);
    sensor = await peer(second.slave);
    await sensor.write('T=2\n');
    await eventually('a reading after the replug', () => got.length === 2);
    expect(got.map(values)).toEqual([{ T: 1 }, { T: 2 }]);
    await d.stop();
    await d.stop(); // idempotent
  });
});
