/** The Modbus RTU configuration keys: connections, read planning, and the narrow point types. */
import { describe, expect, it } from 'vitest';
import type { ModbusDevice, ModbusPoint } from '../../../config/types.js';
import { doc, issues, ok } from '../config/helpers.js';

const rtu = (over: Record<string, unknown> = {}) => ({ protocol: 'rtu', path: '/dev/ttyUSB0', ...over });
const dev = (over: Record<string, unknown> = {}) => ({ id: 'meter-1', driver: 'modbus', connection: rtu(), every: '10s', ...over });
const first = (document: unknown) => ok(document).devices[0] as ModbusDevice;
const pointOf = (points: Record<string, unknown>, id: string) => first(doc({ devices: [dev({ points })] })).points.find((p) => p.id === id) as ModbusPoint;

describe('Modbus RTU connections', () => {
  it('rtu: line settings default to 9600 8N1, unit 1, 1 s', () => {
    expect(first(doc({ devices: [dev()] })).connection).toEqual({ protocol: 'rtu', path: '/dev/ttyUSB0', baudRate: 9600, parity: 'none', dataBits: 8, stopBits: 1, unitId: 1, timeout: 1000 });
    expect(first(doc({ devices: [dev({ connection: rtu({ baudRate: 19200, parity: 'even', stopBits: 2, unitId: 17, timeout: '250ms' }) })] })).connection).toMatchObject({
      baudRate: 19200,
      parity: 'even',
      stopBits: 2,
      unitId: 17,
      timeout: 250,
    });
  });

  it('rtu-over-tcp: host and port of the serial device server', () => {
    const c = first(doc({ devices: [dev({ connection: { protocol: 'rtu-over-tcp', host: '10.0.0.7', port: 4001, unitId: 3 } })] })).connection;
    expect(c).toEqual({ protocol: 'rtu-over-tcp', host: '10.0.0.7', port: 4001, unitId: 3, timeout: 1000 });
  });

  it('rejects what an RTU line cannot do, at the key', () => {
    const found = issues(doc({ devices: [dev({ connection: rtu({ unitId: 0, dataBits: 7, parity: 'mark', stopBits: 1.5 }) })] }));
    expect(found.some((l) => l.startsWith('devices[0].connection.unitId: '))).toBe(true);
    expect(found).toContain('devices[0].connection.dataBits: Modbus RTU uses 8 data bits');
    expect(found.some((l) => l.startsWith('devices[0].connection.parity: '))).toBe(true);
    expect(found).toContain('devices[0].connection.stopBits: must be 1 or 2');
  });

  it('devices on one serial port must agree on its line settings', () => {
    const found = issues(
      doc({
        devices: [
          dev({ id: 'a', connection: rtu({ unitId: 1 }) }),
          dev({ id: 'b', connection: rtu({ unitId: 2, baudRate: 19200 }) }),
          dev({ id: 'c', connection: rtu({ path: '/dev/ttyUSB1', baudRate: 19200 }) }),
        ],
      }),
    );
    expect(found).toEqual(['devices[1].connection.baudRate: devices on one serial port share its line settings: /dev/ttyUSB0 runs at baudRate 9600 (devices[0])']);
  });
});

describe('read planning keys', () => {
  it('maxGap defaults to 0 and coalesce to true', () => {
    expect(first(doc({ devices: [dev()] }))).toMatchObject({ maxGap: 0, coalesce: true });
    expect(first(doc({ devices: [dev({ maxGap: 10, coalesce: false })] }))).toMatchObject({ maxGap: 10, coalesce: false });
    expect(issues(doc({ devices: [dev({ maxGap: 200 })] })).some((l) => l.startsWith('devices[0].maxGap: '))).toBe(true);
  });

  it('also on Modbus TCP devices', () => {
    expect(first(doc({ devices: [dev({ connection: { protocol: 'tcp', host: 'h' }, maxGap: 4 })] }))).toMatchObject({ maxGap: 4, coalesce: true });
  });
});

