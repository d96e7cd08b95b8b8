/**
 * The RTU driver against an independent implementation: Debian's python3-pymodbus as RTU slaves
 * on a serial port (the other end of a socat pty pair), and as an RTU-over-TCP server (a serial
 * device server's wire format). pymodbus checks our CRCs and frames; we check its answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModbusPoint } from '../../config/types.js';
import { ModbusBusRegistry } from '../../drivers/modbus/bus-registry.js';
import { encodeString } from '../../drivers/modbus/decode.js';
import { ModbusRtuDriver, type ModbusRtuDevice } from '../../drivers/modbus/rtu-driver.js';
import type { Reading } from '../../drivers/types.js';
import { knownLayout } from '../helpers/modbus-layout.js';
import { pymodbusAvailable, startPymodbusServer, type PymodbusServer } from '../helpers/modbus-pymodbus.js';
import { rtuDevice, rtuOverTcpDevice } from '../helpers/modbus-rtu.js';
import { ManualClock, modbusPoint, RecordingLogger } from '../helpers/modbus-server.js';
import { openPtyPair, socatAvailable, type PtyPair } from '../helpers/pty.js';
import { missing } from '../helpers/peers.js';

const live = () => new AbortController().signal;
const codes = (rs: Reading[]) => rs.map((r) => r.error ?? r.quality);
const layout = knownLayout();

// A second slave: a meter with its model name, a status word read bit by bit, and a byte pair.
const meterTables = { hr: { 0: encodeString('EM-340', 3), 3: [0b0100_0000_0000_1001, 0x0afb] } };
const meterPoints: ModbusPoint[] = [
  { ...modbusPoint('model', 'holding', 0, 'string'), length: 3 },
  { ...modbusPoint('ok', 'holding', 3, 'bool'), bit: 0 },
  { ...modbusPoint('alarm', 'holding', 3, 'bool'), bit: 1 },
  { ...modbusPoint('remote', 'holding', 3, 'bool'), bit: 14 },
  { ...modbusPoint('phases', 'holding', 4, 'uint8'), byte: 'high' },
  { ...modbusPoint('trim', 'holding', 4, 'int8'), byte: 'low' },
];
const meterValues = { model: 'EM-340', ok: true, alarm: false, remote: true, phases: 10, trim: -5 };

function drivers(devices: ModbusRtuDevice[], clock: ManualClock) {
  const buses = new ModbusBusRegistry({ clock, reopen: { random: () => 0 } });
  const logger = new RecordingLogger();
  return { buses, logger, list: devices.map((device) => new ModbusRtuDriver({ device, buses, clock, logger, backoff: { random: () => 0 } })) };
}

describe.skipIf(missing('socat', socatAvailable(), 'Debian package socat') || missing('pymodbus', pymodbusAvailable(), 'Debian packages python3-pymodbus python3-serial python3-serial-asyncio'))('RTU on a serial port against pymodbus', () => {
  let pty: PtyPair;
  let server: PymodbusServer;
  beforeAll(async () => {
    pty = await openPtyPair();
    // Units 1 and 2 answer; unit 3 is configured below but absent from the bus.
    server = await startPymodbusServer({ 1: layout.tables, 2: meterTables }, { serial: { port: pty.slave, baudrate: 19200 } });
  });
  afterAll(async () => {
    await server?.stop();
    await pty?.close();
  });

  it('reads every type in every byte order, and strings, bits and bytes', async () => {
    const clock = new ManualClock();
    const { list } = drivers([rtuDevice(pty.master, { unitId: 1, points: layout.points }), rtuDevice(pty.master, { id: 'meter', unitId: 2, points: meterPoints })], clock);
    const [pumpDriver, meterDriver] = list as [ModbusRtuDriver, ModbusRtuDriver];
    try {
      const readings = await pumpDriver.read(layout.points, live());
      for (const r of readings) expect(r, r.pointId).toMatchObject({ quality: 'good', raw: layout.expected.get(r.pointId) });
      const meter = await meterDriver.read(meterPoints, live());
      expect(Object.fromEntries(meter.map((r) => [r.pointId, r.raw]))).toEqual(meterValues);
      expect(meterDriver.lastReadStats?.requests).toBe(1);
    } finally {
      await Promise.all(list.map((d) => d.stop()));
    }
  });

  it('three slaves on one bus, one dead: every round the healthy two deliver, the dead one is skipped after its timeout', async () => {
    const clock = new ManualClock();
    const points = [modbusPoint('v', 'holding', 0, 'float32')];
    const { list, buses, logger } = drivers(
      [
        rtuDevice(pty.master, { id: 'dead', unitId: 3, timeout: 200, points }),
        rtuDevice(pty.master, { id: 'pump', unitId: 1, points: layout.points.slice(0, 8) }),
        rtuDevice(pty.master, { id: 'meter', unitId: 2, points: meterPoints }),
      ],
      clock,
    );
    const [dead, pump, meter] = list as [ModbusRtuDriver, ModbusRtuDriver, ModbusRtuDriver];
    try {
      await Promise.all(list.map((d) => d.start()));
      expect(buses.size).toBe(1);
      const deadCodes: string[] = [];
      for (let round = 0; round < 6; round++) {
        // All three polls start together, the dead one first in line, as on a shared schedule.
        const [d, p, m] = await Promise.all([dead.read(points, live()), pump.read(layout.points.slice(0, 8), live()), meter.read(meterPoints, live())]);
        expect(new Set(codes(p)), `round ${round}`).toEqual(new Set(['good']));
        expect(Object.fromEntries(m.map((r) => [r.pointId, r.raw])), `round ${round}`).toEqual(meterValues);
        deadCodes.push(d[0]?.error ?? 'good');
        clock.advance(400);
      }
      // random() = 0: timeouts at 0 ms, 800 (after 500), 2000 (after 1000); skipped in between.
      expect(deadCodes).toEqual(['EDGE_DEVICE_TIMEOUT', 'EDGE_DEVICE_BACKOFF', 'EDGE_DEVICE_TIMEOUT', 'EDGE_DEVICE_BACKOFF', 'EDGE_DEVICE_BACKOFF', 'EDGE_DEVICE_TIMEOUT']);
      expect(buses.get(`rtu:${pty.master}`)?.stats.timeouts).toBe(3);
      expect(logger.count(/slave not answering/, 'warn')).toBe(1);
    } finally {
      await Promise.all(list.map((d) => d.stop()));
    }
    expect(buses.size).toBe(0);
  });
});

describe.skipIf(missing('pymodbus', pymodbusAvailable(), 'Debian packages python3-pymodbus python3-serial python3-serial-asyncio'))('RTU over TCP (a serial device server) against pymodbus', () => {
  it('reads the same registers as over a serial port; a dead unit times out; the server going away is survived', async () => {
    let server = await startPymodbusServer({ 1: layout.tables, 2: meterTables }, { framer: 'rtu' });
    const port = server.port;
    const clock = new ManualClock();
    const { list, buses } = drivers(
      [
        rtuOverTcpDevice(port, { unitId: 1, points: layout.points }),
        rtuOverTcpDevice(port, { id: 'meter', unitId: 2, points: meterPoints }),
        rtuOverTcpDevice(port, { id: 'dead', unitId: 9, timeout: 200, points: meterPoints }),
      ],
      clock,
    );
    const [pump, meter, dead] = list as [ModbusRtuDriver, ModbusRtuDriver, ModbusRtuDriver];
    try {
      const readings = await pump.read(layout.points, live());
      for (const r of readings) expect(r, r.pointId).toMatchObject({ quality: 'good', raw: layout.expected.get(r.pointId) });
      expect(Object.fromEntries((await meter.read(meterPoints, live())).map((r) => [r.pointId, r.raw]))).toEqual(meterValues);
      expect(new Set(codes(await dead.read(meterPoints, live())))).toEqual(new Set(['EDGE_DEVICE_TIMEOUT']));
      expect(buses.size).toBe(1);

      await server.stop();
      // The device server is gone: the link fails, the bus waits before reconnecting.
      expect(new Set(codes(await meter.read(meterPoints, live())))).toEqual(new Set(['EDGE_DEVICE_UNREACHABLE']));
      expect(new Set(codes(await pump.read(layout.points.slice(0, 2), live())))).toEqual(new Set(['EDGE_DEVICE_BACKOFF']));
      server = await startPymodbusServer({ 1: layout.tables, 2: meterTables }, { framer: 'rtu', port });
      clock.advance(1000);
      expect(Object.fromEntries((await meter.read(meterPoints, live())).map((r) => [r.pointId, r.raw]))).toEqual(meterValues);
    } finally {
      await Promise.all(list.map((d) => d.stop()));
      await server.stop();
    }
  });
});
