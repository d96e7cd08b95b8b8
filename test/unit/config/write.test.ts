import { describe, expect, it } from 'vitest';
import type { ModbusPoint } from '../../../config/types.js';
import { device, doc, issues, ok } from './helpers.js';

function point(config: ReturnType<typeof ok>, id: string): ModbusPoint {
  const p = config.devices[0]?.points.find((x) => x.id === id);
  if (p === undefined) expect.fail(`no point ${id}`);
  return p as ModbusPoint;
}

const tpl = {
  points: {
    setpoint: { register: 'holding', address: 0, type: 'int16', scale: 0.1, decimals: 1, write: { min: 0, max: 100, verify: { after: '1s' } } },
    pump: { register: 'coil', address: 0, map: { 0: 'stopped', 1: 'running' }, write: { allowed: ['running', 'stopped'] } },
  },
};

describe('write: block', () => {
  it('fills the defaults and merges a device override key by key into the template (verify too)', () => {
    const config = ok(doc({ templates: { t: tpl }, devices: [device({ template: 't', points: { setpoint: { write: { max: 50, verify: { tolerance: 0.2 } } } } })] }));
    expect(point(config, 'setpoint').write).toEqual({ min: 0, max: 50, rateLimitMs: 5000, verifyAfterMs: 1000, tolerance: 0.2, functionCode: 'auto' });
    // tolerance defaults to half the last digit of decimals
    const plain = ok(doc({ templates: { t: tpl }, devices: [device({ template: 't' })] }));
    expect(point(plain, 'setpoint').write?.tolerance).toBeCloseTo(0.05);
    expect(point(plain, 'pump').write).toMatchObject({ allowed: ['running', 'stopped'], tolerance: 0 });
  });

  it('refuses input registers, discrete inputs and types it cannot write, at the write key', () => {
    const found = issues(
      doc({
        devices: [
          device({
            points: {
              a: { register: 'input', address: 0, type: 'int16', write: { min: 0, max: 1 } },
              b: { register: 'discrete', address: 0, write: {} },
              c: { register: 'holding', address: 1, type: 'string', length: 2, write: {} },
            },
          }),
        ],
      }),
    );
    expect(found).toEqual([
      'devices[0].points.a.write: an input register is read-only in Modbus: only holding registers (FC6/FC16) and coils (FC5/FC15) can be written',
      'devices[0].points.b.write: a discrete input is read-only in Modbus: only holding registers (FC6/FC16) and coils (FC5/FC15) can be written',
      'devices[0].points.c.write: a string cannot be written (writable: int16, uint16, int32, uint32, float32, float64, bool, a bit of a register, a coil)',
    ]);
  });

  it('requires limits for numbers and states for mapped points, and checks them against the raw type with scale and offset inverted', () => {
    const found = issues(
      doc({
        devices: [
          device({
            points: {
              n: { register: 'holding', address: 0, type: 'int16', write: {} },
              big: { register: 'holding', address: 1, type: 'uint16', scale: 0.01, offset: -10, write: { min: -20, max: 700 } },
              m: { register: 'holding', address: 2, type: 'uint16', map: { 0: 'off', 1: 'on' }, write: { allowed: ['on', 'auto'] } },
            },
          }),
        ],
      }),
    );
    expect(found).toEqual([
      'devices[0].points.n.write.min: required for a writable number: the lowest value that may be written (engineering units)',
      'devices[0].points.n.write.max: required for a writable number: the highest value that may be written (engineering units)',
      'devices[0].points.big.write.min: -20 needs the raw value -1000 (scale 0.01, offset -10), which a uint16 cannot hold (0..65535)',
      'devices[0].points.big.write.max: 700 needs the raw value 71000 (scale 0.01, offset -10), which a uint16 cannot hold (0..65535)',
      'devices[0].points.m.write.allowed[1]: "auto" is not a state of the point\'s map (off, on)',
    ]);
  });

  it('says a serial or MQTT point cannot be written', () => {
    const found = issues(
      doc({
        devices: [
          { id: 's', driver: 'serial', connection: { path: '/dev/ttyUSB0' }, parse: { csv: {} }, points: { t: { field: 0, write: { min: 0, max: 1 } } } },
          { id: 'q', driver: 'mqtt', topic: 'a/b', connection: { url: 'mqtt://127.0.0.1:1883' }, points: { t: { write: { min: 0, max: 1 } } } },
        ],
      }),
    );
    expect(found).toEqual([
      'devices[0].points.t.write: a serial point cannot be written: only Modbus holding registers and coils take writes',
      'devices[1].points.t.write: an MQTT point cannot be written: only Modbus holding registers and coils take writes',
    ]);
  });
});
