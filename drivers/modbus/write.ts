/**
 * What a write puts on the wire for one point: pure functions, no I/O. The byte and word order
 * is the decoder's own (decode.ts encodeValue), so a value written and read back goes through the
 * same `reorder` both ways. A bit of a register is set in the register the device holds now
 * (read-modify-write); the driver reads that register in the same bus slot.
 */
import type { ModbusPoint } from '../../config/types.js';
import { encodeValue, registerCount } from './decode.js';
import type { WriteFunction } from './rtu-frame.js';

export type WritePoint = Pick<ModbusPoint, 'id' | 'register' | 'address' | 'type' | 'order' | 'bit' | 'length' | 'byte'>;

/** Coils written as booleans, registers as 16-bit words in wire order. */
export type WriteData = { kind: 'bits'; bits: boolean[] } | { kind: 'registers'; words: number[] };

/** Whether writing the point needs what the register holds now (a bit of it). */
export function needsCurrent(p: WritePoint): boolean {
  return p.register === 'holding' && p.bit !== undefined;
}

/** The data to write for `raw`; `current` (wire order) for a bit of a register. Throws a RangeError for a value the type cannot hold. */
export function encodeWrite(p: WritePoint, raw: number | boolean, current?: readonly number[]): WriteData {
  if (p.register === 'coil') return { kind: 'bits', bits: [raw === true || raw === 1] };
  if (p.register !== 'holding') throw new RangeError(`a ${p.register} cannot be written`);
  if (p.bit !== undefined) {
    const word = current?.[0];
    if (word === undefined) throw new RangeError('a bit of a register needs the register read first');
    // To logical order and back with the same function: encodeValue of a uint16 applies the order.
    const logical = encodeValue(word, 'uint16', p.order)[0] ?? 0;
    const set = raw === true || raw === 1;
    const next = set ? logical | (1 << p.bit) : logical & ~(1 << p.bit) & 0xffff;
    return { kind: 'registers', words: encodeValue(next, 'uint16', p.order) };
  }
  const value = p.type === 'bool' ? raw === true || raw === 1 : typeof raw === 'boolean' ? Number(raw) : raw;
  return { kind: 'registers', words: encodeValue(value, p.type, p.order) };
}

/** The function code for the data: FC5/FC6 for one item unless `multiple`, FC15/FC16 otherwise. */
export function writeFunction(data: WriteData, choice: 'auto' | 'single' | 'multiple'): WriteFunction {
  const n = data.kind === 'bits' ? data.bits.length : data.words.length;
  const single = choice === 'single' || (choice === 'auto' && n === 1);
  if (single && n > 1) throw new RangeError(`functionCode single writes one item; this point spans ${n} registers`);
  if (data.kind === 'bits') return single ? 5 : 15;
  return single ? 6 : 16;
}

/** The registers (or bits) to read for the point's previous value. */
export function spanOf(p: WritePoint): number {
  return p.register === 'coil' ? 1 : registerCount(p.type, p.length);
}
