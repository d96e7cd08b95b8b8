/**
 * Lays the known vectors out over a slave's tables, once per byte order, and gives back the
 * points to poll and the readings to expect. The same layout loads a modbus-serial ServerTCP
 * and a pymodbus server, so both peers are checked against identical registers.
 *
 * Holding registers are packed back to back (one long run the driver must split at 125
 * registers); input registers leave a one-register gap after each value (many small requests).
 */
import type { ByteOrder, ModbusPoint } from '../../config/types.js';
import { modbusPoint, RegisterImage } from './modbus-server.js';
import type { PymodbusTables } from './modbus-pymodbus.js';
import { MODBUS_VECTORS } from './modbus-vectors.js';

const ORDERS: readonly ByteOrder[] = ['ABCD', 'CDAB', 'BADC', 'DCBA'];

export interface Layout {
  points: ModbusPoint[];
  expected: Map<string, number | boolean>;
  /** address → registers, per table; bits as 0/1. */
  tables: Required<PymodbusTables>;
}

export function knownLayout(): Layout {
  const points: ModbusPoint[] = [];
  const expected = new Map<string, number | boolean>();
  const tables: Required<PymodbusTables> = { hr: {}, ir: {}, co: {}, di: {} };
  let hr = 0;
  let ir = 0;
  MODBUS_VECTORS.forEach((v, i) => {
    for (const order of ORDERS) {
      const words = v.wire[order];
      const h = modbusPoint(`hr-${i}-${v.type}-${order}`, 'holding', hr, v.type, order);
      tables.hr[hr] = words;
      hr += words.length;
      const r = modbusPoint(`ir-${i}-${v.type}-${order}`, 'input', ir, v.type, order);
      tables.ir[ir] = words;
      ir += words.length + 1;
      points.push(h, r);
      expected.set(h.id, v.value);
      expected.set(r.id, v.value);
    }
  });
  const coils = [true, false, true, true, false, false, true, false, true];
  const inputs = [false, true, true];
  tables.co[0] = coils.map(Number);
  tables.di[0] = inputs.map(Number);
  coils.forEach((b, a) => {
    const p = modbusPoint(`co-${a}`, 'coil', a, 'bool');
    points.push(p);
    expected.set(p.id, b);
  });
  inputs.forEach((b, a) => {
    const p = modbusPoint(`di-${a}`, 'discrete', a, a === 2 ? 'uint16' : 'bool');
    points.push(p);
    expected.set(p.id, a === 2 ? Number(b) : b);
  });
  return { points, expected, tables };
}

export function imageOf(tables: Required<PymodbusTables>): RegisterImage {
  const image = new RegisterImage();
  for (const [a, words] of Object.entries(tables.hr)) image.setWords('holding', Number(a), words);
  for (const [a, words] of Object.entries(tables.ir)) image.setWords('input', Number(a), words);
  for (const [a, bits] of Object.entries(tables.co)) bits.forEach((b, i) => image.setBit('coil', Number(a) + i, b !== 0));
  for (const [a, bits] of Object.entries(tables.di)) bits.forEach((b, i) => image.setBit('discrete', Number(a) + i, b !== 0));
  return image;
}
