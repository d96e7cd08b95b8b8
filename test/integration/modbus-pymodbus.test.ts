/**
 * The driver against an implementation that shares no code with modbus-serial: Debian's
 * python3-pymodbus 3.0, run as a child process on a free port with known registers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ModbusTcpDriver } from '../../drivers/modbus/tcp-driver.js';
import type { Reading } from '../../drivers/types.js';
import { knownLayout } from '../helpers/modbus-layout.js';
import { pymodbusAvailable, startPymodbusServer, type PymodbusServer } from '../helpers/modbus-pymodbus.js';
import { ManualClock, modbusDevice, modbusPoint, RecordingLogger } from '../helpers/modbus-server.js';
import { missing } from '../helpers/peers.js';

const live = () => new AbortController().signal;
const codes = (rs: Reading[]) => rs.map((r) => r.error ?? r.quality);

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
});

function driverFor(port: number, opts: { unitId?: number; timeout?: number } = {}) {
  const clock = new ManualClock();
  const logger = new RecordingLogger();
  const driver = new ModbusTcpDriver({ device: modbusDevice(port, opts), clock, logger, reconnect: { random: () => 0 } });
  stops.push(() => driver.stop());
  return { driver, clock, logger };
}

async function pymodbus(...args: Parameters<typeof startPymodbusServer>): Promise<PymodbusServer> {
  const server = await startPymodbusServer(...args);
  stops.push(() => server.stop());
  return server;
}

describe.skipIf(missing('pymodbus', pymodbusAvailable(), 'Debian packages python3-pymodbus python3-serial python3-serial-asyncio'))('ModbusTcpDriver against pymodbus', () => {
  it('reads every type in every byte order, coils and discrete inputs', async () => {
    const { points, expected, tables } = knownLayout();
    const server = await pymodbus({ 1: tables });
    const { driver } = driverFor(server.port);
    const readings = await driver.read(points, live());
    expect(readings.map((r) => r.pointId)).toEqual(points.map((p) => p.id));
    for (const r of readings) expect(r, r.pointId).toMatchObject({ quality: 'good', raw: expected.get(r.pointId) });
  });

  it('an illegal address fails only that request, with EDGE_MODBUS_EXCEPTION_2', async () => {
    const server = await pymodbus({ 1: { hr: { 0: [42, 43] }, ir: { 5: [0xffff] } } });
    const { driver } = driverFor(server.port);
    const r = await driver.read(
      [modbusPoint('a', 'holding', 0, 'uint16'), modbusPoint('b', 'holding', 1, 'uint16'), modbusPoint('gone', 'holding', 10, 'uint32'), modbusPoint('c', 'input', 5, 'int16')],
      live(),
    );
    expect(codes(r)).toEqual(['good', 'good', 'EDGE_MODBUS_EXCEPTION_2', 'good']);
    expect(r.map((x) => x.raw)).toEqual([42, 43, null, -1]);
  });

  it('an unknown unit id gets no answer: EDGE_DEVICE_TIMEOUT after the timeout', async () => {
    const server = await pymodbus({ 1: { hr: { 0: [1] } } });
    const { driver } = driverFor(server.port, { unitId: 9, timeout: 250 });
    const started = performance.now();
    expect(codes(await driver.read([modbusPoint('a', 'holding', 0, 'uint16')], live()))).toEqual(['EDGE_DEVICE_TIMEOUT']);
    expect(performance.now() - started).toBeLessThan(600);
  });

  it('a killed server is unreachable; after it restarts the driver reconnects past its back-off', async () => {
    const first = await pymodbus({ 1: { hr: { 0: [7] } } });
    const { driver, clock, logger } = driverFor(first.port);
    const points = [modbusPoint('a', 'holding', 0, 'uint16')];
    expect(codes(await driver.read(points, live()))).toEqual(['good']);

    await first.stop();
    expect(codes(await driver.read(points, live()))).toEqual(['EDGE_DEVICE_UNREACHABLE']);
    expect(codes(await driver.read(points, live()))).toEqual(['EDGE_DEVICE_BACKOFF']);

    await pymodbus({ 1: { hr: { 0: [8] } } }, first.port);
    clock.advance(500);
    expect((await driver.read(points, live()))[0]).toMatchObject({ quality: 'good', raw: 8 });
    expect(logger.count(/modbus connected/)).toBe(2);
  });
});
