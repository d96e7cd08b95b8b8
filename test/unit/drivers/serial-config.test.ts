import { describe, expect, it } from 'vitest';
import type { SerialDevice } from '../../../config/types.js';
import { doc, issues, ok } from '../config/helpers.js';

const serial = (over: Record<string, unknown> = {}) => ({
  id: 'monitor-1',
  driver: 'serial',
  connection: { path: '/dev/ttyUSB0', baudRate: 9600 },
  parse: { regex: '^HR=(?<hr>\\d+) SPO2=(?<spo2>\\d+)$' },
  points: { hr: { unit: 'bpm' }, spo2: { unit: '%' } },
  ...over,
});

function device(over: Record<string, unknown> = {}): SerialDevice {
  const d = ok(doc({ devices: [serial(over)] })).devices[0];
  if (d?.driver !== 'serial') expect.fail('expected a serial device');
  return d;
}

describe('serial device config', () => {
  it('resolves a streaming device: connection defaults, no schedule, fields default to the point id', () => {
    const d = device();
    expect(d.schedule).toBeUndefined();
    expect(d.connection).toEqual({ path: '/dev/ttyUSB0', baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1, delimiter: '\n', encoding: 'utf8', timeout: 1000, maxLineLength: 4096 });
    expect(d.parse).toEqual({ kind: 'regex', regex: '^HR=(?<hr>\\d+) SPO2=(?<spo2>\\d+)$' });
    expect(d.points.map((p) => [p.id, p.field, p.type])).toEqual([['hr', 'hr', 'number'], ['spo2', 'spo2', 'number']]);
    expect(d.points[0]?.tags).toMatchObject({ gateway: 'gw-1', device: 'monitor-1', point: 'hr' });
  });

  it('resolves a polled device: command with a schedule', () => {
    const d = device({ command: 'READ\r\n', every: '5s', parse: { keyValue: {} }, points: { temp: { type: 'number', scale: 0.1 }, state: { field: 'ST', type: 'string' } } });
    expect(d.schedule).toEqual({ kind: 'every', everyMs: 5000 });
    expect(d.command).toBe('READ\r\n');
    expect(d.parse).toEqual({ kind: 'keyValue', valueSeparator: '=' });
    expect(d.points.find((p) => p.id === 'state')).toMatchObject({ field: 'ST', type: 'string' });
  });

  it('takes CSV columns by name or 0-based number, and templates for the points', () => {
    const config = ok(
      doc({
        templates: { scale: { measurement: 'weight', points: { gross: { field: 1, unit: 'kg' }, tare: { field: 'tare' } } } },
        devices: [serial({ template: 'scale', parse: { csv: { separator: ';', columns: ['id', 'gross', 'tare'] } }, points: {} })],
      }),
    );
    const d = config.devices[0] as SerialDevice;
    expect(d.parse).toEqual({ kind: 'csv', separator: ';', columns: ['id', 'gross', 'tare'] });
    expect(d.points.map((p) => [p.id, p.field, p.measurement])).toEqual([['gross', 1, 'weight'], ['tare', 'tare', 'weight']]);
  });

  it('lists every mistake with its path', () => {
    expect(
      issues(
        doc({
          devices: [
            serial({ parse: { regex: '(?<hr>\\d+', csv: {} }, connection: { path: '', parity: 'sometimes', dataBits: 9 } }),
            serial({ id: 'm2', command: 'R', points: { hr: {}, temp: { register: 'holding', type: 'int16' } } }),
            serial({ id: 'm3', every: '10s', parse: { csv: {} }, points: { hr: { field: 'hr' }, x: { field: 2, type: 'float32' } } }),
            serial({ id: 'm4', parse: { keyValue: {} }, points: { hr: { field: 3 } } }),
          ],
        }),
      ),
    ).toEqual([
      'devices[0].connection.path: must not be empty',
      'devices[0].connection.dataBits: must be 5, 6, 7 or 8',
      'devices[0].connection.parity: must be one of none, even, odd, mark, space (got "sometimes")',
      'devices[0].parse.regex: invalid regular expression: Invalid regular expression: /(?<hr>\\d+/: Unterminated group',
      'devices[0].parse: give only one of regex, keyValue or csv (got regex, csv)',
      'devices[1].points.temp.type: must be one of number, string, bool (got "int16")',
      'devices[1].points.temp.register: not a serial point key',
      'devices[1].command: a command is sent on a schedule: add every (e.g. 10s) or cron; a device that sends lines by itself needs no command',
      'devices[2].points.hr.field: "hr" is not a column: give parse.csv.columns to name them, or a 0-based column number',
      'devices[2].points.x.type: must be one of number, string, bool (got "float32")',
      'devices[2].every: a serial device is polled by sending a command: add command, or leave every/cron out for a device that sends lines by itself',
      'devices[3].points.hr.field: a key=value line names its fields: give the key',
    ]);
  });

  it('says which regex groups there are when a point names another', () => {
    expect(issues(doc({ devices: [serial({ points: { pulse: {} } })] }))).toEqual([
      'devices[0].points.pulse.field: the regex has no group named "pulse" (it has hr, spo2); a point reads the field named like itself unless it gives field:',
    ]);
    expect(ok(doc({ devices: [serial({ points: { pulse: { field: 1 } } })] })).devices[0]?.points[0]).toMatchObject({ field: 1 });
    expect(issues(doc({ devices: [serial({ points: { pulse: { field: 3 } } })] }))).toEqual(['devices[0].points.pulse.field: the regex has no group 3 (groups count from 1; it has 2)']);
  });

  it('rejects serial and MQTT keys on a Modbus point', () => {
    expect(
      issues(
        doc({
          devices: [{ id: 'pump-1', driver: 'modbus', connection: { protocol: 'tcp', host: '127.0.0.1' }, every: '1s', points: { flow: { register: 'holding', address: 0, type: 'uint16', field: 'x', path: 'a.b' } } }],
        }),
      ),
    ).toEqual(['devices[0].points.flow.field: not a Modbus point key (field belongs to serial points)', 'devices[0].points.flow.path: not a Modbus point key (path belongs to MQTT points)']);
  });
});