describe('string, bit and byte points', () => {
  it('a string spans `length` registers', () => {
    expect(pointOf({ serial: { register: 'holding', address: 100, type: 'string', length: 8 } }, 'serial')).toMatchObject({ type: 'string', length: 8, order: 'ABCD' });
    expect(issues(doc({ devices: [dev({ points: { s: { register: 'holding', address: 0, type: 'string' } } })] }))).toEqual([
      'devices[0].points.s.length: required for a string: how many registers it spans (2 characters each)',
    ]);
    expect(issues(doc({ devices: [dev({ points: { s: { register: 'holding', address: 65530, type: 'string', length: 8 } } })] }))).toEqual([
      'devices[0].points.s.address: a string at 65530 runs past the last register (65535)',
    ]);
    expect(issues(doc({ devices: [dev({ points: { n: { register: 'holding', address: 0, type: 'uint16', length: 2 } } })] }))).toEqual([
      'devices[0].points.n.length: only a string has a length (type is uint16)',
    ]);
  });

  it('a bit of a register is bool, on holding or input registers only', () => {
    expect(pointOf({ alarm: { register: 'input', address: 3, bit: 15 } }, 'alarm')).toMatchObject({ type: 'bool', bit: 15 });
    expect(issues(doc({ devices: [dev({ points: { a: { register: 'holding', address: 0, bit: 3, type: 'uint16' } } })] }))).toEqual([
      'devices[0].points.a.type: a single bit is bool (got uint16)',
    ]);
    expect(issues(doc({ devices: [dev({ points: { a: { register: 'coil', address: 0, bit: 3 } } })] }))).toEqual([
      'devices[0].points.a.bit: picks a bit of a holding or input register; a coil is already one bit',
    ]);
    expect(issues(doc({ devices: [dev({ points: { a: { register: 'holding', address: 0, bit: 16 } } })] })).some((l) => l.startsWith('devices[0].points.a.bit: '))).toBe(true);
  });

  it('int8/uint8 name their byte', () => {
    expect(pointOf({ level: { register: 'holding', address: 7, type: 'uint8', byte: 'high' } }, 'level')).toMatchObject({ type: 'uint8', byte: 'high' });
    expect(issues(doc({ devices: [dev({ points: { l: { register: 'holding', address: 7, type: 'int8' } } })] }))).toEqual([
      'devices[0].points.l.byte: required for int8: high (the first byte on the wire) or low',
    ]);
    expect(issues(doc({ devices: [dev({ points: { l: { register: 'holding', address: 7, type: 'int16', byte: 'low' } } })] }))).toEqual([
      'devices[0].points.l.byte: only int8 and uint8 pick a byte (type is int16)',
    ]);
  });

  it('the keys merge from a template like any other point key', () => {
    const config = ok(
      doc({
        templates: { meter: { points: { model: { register: 'holding', address: 0, type: 'string', length: 4 } } } },
        devices: [dev({ template: 'meter', points: { model: { length: 6, order: 'BADC' } } })],
      }),
    );
    expect((config.devices[0] as ModbusDevice).points[0]).toMatchObject({ type: 'string', length: 6, order: 'BADC' });
  });
});

describe('one serial port, one protocol', () => {
  it('a serial line device cannot read the port of an RTU bus', () => {
    const line = { id: 'monitor', driver: 'serial', connection: { path: '/dev/ttyUSB0' }, parse: { keyValue: {} }, points: { hr: { field: 'HR' } } };
    expect(issues(doc({ devices: [dev(), line] }))).toEqual(['devices[1].connection.path: /dev/ttyUSB0 already carries the Modbus RTU bus of devices[0]; one serial port serves one protocol']);
    expect(ok(doc({ devices: [dev(), { ...line, connection: { path: '/dev/ttyUSB1' } }] })).devices).toHaveLength(2);
  });
});
