import { describe, expect, it } from 'vitest';
import type { ByteOrder, ModbusType } from '../../../config/types.js';
import { decodeBit, decodeRegisters, decodeString, decodeValue, encodeString, encodeValue, registerCount } from '../../../drivers/modbus/decode.js';
import { MODBUS_VECTORS as VECTORS } from '../../helpers/modbus-vectors.js';

const ORDERS: readonly ByteOrder[] = ['ABCD', 'CDAB', 'BADC', 'DCBA'];


describe('decodeRegisters / encodeValue against hand-computed registers', () => {
  for (const { type, value, wire } of VECTORS) {
    for (const order of ORDERS) {
      it(`${type} ${String(value)} ${order} ⇄ [${wire[order].map((w) => w.toString(16)).join(' ')}]`, () => {
        expect(decodeRegisters(wire[order], type, order)).toBe(value);
        expect(encodeValue(value, type, order)).toEqual(wire[order]);
      });
    }
  }

  it('defaults to ABCD', () => {
    expect(decodeRegisters([0x42f6, 0xe979], 'float32')).toBeCloseTo(123.456, 4);
    expect(encodeValue(0x12345678, 'uint32')).toEqual([0x1234, 0x5678]);
  });

  it('reads a bool register as "not zero" whatever the order', () => {
    for (const order of ORDERS) {
      expect(decodeRegisters([0x8000], 'bool', order)).toBe(true);
      expect(decodeRegisters([0x0000], 'bool', order)).toBe(false);
    }
  });

  it('ignores registers beyond the type and rejects too few', () => {
    expect(decodeRegisters([0x1234, 0xffff, 0xffff], 'uint16', 'ABCD')).toBe(0x1234);
    expect(() => decodeRegisters([0x1234], 'uint32', 'ABCD')).toThrow(RangeError);
  });

  it('keeps NaN and infinities as they are (the driver decides what they mean)', () => {
    expect(decodeRegisters([0x7fc0, 0x0000], 'float32', 'ABCD')).toBeNaN();
    expect(decodeRegisters([0x0000, 0x7f80], 'float32', 'CDAB')).toBe(Infinity);
  });

  it('returns the nearest double for 64-bit integers beyond 2^53', () => {
    expect(decodeRegisters([0xffff, 0xffff, 0xffff, 0xffff], 'uint64', 'ABCD')).toBe(2 ** 64);
    expect(decodeRegisters([0x0020, 0x0000, 0x0000, 0x0001], 'uint64', 'ABCD')).toBe(2 ** 53); // 2^53 + 1 rounds down
    expect(decodeRegisters([0x8000, 0x0000, 0x0000, 0x0000], 'int64', 'ABCD')).toBe(-(2 ** 63));
    expect(encodeValue(2n ** 64n - 1n, 'uint64', 'DCBA')).toEqual([0xffff, 0xffff, 0xffff, 0xffff]);
  });
});

describe('encodeValue input checks', () => {
  it('rejects non-integers and out-of-range integers', () => {
    expect(() => encodeValue(1.5, 'int16')).toThrow(RangeError);
    expect(() => encodeValue(32768, 'int16')).toThrow(RangeError);
    expect(() => encodeValue(-1, 'uint16')).toThrow(RangeError);
    expect(() => encodeValue(2 ** 32, 'uint32')).toThrow(RangeError);
    expect(() => encodeValue(-(2 ** 31) - 1, 'int32')).toThrow(RangeError);
    expect(() => encodeValue(2n ** 64n, 'uint64')).toThrow(RangeError);
    expect(() => encodeValue(-(2n ** 63n) - 1n, 'int64')).toThrow(RangeError);
  });

  it('accepts booleans and numbers for bool', () => {
    expect(encodeValue(true, 'bool')).toEqual([1]);
    expect(encodeValue(0, 'bool')).toEqual([0]);
    expect(encodeValue(7, 'bool')).toEqual([1]);
  });
});

