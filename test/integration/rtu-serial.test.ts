/**
 * The Modbus RTU driver over real pseudo-terminals (socat pty pairs): our master on one end,
 * modbus-serial's ServerSerial answering as one or several slaves on the other. Real timers
 * (serialport needs them); a ManualClock moves `now` across back-off windows. Assertions are on
 * readings, counts and order, never on how long something took.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Agent } from '../../agent/agent.js';
import type { Point } from '../../buffer/types.js';
import { loadConfig } from '../../config/index.js';
import type { ModbusPoint } from '../../config/types.js';
import { SerialPort } from 'serialport';
import { ModbusBusRegistry } from '../../drivers/modbus/bus-registry.js';
import { encodeString } from '../../drivers/modbus/decode.js';
import { ModbusRtuDriver, type ModbusRtuDevice } from '../../drivers/modbus/rtu-driver.js';
import { crc16 } from '../../drivers/modbus/rtu-frame.js';
import { startModbusRtuServer, type RunningRtuServer } from '../../drivers/modbus/rtu-server.js';
import { imageOf, knownLayout } from '../helpers/modbus-layout.js';
import { rtuDevice } from '../helpers/modbus-rtu.js';
import { ManualClock, modbusPoint, RecordingLogger, RegisterImage } from '../helpers/modbus-server.js';
import { openPtyPair, socatAvailable, type PtyPair } from '../helpers/pty.js';
import { missing } from '../helpers/peers.js';
import { byId, codes, live, useCleanups } from '../helpers/driver-test.js';

const { cleanups, later } = useCleanups();

async function bus(slaves: Record<number, RegisterImage>): Promise<{ pty: PtyPair; server: RunningRtuServer }> {
  const pty = later(await openPtyPair());
  const server = later(await startModbusRtuServer(new Map(Object.entries(slaves).map(([u, img]) => [Number(u), img])), { path: pty.slave, frameGapMs: 10 }));
  return { pty, server };
}

function driver(device: ModbusRtuDevice, opts: { buses?: ModbusBusRegistry; clock?: ManualClock; logger?: RecordingLogger } = {}) {
  const clock = opts.clock ?? new ManualClock();
  const logger = opts.logger ?? new RecordingLogger();
  const buses = opts.buses ?? new ModbusBusRegistry({ clock, reopen: { random: () => 0 } });
  const d = later(new ModbusRtuDriver({ device, buses, clock, logger, backoff: { random: () => 0 } }));
  return { driver: d, clock, logger, buses };
}

describe.skipIf(missing('socat', socatAvailable(), 'Debian package socat'))('ModbusRtuDriver over a pty against modbus-serial ServerSerial', () => {
  it('reads every type in every byte order, coils and discrete inputs, in the order asked', async () => {
    const { points, expected, tables } = knownLayout();
    const { pty } = await bus({ 1: imageOf(tables) });
    const { driver: d } = driver(rtuDevice(pty.master, { points }));
    await d.start();
    const shuffled = [...points].reverse();
    const readings = await d.read(shuffled, live());
    expect(readings.map((r) => r.pointId)).toEqual(shuffled.map((p) => p.id));
    for (const r of readings) expect(r, r.pointId).toMatchObject({ quality: 'good', raw: expected.get(r.pointId) });
    // Touching registers are read together: one request per run, none for the gaps between.
    expect(d.lastReadStats).toMatchObject({ requests: d.lastReadStats?.planned, splits: 0 });
    expect(d.lastReadStats?.requests).toBeLessThan(points.length / 2);
  });

  it('reads strings, single bits and bytes of registers', async () => {
    const image = new RegisterImage()
      .setWords('holding', 0, encodeString('PUMP-17', 4))
      .setWords('holding', 4, [0b1000_0000_0000_0101, 0xfe07])
      .setWords('input', 0, encodeString('Grundfos', 4, 'BADC'));
    const { pty } = await bus({ 5: image });
    const points: ModbusPoint[] = [
      { ...modbusPoint('name', 'holding', 0, 'string'), length: 4 },
      { ...modbusPoint('running', 'holding', 4, 'bool'), bit: 0 },
      { ...modbusPoint('tripped', 'holding', 4, 'bool'), bit: 1 },
      { ...modbusPoint('remote', 'holding', 4, 'bool'), bit: 15 },
      { ...modbusPoint('offset', 'holding', 5, 'int8'), byte: 'high' },
      { ...modbusPoint('stage', 'holding', 5, 'uint8'), byte: 'low' },
      { ...modbusPoint('vendor', 'input', 0, 'string', 'BADC'), length: 4 },
    ];
    const { driver: d } = driver(rtuDevice(pty.master, { unitId: 5, points }));
    const r = byId(await d.read(points, live()));
    expect(Object.fromEntries(Object.entries(r).map(([id, x]) => [id, x.raw]))).toEqual({
      name: 'PUMP-17',
      running: true,
      tripped: false,
      remote: true,
      offset: -2,
      stage: 7,
      vendor: 'Grundfos',
    });
    // One request per table: the bit and byte points share their registers.
    expect(d.lastReadStats?.requests).toBe(2);
  });

  it('an unmapped register inside a coalesced read blanks only its own point, and the split is remembered', async () => {
    const image = new RegisterImage();
    for (let a = 0; a < 16; a++) if (a !== 9) image.setValue('holding', a, a * 10, 'uint16');
    const { pty } = await bus({ 1: image });
    const points = Array.from({ length: 16 }, (_, a) => modbusPoint(`r${a}`, 'holding', a, 'uint16'));
    const logger = new RecordingLogger();
    const { driver: d } = driver(rtuDevice(pty.master, { points }), { logger });
    const first = await d.read(points, live());
    expect(codes(first)).toEqual(points.map((p) => (p.id === 'r9' ? 'EDGE_MODBUS_EXCEPTION_2' : 'good')));
    expect(first.map((r) => r.raw)).toEqual(points.map((p) => (p.id === 'r9' ? null : p.address * 10)));
    expect(d.lastReadStats).toMatchObject({ planned: 1 });
    expect(d.lastReadStats?.splits).toBeGreaterThan(0);
    expect(logger.count(/split there from now on/, 'info')).toBe(1);
    // From now on: [0..8], [9], [10..15], no search, and the same readings.
    const second = await d.read(points, live());
    expect(codes(second)).toEqual(codes(first));
    expect(d.lastReadStats).toEqual({ requests: 3, planned: 3, splits: 0 });
    expect(logger.count(/exception response/, 'warn')).toBe(1);
  });

  it('waits for the line to be quiet before each request, counting from the last byte heard', async () => {
    // A hand-made slave: it answers, then keeps the line busy with stray bytes for a while (a
    // slow slave finishing a late answer, noise). At 300 baud 3.5 characters are 117 ms; the
    // stray bytes come every 5 ms for 300 ms, so the line is not quiet until they stop.
    const pty = later(await openPtyPair());
    const port = new SerialPort({ path: pty.slave, baudRate: 300, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    cleanups.push(() => new Promise<void>((resolve) => port.close(() => resolve())));
    const events: string[] = [];
    let rx = Buffer.alloc(0);
    port.on('data', (chunk: Buffer) => {
      rx = Buffer.concat([rx, chunk]);
      while (rx.length >= 8) {
        const request = rx.subarray(0, 8);
        rx = rx.subarray(8);
        events.push('request');
        const answer = Buffer.from([request[0] ?? 0, 3, 2, 0, 42, 0, 0]);
        answer.writeUInt16LE(crc16(answer, 0, 5), 5);
        port.write(answer);
        for (let i = 1; i <= 60; i++) {
          setTimeout(() => {
            port.write(Buffer.from([0xff]));
            if (i === 60) events.push('last stray byte');
          }, i * 5);
        }
      }
    });
    const points = [modbusPoint('a', 'holding', 0, 'uint16')];
    const { driver: d } = driver(rtuDevice(pty.master, { baudRate: 300, points }), { clock: new ManualClock() });
    expect((await d.read(points, live()))[0]?.raw).toBe(42);
    expect((await d.read(points, live()))[0]?.raw).toBe(42);
    expect(events.slice(0, 3)).toEqual(['request', 'last stray byte', 'request']);
  });

  it('coalesce: false reads each point with its own request', async () => {
    const image = new RegisterImage().setValue('holding', 0, 1, 'uint16').setValue('holding', 1, 2, 'uint16').setValue('holding', 2, 3, 'uint16');
    const { pty } = await bus({ 1: image });
    const points = [0, 1, 2].map((a) => modbusPoint(`r${a}`, 'holding', a, 'uint16'));
    const { driver: d } = driver(rtuDevice(pty.master, { points, coalesce: false }));
    expect((await d.read(points, live())).map((r) => r.raw)).toEqual([1, 2, 3]);
    expect(d.lastReadStats?.requests).toBe(3);
  });

  it('a slave that does not answer costs its timeout once, then is skipped with a growing back-off', async () => {
    const { pty, server } = await bus({ 1: new RegisterImage().setValue('holding', 0, 7, 'uint32') });
    const clock = new ManualClock();
    const logger = new RecordingLogger();
    const points = [modbusPoint('a', 'holding', 0, 'uint32'), modbusPoint('b', 'input', 0, 'uint32')];
    const { driver: dead } = driver(rtuDevice(pty.master, { unitId: 9, timeout: 150, points }), { clock, logger });
    const first = await dead.read(points, live());
    expect(codes(first)).toEqual(['EDGE_DEVICE_TIMEOUT', 'EDGE_DEVICE_TIMEOUT']);
    expect(first[1]?.detail).toMatch(/^not sent after: /);
    expect(server.requests.get(9)).toBe(1);
    // random() = 0: skipped for 500 ms, then 1000 ms, without touching the wire.
    expect(codes(await dead.read(points, live()))).toEqual(['EDGE_DEVICE_BACKOFF', 'EDGE_DEVICE_BACKOFF']);
    clock.advance(500);
    expect(codes(await dead.read(points, live()))).toEqual(['EDGE_DEVICE_TIMEOUT', 'EDGE_DEVICE_TIMEOUT']);
    clock.advance(999);
    expect(codes(await dead.read(points, live()))).toEqual(['EDGE_DEVICE_BACKOFF', 'EDGE_DEVICE_BACKOFF']);
    expect(server.requests.get(9)).toBe(2);
    expect(logger.count(/slave not answering/, 'warn')).toBe(1);
  });

  it('a missing serial port is EDGE_DEVICE_UNREACHABLE, backs off, and is used once it appears', async () => {
    const clock = new ManualClock();
    const pty = await openPtyPair();
    const path = pty.master;
    await pty.close(); // the "adapter" is unplugged: the path does not exist
    const points = [modbusPoint('a', 'holding', 0, 'uint16')];
    const { driver: d, buses } = driver(rtuDevice(path, { points }), { clock });
    await expect(d.start()).resolves.toBeUndefined();
    const missing = await d.read(points, live());
    expect(missing[0]).toMatchObject({ quality: 'bad', error: 'EDGE_DEVICE_BACKOFF' });
    expect(missing[0]?.detail).toMatch(/reopened in 500 ms \(after: cannot open serial port/);
    clock.advance(500);
    expect(codes(await d.read(points, live()))).toEqual(['EDGE_DEVICE_UNREACHABLE']);
    expect(buses.size).toBe(1);
    // Plugged in again (a new pty at the same path), after the back-off: read as if nothing happened.
    const again = later(await openPtyPair({ master: path }));
    later(await startModbusRtuServer(new Map([[1, new RegisterImage().setValue('holding', 0, 42, 'uint16')]]), { path: again.slave, frameGapMs: 10 }));
    clock.advance(1000);
    expect((await d.read(points, live()))[0]).toMatchObject({ quality: 'good', raw: 42 });
  });

  it('a bus that cannot keep up refuses requests (EDGE_BUS_QUEUE_FULL) rather than queueing them', async () => {
    const images: Record<number, RegisterImage> = {};
    for (const u of [1, 2, 3]) images[u] = new RegisterImage().setValue('holding', 0, u, 'uint16');
    const { pty } = await bus(images);
    const clock = new ManualClock();
    const buses = new ModbusBusRegistry({ clock, maxQueue: 1 });
    const points = [modbusPoint('a', 'holding', 0, 'uint16')];
    const drivers = [1, 2, 3].map((u) => driver(rtuDevice(pty.master, { id: `d${u}`, unitId: u, points }), { buses, clock }).driver);
    const results = await Promise.all(drivers.map((d) => d.read(points, live())));
    // One on the wire, one waiting, the third refused at once.
    expect(results.map((r) => r[0]?.error ?? r[0]?.raw)).toEqual([1, 2, 'EDGE_BUS_QUEUE_FULL']);
    expect(buses.get(`rtu:${pty.master}`)?.stats).toMatchObject({ refused: 1, maxWaiting: 1 });
    // Refusing is not the slave's fault: the next poll asks it normally.
    expect((await drivers[2]!.read(points, live()))[0]?.raw).toBe(3);
  });

  it('devices on one path share one bus; the last one to stop closes the port', async () => {
    const { pty } = await bus({ 1: new RegisterImage().setValue('holding', 0, 1, 'uint16'), 2: new RegisterImage().setValue('holding', 0, 2, 'uint16') });
    const clock = new ManualClock();
    const buses = new ModbusBusRegistry({ clock });
    const points = [modbusPoint('a', 'holding', 0, 'uint16')];
    const a = driver(rtuDevice(pty.master, { id: 'a', unitId: 1, points }), { buses, clock }).driver;
    const b = driver(rtuDevice(pty.master, { id: 'b', unitId: 2, points }), { buses, clock }).driver;
    await Promise.all([a.start(), b.start()]);
    expect(buses.size).toBe(1);
    expect((await Promise.all([a.read(points, live()), b.read(points, live())])).map((r) => r[0]?.raw)).toEqual([1, 2]);
    await a.stop();
    expect(buses.size).toBe(1);
    expect((await b.read(points, live()))[0]?.raw).toBe(2);
    await Promise.all([b.stop(), b.stop()]);
    expect(buses.size).toBe(0);
    expect((await b.read(points, live()))[0]).toMatchObject({ error: 'EDGE_DEVICE_ABORTED', detail: 'driver stopped' });
  });

  it('stop() ends a request in flight at once', async () => {
    const { pty } = await bus({ 1: new RegisterImage() });
    const points = [modbusPoint('a', 'holding', 0, 'uint16')];
    const { driver: d } = driver(rtuDevice(pty.master, { unitId: 4, timeout: 10_000, points }));
    await d.start();
    const pending = d.read(points, live());
    await new Promise((r) => setTimeout(r, 50));
    await d.stop();
    expect(codes(await pending)).toEqual(['EDGE_DEVICE_ABORTED']);
  });
});

describe.skipIf(missing('socat', socatAvailable(), 'Debian package socat'))('three slaves on one RTU bus, one of them dead, polled by the agent', () => {
  it('the two healthy ones keep their schedule and deliver; the dead one costs its timeout, then is skipped', async () => {
    const pump = new RegisterImage().setValue('holding', 0, 36.5, 'float32').setValue('holding', 2, 1, 'uint16');
    const meter = new RegisterImage().setValue('input', 10, 123456, 'uint32', 'CDAB').setWords('input', 12, encodeString('FM-2', 2));
    const { pty, server } = await bus({ 1: pump, 2: meter }); // unit 3 is on the config, not on the bus
    const dir = mkdtempSync(join(tmpdir(), 'edge-rtu-agent-'));
    const file = join(dir, 'config.yaml');
    const line = `protocol: rtu, path: ${pty.master}, baudRate: 19200`;
    writeFileSync(
      file,
      `gateway: { id: gw-rtu }
buffer: { path: ${join(dir, 'buffer.db')} }
devices:
  - id: level        # first in line at every tick: its timeout is paid before the others are asked
    driver: modbus
    connection: { ${line}, unitId: 3, timeout: 250ms }
    every: 500ms
    points:
      level: { register: holding, address: 0, type: float32 }
      temp:  { register: holding, address: 2, type: int16 }
  - id: pump
    driver: modbus
    connection: { ${line}, unitId: 1, timeout: 250ms }
    every: 500ms
    points:
      flow:    { register: holding, address: 0, type: float32, unit: m3/h }
      running: { register: holding, address: 2, type: uint16 }
  - id: meter
    driver: modbus
    connection: { ${line}, unitId: 2, timeout: 250ms }
    every: 500ms
    points:
      total: { register: input, address: 10, type: uint32, order: CDAB }
      tag:   { register: input, address: 12, type: string, length: 2 }
`,
    );
    const config = loadConfig({ file, env: {} });
    const agent = new Agent({ config, logger: pino({ level: process.env.DBG ? 'debug' : 'silent' }), sinks: [] });
    const delivered = new Map<string, Point[]>();
    agent.pipeline.onPoints((points) => {
      for (const p of points) delivered.set(p.deviceId, [...(delivered.get(p.deviceId) ?? []), p]);
    });
    cleanups.push(() => agent.stop());
    await agent.start();
    await new Promise((r) => setTimeout(r, 3200));
    // Snapshot before stop(): stopping aborts the polls in flight, and those are not the subject here.
    // Readings are stored (and seen by onPoints) once per commit interval: commit what was read so far.
    agent.pipeline.flush();
    const healths = new Map([...agent.runners].map(([id, r]) => [id, { ...r.health }]));
    const deliveredAt = new Map([...delivered].map(([id, points]) => [id, [...points]]));
    await agent.stop();
    delivered.clear();
    for (const [id, points] of deliveredAt) delivered.set(id, points);

    const health = (id: string) => healths.get(id) ?? expect.fail(`no runner ${id}`);
    const polls = health('level').polls;
    expect(polls).toBeGreaterThanOrEqual(5);
    for (const id of ['pump', 'meter']) {
      const h = health(id);
      // Same schedule as the dead one, no tick skipped, every point of every poll good.
      expect(h.overruns, id).toBe(0);
      expect(Math.abs(h.polls - polls), id).toBeLessThanOrEqual(1);
      expect(h.pointsFailed, id).toBe(0);
      expect(h.requestsPerCycle, id).toBe(1);
      expect(delivered.get(id)?.length, id).toBe(h.polls * 2);
    }
    expect(delivered.get('pump')?.find((p) => p.pointId === 'flow')).toMatchObject({ value: 36.5, unit: 'm3/h', quality: 'good' });
    expect(delivered.get('meter')?.find((p) => p.pointId === 'tag')).toMatchObject({ value: 'FM-2', quality: 'good' });
    // The dead slave: bad points every poll (data, not silence), its timeout paid on far fewer polls than it had.
    const dead = health('level');
    expect(dead.overruns).toBe(0);
    expect(dead.consecutiveFailures).toBe(polls);
    expect(delivered.get('level')?.every((p) => p.quality === 'bad')).toBe(true);
    expect(new Set(delivered.get('level')?.map((p) => p.error))).toEqual(new Set(['EDGE_DEVICE_TIMEOUT', 'EDGE_DEVICE_BACKOFF']));
    const tried = server.requests.get(3) ?? 0;
    expect(tried).toBeGreaterThanOrEqual(1);
    expect(tried).toBeLessThan(polls);
  });
});

describe.skipIf(missing('socat', socatAvailable(), 'Debian package socat') || missing('mbpoll', mbpollAvailable(), 'Debian package mbpoll'))('our RTU slave simulator, read by an independent master (mbpoll)', () => {
  it('answers holding registers, floats, coils and exceptions as a real slave would', async () => {
    const image = new RegisterImage()
      .setWords('holding', 0, [0x42f6, 0xe979, 0x1234, 0xffff])
      .setBit('coil', 0, true)
      .setBit('coil', 1, false)
      .setBit('coil', 2, true);
    const { pty, server } = await bus({ 1: image, 2: new RegisterImage().setValue('input', 5, -7, 'int16') });
    const mbpoll = (args: string[]) => run('mbpoll', ['-m', 'rtu', '-b', '19200', '-P', 'none', '-0', '-1', '-o', '0.3', ...args, pty.master]);
    const hex = await mbpoll(['-a', '1', '-t', '4:hex', '-r', '0', '-c', '4']);
    expect(values(hex)).toEqual(['0x42F6', '0xE979', '0x1234', '0xFFFF']);
    const float = await mbpoll(['-a', '1', '-t', '4:float', '-B', '-r', '0', '-c', '1']);
    expect(Number(values(float)[0])).toBeCloseTo(123.456, 3);
    expect(values(await mbpoll(['-a', '1', '-t', '0', '-r', '0', '-c', '3']))).toEqual(['1', '0', '1']);
    expect(values(await mbpoll(['-a', '2', '-t', '3', '-r', '5', '-c', '1']))).toEqual(['65529']); // -7 as mbpoll shows a register
    expect((await mbpoll(['-a', '1', '-t', '4', '-r', '100', '-c', '1'])).out).toMatch(/Illegal data address/i);
    expect((await mbpoll(['-a', '9', '-t', '4', '-r', '0', '-c', '1'])).out).toMatch(/timed out|Connection timed out/i);
    expect(server.requests.get(9)).toBe(1);
  });
});

function mbpollAvailable(): boolean {
  return spawnSync('mbpoll', ['-V'], { stdio: 'ignore' }).status === 0;
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

/** mbpoll prints `[ref]: value` lines. */
function values(r: { out: string }): string[] {
  return [...r.out.matchAll(/^\[\d+\]:\s+(\S+)/gm)].map((m) => m[1] as string);
}
