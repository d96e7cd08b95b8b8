import { describe, expect, it } from 'vitest';
import { configHints, formatHints } from '../../../agent/commands/hints.js';
import { pollWireTime } from '../../../drivers/modbus/bus-timing.js';
import { device, doc, issues, ok } from './helpers.js';

const hintsOf = (document: unknown, watchdogMs?: number) => configHints(ok(document), watchdogMs).map((h) => `${h.path}: ${h.message}`);
const rtu = (id: string, over: Record<string, unknown> = {}, connection: Record<string, unknown> = {}) =>
  device({ id, connection: { protocol: 'rtu', path: '/dev/serial/by-id/usb-FTDI_RS485-if00-port0', unitId: 1, ...connection }, ...over });
const words = (n: number, register = 'holding') => Object.fromEntries(Array.from({ length: n }, (_, i) => [`r${i}`, { register, address: i, type: 'uint16' }]));

describe('config hints: likely mistakes in a valid config', () => {
  it('has none for the README-style config that does things right', () => {
    expect(hintsOf(doc({ devices: [device({ points: { flow: { register: 'holding', address: 0, type: 'float32', order: 'CDAB' } } })] }))).toEqual([]);
  });

  it('reads 40001 on a holding register as Modicon notation, and says which address was meant', () => {
    const hints = hintsOf(doc({ devices: [device({ points: { flow: { register: 'holding', address: 40011, type: 'uint16' }, t: { register: 'input', address: 30001, type: 'int16' } } })] }));
    expect(hints).toEqual([
      expect.stringMatching(/^devices\[0\]\.points\.flow\.address: 40011 looks like Modicon notation \(40001 is holding address 0\): did you mean address 10\?/),
      expect.stringMatching(/^devices\[0\]\.points\.t\.address: 30001 looks like Modicon notation \(30001 is input address 0\): did you mean address 0\?/),
    ]);
    // 40000 is below the Modicon range; an input register at 40001 is not 3xxxx notation either
    expect(hintsOf(doc({ devices: [device({ points: { a: { register: 'holding', address: 40000, type: 'uint16' }, b: { register: 'input', address: 45000, type: 'uint16' } } })] }))).toEqual([]);
  });

  it('keeps quiet about a SunSpec map (a point at protocol address 40000, which Modicon cannot name)', () => {
    const points = { id: { register: 'holding', address: 40000, type: 'uint32' }, w: { register: 'holding', address: 40083, type: 'int16' } };
    expect(hintsOf(doc({ devices: [device({ points })] }))).toEqual([]);
  });

  it('reports a template mistake once, at the template, however many devices use it', () => {
    const templates = { meter: { points: { volts: { register: 'holding', address: 40001, type: 'uint16', order: 'CDAB' } } } };
    const hints = hintsOf(doc({ templates, devices: [device({ id: 'a', template: 'meter' }), device({ id: 'b', template: 'meter' })] }));
    expect(hints).toEqual([
      expect.stringMatching(/^templates\.meter\.points\.volts\.address: .*did you mean address 0\?/),
      expect.stringMatching(/^templates\.meter\.points\.volts\.order: a uint16 is one register: CDAB \(register swap\) has no effect/),
    ]);
    // …and at the device when the device wrote the key
    const own = hintsOf(doc({ templates, devices: [device({ template: 'meter', points: { volts: { address: 40002 } } })] }));
    expect(own[0]).toMatch(/^devices\[0\]\.points\.volts\.address: 40002 .*did you mean address 1\?/);
  });

  it('flags order on 16-bit values and on bits', () => {
    const hints = hintsOf(doc({ devices: [device({ points: { a: { register: 'input', address: 0, type: 'int16', order: 'DCBA' }, c: { register: 'coil', address: 0, order: 'BADC' }, ok: { register: 'input', address: 1, type: 'int16', order: 'ABCD' } } })] }));
    expect(hints).toEqual([
      'devices[0].points.a.order: an int16 is one register: DCBA swaps its two bytes; order is usually for 32- and 64-bit values (remove it unless the device sends this register little-endian)',
      'devices[0].points.c.order: a coil is one bit: order BADC has no effect',
    ]);
  });

  it('asks for a /dev/serial/by-id/ path instead of a ttyUSB number, once per port', () => {
    const hints = hintsOf(doc({ devices: [rtu('a', {}, { path: '/dev/ttyUSB0' }), rtu('b', {}, { path: '/dev/ttyUSB0', unitId: 2 }), rtu('c', {}, { path: '/dev/ttyAMA0', unitId: 3 })] }));
    expect(hints).toEqual([expect.stringMatching(/^devices\[0\]\.connection\.path: \/dev\/ttyUSB0 can change after a reboot .* \/dev\/serial\/by-id\//)]);
    const serial = { id: 's', driver: 'serial', connection: { path: '/dev/ttyACM1' }, parse: { csv: {} }, points: { t: { field: 0 } } };
    expect(hintsOf(doc({ devices: [serial] }))).toEqual([expect.stringMatching(/^devices\[0\]\.connection\.path: \/dev\/ttyACM1 can change/)]);
  });

  it('refuses two devices with one unit id on one RTU bus (an error, not a hint)', () => {
    expect(issues(doc({ devices: [rtu('a'), rtu('b')] }))).toEqual([
      'devices[1].connection.unitId: unit id 1 is already used on /dev/serial/by-id/usb-FTDI_RS485-if00-port0 by devices[0]: two slaves with one address on one bus answer each other\'s requests (give each its own address)',
    ]);
    const overTcp = (id: string) => device({ id, connection: { protocol: 'rtu-over-tcp', host: '10.0.0.9', port: 4001, unitId: 7 } });
    expect(issues(doc({ devices: [overTcp('a'), overTcp('b')] }))[0]).toMatch(/^devices\[1\]\.connection\.unitId: unit id 7 is already used on 10\.0\.0\.9:4001/);
    // Modbus TCP devices have a connection each; other buses and disabled devices do not clash
    ok(doc({ devices: [device({ id: 'a' }), device({ id: 'b' }), rtu('c'), rtu('d', {}, { path: '/dev/ttyAMA0' }), rtu('e', { enabled: false })] }));
  });

  it('works out the wire time of a poll from the baud rate and the read plan (the FACTS figures)', () => {
    const line = { baudRate: 9600, parity: 'none' as const, dataBits: 8, stopBits: 1 };
    const one = ok(doc({ devices: [rtu('a', { points: words(125) })] })).devices[0];
    const single = ok(doc({ devices: [rtu('a', { points: words(125), coalesce: false })] })).devices[0];
    if (one?.driver !== 'modbus' || single?.driver !== 'modbus') throw new Error('expected Modbus devices');
    expect(pollWireTime(one, line)).toEqual({ requests: 1, ms: expect.closeTo(281, 0) });
    expect(pollWireTime(single, line).ms).toBeCloseTo(2865, -1);
    expect(pollWireTime(single, { ...line, baudRate: 19200 }).ms).toBeCloseTo(1432, -1);
  });

  it('warns when a poll interval is shorter than one round of the bus at its baud rate', () => {
    // two devices of 125 single-register reads at 9600 baud: about 5.7 s on the wire per round
    const slow = { points: words(125), coalesce: false, every: '2s' };
    const hints = hintsOf(doc({ devices: [rtu('a', slow), rtu('b', { ...slow, every: '10s' }, { unitId: 2 })] }));
    expect(hints).toEqual([
      expect.stringMatching(/^devices\.a\.every: every 2s is shorter than one round of \/dev\/serial\/by-id\/\S+ at 9600 baud: this device and the 1 other device on the bus put 250 requests on the wire, about 57\d\d ms/),
    ]);
    // joined into two requests the same points take 0.6 s: no hint
    expect(hintsOf(doc({ devices: [rtu('a', { ...slow, coalesce: true }), rtu('b', { ...slow, coalesce: true, every: '10s' }, { unitId: 2 })] }))).toEqual([]);
    // 19200 baud halves it, still above 2 s
    expect(hintsOf(doc({ devices: [rtu('a', slow, { baudRate: 19200 }), rtu('b', { ...slow, every: '10s' }, { unitId: 2, baudRate: 19200 })] }))).toHaveLength(1);
  });

  it('warns when the timeouts of the devices on one bus add up past the watchdog', () => {
    const devices = Array.from({ length: 7 }, (_, i) => rtu(`m${i}`, { every: '1m' }, { unitId: i + 1, timeout: '10s' }));
    expect(hintsOf(doc({ devices }))).toEqual([
      expect.stringMatching(/^devices\.m0\.connection\.timeout: the timeouts of the 7 devices on \/dev\/serial\/by-id\/\S+ add up to 70s, past the watchdog's 1m: /),
    ]);
    expect(hintsOf(doc({ devices }), 120_000)).toEqual([]);
    expect(hintsOf(doc({ devices: devices.slice(0, 6) }))).toEqual([]);
  });

  it('formats the hints for validate, and nothing when there are none', () => {
    expect(formatHints('x.yaml', [])).toEqual([]);
    expect(formatHints('x.yaml', [{ path: 'a', message: 'b' }])).toEqual(['x.yaml: 1 warning (likely mistakes; the config is valid)', '  a: b']);
  });
});