describe('decodeBit', () => {
  it('gives booleans for bool and 1/0 for numeric types', () => {
    expect(decodeBit(true, 'bool')).toBe(true);
    expect(decodeBit(false, 'bool')).toBe(false);
    expect(decodeBit(true, 'uint16')).toBe(1);
    expect(decodeBit(false, 'float32')).toBe(0);
  });
});

describe('registerCount', () => {
  it('knows the width of every type', () => {
    const widths: Record<ModbusType, number> = { bool: 1, int8: 1, uint8: 1, string: 1, int16: 1, uint16: 1, int32: 2, uint32: 2, float32: 2, int64: 4, uint64: 4, float64: 4 };
    for (const [type, n] of Object.entries(widths)) expect(registerCount(type as ModbusType)).toBe(n);
    expect(registerCount('string', 10)).toBe(10);
  });
});

/** Seeded, so a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The wide numeric types the Buffer oracle below knows. */
type Wide = Exclude<ModbusType, 'bool' | 'int8' | 'uint8' | 'string'>;

describe('round trip and an independent oracle (Node Buffer readers)', () => {
  const random = rng(42);
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const sample: Record<Wide, () => number> = {
    int16: () => int(-32768, 32767),
    uint16: () => int(0, 65535),
    int32: () => int(-(2 ** 31), 2 ** 31 - 1),
    uint32: () => int(0, 2 ** 32 - 1),
    int64: () => (random() < 0.5 ? -1 : 1) * Math.floor(random() * Number.MAX_SAFE_INTEGER),
    uint64: () => Math.floor(random() * Number.MAX_SAFE_INTEGER),
    float32: () => Math.fround((random() - 0.5) * 10 ** int(-10, 30)),
    float64: () => (random() - 0.5) * 10 ** int(-300, 300),
  };
  // Big-endian bytes of the value read the Buffer way, for ABCD (BE) and DCBA (LE).
  const readBE: Record<Wide, (b: Buffer) => number> = {
    int16: (b) => b.readInt16BE(0),
    uint16: (b) => b.readUInt16BE(0),
    int32: (b) => b.readInt32BE(0),
    uint32: (b) => b.readUInt32BE(0),
    int64: (b) => Number(b.readBigInt64BE(0)),
    uint64: (b) => Number(b.readBigUInt64BE(0)),
    float32: (b) => b.readFloatBE(0),
    float64: (b) => b.readDoubleBE(0),
  };
  const readLE: Record<Wide, (b: Buffer) => number> = {
    int16: (b) => b.readInt16LE(0),
    uint16: (b) => b.readUInt16LE(0),
    int32: (b) => b.readInt32LE(0),
    uint32: (b) => b.readUInt32LE(0),
    int64: (b) => Number(b.readBigInt64LE(0)),
    uint64: (b) => Number(b.readBigUInt64LE(0)),
    float32: (b) => b.readFloatLE(0),
    float64: (b) => b.readDoubleLE(0),
  };
  const wireBytes = (words: number[]) => {
    const b = Buffer.alloc(words.length * 2);
    words.forEach((w, i) => b.writeUInt16BE(w, i * 2));
    return b;
  };

  for (const type of Object.keys(sample) as Wide[]) {
    it(`${type}: 250 values × 4 orders`, () => {
      // Collected, then asserted once: a thousand expect() calls per type would dominate the run.
      const failures: string[] = [];
      for (let i = 0; i < 250; i++) {
        const value = sample[type]();
        for (const order of ORDERS) {
          const words = encodeValue(value, type, order);
          const wellFormed = words.length === registerCount(type) && words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff);
          const back = decodeRegisters(words, type, order);
          const oracle = order === 'ABCD' ? readBE[type](wireBytes(words)) : order === 'DCBA' ? readLE[type](wireBytes(words)) : value;
          if (!wellFormed || !Object.is(back, value) || !Object.is(oracle, value)) failures.push(`${order} ${value} → [${words.join(',')}] → ${back} / ${oracle}`);
        }
      }
      expect(failures).toEqual([]);
    });
  }
});

