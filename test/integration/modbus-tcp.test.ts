/**
 * The Modbus TCP driver against real peers on loopback: modbus-serial's ServerTCP, a silent
 * TCP server, the well-pump simulator, and (below) Debian's pymodbus as an independent
 * implementation. Real timers throughout; a ManualClock moves `now` to cross back-off windows.
 */
import { describe, expect, it } from 'vitest';
import type { ModbusPoint } from '../../config/types.js';
import { ModbusTcpDriver } from '../../drivers/modbus/tcp-driver.js';
import { WELL_PUMP_REGISTERS, WellPumpSimulator } from '../../drivers/modbus/simulator.js';
import { imageOf, knownLayout } from '../helpers/modbus-layout.js';
import {
  closedPort,
  ManualClock,
  modbusDevice,
  modbusPoint,
  RecordingLogger,
  RegisterImage,
  startImageServer,
  startSilentServer,
} from '../helpers/modbus-server.js';
import { byId, codes, live, useCleanups } from '../helpers/driver-test.js';

const { cleanups, later } = useCleanups();

function driverFor(port: number, opts: { timeout?: number; unitId?: number; clock?: ManualClock; logger?: RecordingLogger } = {}) {
  const clock = opts.clock ?? new ManualClock();
  const logger = opts.logger ?? new RecordingLogger();
  const driver = later(new ModbusTcpDriver({ device: modbusDevice(port, opts), clock, logger, reconnect: { random: () => 0 } }));
  return { driver, clock, logger };
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

describe('ModbusTcpDriver against modbus-serial ServerTCP', () => {
  it('reads every type in every byte order, coils and discrete inputs, in the order asked', async () => {
    const { points, expected, tables } = knownLayout();
    const server = later(await startImageServer(imageOf(tables)));
    const { driver } = driverFor(server.port);
    await driver.start();
    const shuffled = [...points].reverse();
    const readings = await driver.read(shuffled, live());
    expect(readings.map((r) => r.pointId)).toEqual(shuffled.map((p) => p.id));
    for (const r of readings) {
      expect(r, r.pointId).toMatchObject({ quality: 'good', raw: expected.get(r.pointId) });
      expect(r.error).toBeUndefined();
    }
  });

  it('an exception response marks only the points of that request', async () => {
    const image = new RegisterImage().setValue('holding', 0, 42, 'uint16').setValue('input', 0, 7, 'int16');
    const server = later(await startImageServer(image));
    const { driver, logger } = driverFor(server.port);
    const points = [
      modbusPoint('ok', 'holding', 0, 'uint16'),
      modbusPoint('missing-a', 'holding', 100, 'uint16'),
      modbusPoint('missing-b', 'holding', 101, 'float32'),
      modbusPoint('other-table', 'input', 0, 'int16'),
    ];
    for (let poll = 0; poll < 3; poll++) {
      const r = byId(await driver.read(points, live()));
      expect(r.ok).toMatchObject({ quality: 'good', raw: 42 });
      expect(r['other-table']).toMatchObject({ quality: 'good', raw: 7 });
      expect(r['missing-a']).toMatchObject({ quality: 'bad', raw: null, error: 'EDGE_MODBUS_EXCEPTION_2' });
      expect(r['missing-b']).toMatchObject({ quality: 'bad', error: 'EDGE_MODBUS_EXCEPTION_2' });
      expect(r['missing-b']?.detail).toMatch(/Illegal data address/);
    }
    // The device answered, so the connection was kept. The rejected read was split until each
    // missing point stood alone (one warning each, once), and later polls read them apart at once.
    expect(logger.count(/modbus connected/)).toBe(1);
    expect(logger.count(/exception response/, 'warn')).toBe(2);
    expect(driver.lastReadStats).toEqual({ requests: 4, planned: 4, splits: 0 });
  });

  it('marks NaN floats and impossible addresses bad, point by point, and still reads the rest', async () => {
    const image = new RegisterImage().setWords('holding', 0, [0x7fc0, 0x0000]).setValue('holding', 2, 5, 'uint16');
    const server = later(await startImageServer(image));
    const { driver } = driverFor(server.port);
    const r = await driver.read(
      [modbusPoint('nan', 'holding', 0, 'float32'), modbusPoint('five', 'holding', 2, 'uint16'), modbusPoint('past-end', 'holding', 65534, 'float64')],
      live(),
    );
    expect(codes(r)).toEqual(['EDGE_MODBUS_VALUE_NOT_FINITE', 'good', 'EDGE_MODBUS_POINT_INVALID']);
  });

  it('a server that goes away gives EDGE_DEVICE_UNREACHABLE, backs off, and recovers with a fresh client', async () => {
    const image = new RegisterImage().setValue('holding', 0, 1234, 'uint16');
    let server = await startImageServer(image);
    const port = server.port;
    cleanups.push(() => server.close());
    const { driver, clock, logger } = driverFor(port);
    const points = [modbusPoint('a', 'holding', 0, 'uint16')];
    expect(codes(await driver.read(points, live()))).toEqual(['good']);

    await server.close();
    expect(codes(await driver.read(points, live()))).toEqual(['EDGE_DEVICE_UNREACHABLE']);
    // random() = 0: the first back-off is 500 ms. Until then polls answer at once, untried.
    const skipped = await timed(() => driver.read(points, live()));
    expect(codes(skipped.value)).toEqual(['EDGE_DEVICE_BACKOFF']);
    expect(skipped.value[0]?.detail).toMatch(/next connection attempt in 500 ms after EDGE_DEVICE_UNREACHABLE/);
    expect(skipped.ms).toBeLessThan(100);

    clock.advance(500);
    expect(codes(await driver.read(points, live()))).toEqual(['EDGE_DEVICE_UNREACHABLE']);
    clock.advance(999);
    expect(codes(await driver.read(points, live()))).toEqual(['EDGE_DEVICE_BACKOFF']); // second back-off: 1000 ms

    server = await startImageServer(image, { port });
    clock.advance(1);
    const back = await driver.read(points, live());
    expect(back[0]).toMatchObject({ quality: 'good', raw: 1234, ts: clock.now() });
    expect(logger.count(/modbus connected/)).toBe(2);
    expect(logger.count(/not answering/, 'warn')).toBe(1);
    expect(logger.count(/answering again/, 'info')).toBe(1);
    // And the back-off starts from the beginning again.
    await server.close();
    await driver.read(points, live());
    expect((await driver.read(points, live()))[0]?.detail).toMatch(/in 500 ms/);
  });

  it('a connection cut during a request fails it at once, not after the timeout', async () => {
    const silent = later(await startSilentServer());
    const { driver } = driverFor(silent.port, { timeout: 2000 });
    await driver.start();
    setTimeout(() => void silent.close(), 50);
    const { value, ms } = await timed(() => driver.read([modbusPoint('a', 'holding', 0, 'uint16')], live()));
    expect(codes(value)).toEqual(['EDGE_DEVICE_UNREACHABLE']);
    expect(ms).toBeLessThan(1000);
  });

  it('a silent slave costs one timeout per poll, however many requests, then backs off', async () => {
    const silent = later(await startSilentServer());
    const { driver } = driverFor(silent.port, { timeout: 200 });
    const points = [modbusPoint('h', 'holding', 0, 'uint16'), modbusPoint('i', 'input', 10, 'float32'), modbusPoint('c', 'coil', 3, 'bool')];
    const first = await timed(() => driver.read(points, live()));
    expect(codes(first.value)).toEqual(['EDGE_DEVICE_TIMEOUT', 'EDGE_DEVICE_TIMEOUT', 'EDGE_DEVICE_TIMEOUT']);
    expect(first.ms).toBeGreaterThanOrEqual(190);
    expect(first.ms).toBeLessThan(400);
    // Coils are read first: the coil request timed out, the two after it were never sent.
    expect(first.value.map((r) => r.detail)).toEqual(['not sent after: ETIMEDOUT: Timed out', 'not sent after: ETIMEDOUT: Timed out', 'ETIMEDOUT: Timed out']);
    const second = await timed(() => driver.read(points, live()));
    expect(codes(second.value)).toEqual(['EDGE_DEVICE_BACKOFF', 'EDGE_DEVICE_BACKOFF', 'EDGE_DEVICE_BACKOFF']);
    expect(second.ms).toBeLessThan(100);
    expect(silent.accepted).toBe(1);
  });

  it('a wrong unit id behind a real server costs the timeout (the server stays quiet)', async () => {
    const server = later(await startImageServer(new RegisterImage().setValue('holding', 0, 1, 'uint16'), { unitId: 1 }));
    const { driver } = driverFor(server.port, { unitId: 7, timeout: 200 });
    const { value, ms } = await timed(() => driver.read([modbusPoint('a', 'holding', 0, 'uint16')], live()));
    expect(codes(value)).toEqual(['EDGE_DEVICE_TIMEOUT']);
    expect(ms).toBeLessThan(400);
  });

  it('start() never throws for an unreachable device; reads then retry on their own', async () => {
    const port = await closedPort();
    const { driver, clock } = driverFor(port);
    await expect(driver.start()).resolves.toBeUndefined();
    const points = [modbusPoint('a', 'holding', 0, 'uint16')];
    expect(codes(await driver.read(points, live()))).toEqual(['EDGE_DEVICE_BACKOFF']);
    clock.advance(500);
    expect(codes(await driver.read(points, live()))).toEqual(['EDGE_DEVICE_UNREACHABLE']);
  });

  it('respects the AbortSignal: before the poll, and in the middle of a request', async () => {
    const silent = later(await startSilentServer());
    const { driver } = driverFor(silent.port, { timeout: 2000 });
    const points = [modbusPoint('a', 'holding', 0, 'uint16'), modbusPoint('b', 'input', 0, 'uint16')];
    const aborted = new AbortController();
    aborted.abort();
    expect(codes(await driver.read(points, aborted.signal))).toEqual(['EDGE_DEVICE_ABORTED', 'EDGE_DEVICE_ABORTED']);
    expect(silent.accepted).toBe(0);

    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const { value, ms } = await timed(() => driver.read(points, ac.signal));
    expect(codes(value)).toEqual(['EDGE_DEVICE_ABORTED', 'EDGE_DEVICE_ABORTED']);
    expect(ms).toBeLessThan(500);
    // An abort is not the device's fault: no back-off, the next poll connects again.
    setTimeout(() => void silent.close(), 50);
    expect(codes(await driver.read(points, live()))).not.toContain('EDGE_DEVICE_BACKOFF');
    expect(silent.accepted).toBe(2);
  });

  it('stop() ends a read in flight, closes the socket, and is idempotent', async () => {
    const silent = later(await startSilentServer());
    const { driver } = driverFor(silent.port, { timeout: 5000 });
    await driver.start();
    const pending = driver.read([modbusPoint('a', 'holding', 0, 'uint16')], live());
    await new Promise((r) => setTimeout(r, 30));
    const { ms } = await timed(async () => {
      await Promise.all([driver.stop(), driver.stop()]);
    });
    expect(ms).toBeLessThan(500);
    expect(codes(await pending)).toEqual(['EDGE_DEVICE_ABORTED']);
    expect((await driver.read([modbusPoint('a', 'holding', 0, 'uint16')], live()))[0]).toMatchObject({ error: 'EDGE_DEVICE_ABORTED', detail: 'driver stopped' });
    await driver.stop();
  });

  it('queues overlapping reads instead of interleaving them on the socket', async () => {
    const server = later(await startImageServer(new RegisterImage().setValue('holding', 0, 1, 'uint16').setValue('holding', 1, 2, 'uint16')));
    const { driver } = driverFor(server.port);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => driver.read([modbusPoint(`p${i}`, 'holding', i % 2, 'uint16')], live())),
    );
    expect(results.map((r) => r[0]?.raw)).toEqual([1, 2, 1, 2, 1, 2, 1, 2, 1, 2]);
  });
});