describe('decodeValue: bytes, bits and strings of registers', () => {
  it('one-register types decode as decodeRegisters does, in every order, ignoring the registers after them', () => {
    const got: unknown[] = [];
    const want: unknown[] = [];
    for (const type of ['uint16', 'int16', 'bool'] as const) {
      for (const order of ORDERS) {
        for (const w of [0, 1, 0x00ff, 0x7fff, 0x8000, 0xff00, 0xffff, 0x1234]) {
          got.push([type, order, w, decodeValue([w, 0xbeef], { type, order })]);
          want.push([type, order, w, decodeRegisters([w], type, order)]);
        }
      }
    }
    expect(got).toEqual(want);
    expect(decodeValue([0x8001], { type: 'int16', order: 'BADC' })).toBe(0x0180);
    expect(decodeValue([0x0180], { type: 'int16', order: 'BADC' })).toBe(-32767);
    expect(() => decodeValue([], { type: 'uint16' })).toThrow(RangeError);
  });

  it('int8/uint8 take the high or the low byte, after the byte order', () => {
    const at = (type: 'int8' | 'uint8', byte: 'high' | 'low', order: ByteOrder = 'ABCD') => decodeValue([0x80ff], { type, byte, order });
    expect([at('uint8', 'high'), at('uint8', 'low'), at('int8', 'high'), at('int8', 'low')]).toEqual([128, 255, -128, -1]);
    // BADC swaps the bytes of the register first: the high byte is now 0xFF.
    expect([at('uint8', 'high', 'BADC'), at('uint8', 'low', 'BADC')]).toEqual([255, 128]);
    expect(decodeValue([0x0105], { type: 'uint8' })).toBe(5); // no byte given: the low one
    expect(encodeValue(-2, 'int8', 'ABCD', 'high')).toEqual([0xfe00]);
    expect(encodeValue(200, 'uint8')).toEqual([0x00c8]);
    expect(() => encodeValue(128, 'int8')).toThrow(RangeError);
  });

  it('a bit is one bit of the register value, 0 the least significant', () => {
    const bits = [0, 1, 7, 8, 15].map((bit) => decodeValue([0x8181], { type: 'bool', bit }));
    expect(bits).toEqual([true, false, true, true, true]);
    expect(decodeValue([0x0100], { type: 'bool', bit: 0, order: 'BADC' })).toBe(true);
    expect(decodeValue([0x0004], { type: 'uint16', bit: 2 })).toBe(1);
  });

  it('a string is two characters per register, cut at NUL, trailing spaces dropped', () => {
    const pump = [0x5055, 0x4d50, 0x2d30, 0x3100]; // "PUMP-01\0"
    expect(decodeValue(pump, { type: 'string', length: 4 })).toBe('PUMP-01');
    expect(decodeValue([0x5550, 0x504d, 0x302d, 0x0031], { type: 'string', length: 4, order: 'BADC' })).toBe('PUMP-01');
    expect(decodeValue([0x4142, 0x2020, 0x0043], { type: 'string', length: 3 })).toBe('AB');
    expect(decodeValue([0x4142, 0x4344, 0x4546], { type: 'string', length: 2 })).toBe('ABCD');
    expect(decodeString([0x4100, 0x4242])).toBe('A');
    expect(encodeString('PUMP-01', 4)).toEqual(pump);
    expect(encodeString('PUMP-01', 4, 'BADC')).toEqual([0x5550, 0x504d, 0x302d, 0x0031]);
    expect(encodeString('TOO LONG FOR TWO', 2)).toEqual([0x544f, 0x4f20]);
    for (const order of ORDERS) expect(decodeString(encodeString('Grundfos CR 3-8', 8, order), order)).toBe('Grundfos CR 3-8');
  });

  it('plain numeric types go through decodeRegisters unchanged', () => {
    for (const { type, value, wire } of VECTORS) {
      for (const order of ORDERS) expect(decodeValue(wire[order], { type, order })).toBe(value);
    }
  });
});