describe('the well-pump simulator, polled like a device', () => {
  const pumpPoints: ModbusPoint[] = WELL_PUMP_REGISTERS.map((p) => modbusPoint(p.id, p.register, p.address, p.type, p.order));

  it('serves its register map, and values move with the clock', async () => {
    const clock = new ManualClock();
    const sim = later(new WellPumpSimulator({ port: 0, clock, tripsPerHour: 0 }));
    await sim.start();
    expect(sim.port).toBeGreaterThan(0);
    const { driver } = driverFor(sim.port, { clock });
    const first = byId(await driver.read(pumpPoints, live()));
    const s = sim.snapshot();
    for (const r of Object.values(first)) expect(r, r.pointId).toMatchObject({ quality: 'good' });
    expect(first.flow?.raw).toBeCloseTo(s.flow, 3);
    expect(first.level?.raw).toBeCloseTo(s.level, 5);
    expect(first.total?.raw).toBe(Math.floor(s.totalLitres));
    expect(first.running?.raw).toBe(s.running);
    expect(first.energy?.raw).toBe(Math.floor(s.energyWh));

    clock.advance(60_000);
    const later_ = byId(await driver.read(pumpPoints, live()));
    expect(Number(later_.total?.raw)).toBeGreaterThan(Number(first.total?.raw));
    expect(later_.level?.raw).not.toBe(first.level?.raw);
  });

  it('a failing device never holds up another one', async () => {
    const sim = later(new WellPumpSimulator({ port: 0 }));
    await sim.start();
    const silent = later(await startSilentServer());
    const good = driverFor(sim.port).driver;
    const bad = driverFor(silent.port, { timeout: 300 }).driver;
    const [badRead, goodRead] = await Promise.all([timed(() => bad.read(pumpPoints, live())), timed(() => good.read(pumpPoints, live()))]);
    expect(new Set(codes(badRead.value))).toEqual(new Set(['EDGE_DEVICE_TIMEOUT']));
    expect(new Set(codes(goodRead.value))).toEqual(new Set(['good']));
    expect(goodRead.ms).toBeLessThan(250);
  });

  it('start and stop are idempotent and stop closes client connections', async () => {
    const sim = new WellPumpSimulator({ port: 0 });
    await Promise.all([sim.start(), sim.start()]);
    const port = sim.port;
    const { driver } = driverFor(port);
    expect(codes(await driver.read(pumpPoints.slice(0, 1), live()))).toEqual(['good']);
    await sim.stop();
    await sim.stop();
    expect(codes(await driver.read(pumpPoints.slice(0, 1), live()))).toEqual(['EDGE_DEVICE_UNREACHABLE']);
  });
});
