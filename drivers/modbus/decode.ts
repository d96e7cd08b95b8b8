/**
 * Register decoding and encoding: pure functions, no I/O.
 *
 * A Modbus register is a 16-bit word sent high byte first. Values wider than one register are
 * spread over consecutive registers, and devices disagree on the order. The `order` letters name
 * the bytes of the value as they arrive on the wire, A being the most significant byte:
 *
 * | order | 32-bit wire bytes (registers) | 64-bit wire bytes (registers)   | 16-bit  | what the device does |
 * |-------|-------------------------------|---------------------------------|---------|------------------------------|
 * | ABCD  | A B · C D                     | A B · C D · E F · G H           | A B     | big-endian (Modbus standard) |
 * | CDAB  | C D · A B                     | G H · E F · C D · A B           | A B     | registers reversed           |
 * | BADC  | B A · D C                     | B A · D C · F E · H G           | B A     | bytes swapped in each register |
 * | DCBA  | D C · B A                     | H G · F E · D C · B A           | B A     | little-endian (full reversal) |
 *
 * For 64-bit values A..H name the eight bytes, A most significant. CDAB reverses the order of all
 * four registers (not just the two halves), so DCBA is always CDAB and BADC combined.
 *
 * Example: float32 123.456 is 0x42F6E979, so ABCD arrives as registers [0x42F6, 0xE979], CDAB as
 * [0xE979, 0x42F6], BADC as [0xF642, 0x79E9] and DCBA as [0x79E9, 0xF642].
 *
 * 64-bit integers become JS numbers: exact up to 2^53 (9 007 199 254 740 992); beyond that the
 * nearest double is returned (a counter of that size loses its last digits, it is not wrapped).
 *
 * The narrow types read one register after its byte order is applied: `int8`/`uint8` take its
 * high byte (the first on the wire with ABCD) or its low byte, a `bit` point takes one bit of its
 * 16-bit value (0 = least significant). A `string` spans `length` registers, two characters each,
 * the first character in the high byte (ABCD; BADC swaps each pair, CDAB/DCBA reverse the registers).
 */
import type { ByteOrder, ModbusType } from '../../config/types.js';

const WORDS: Record<ModbusType, number> = {
  bool: 1,
  int8: 1,
  uint8: 1,
  string: 1, // per register: a string spans `length` of them
  int16: 1,
  uint16: 1,
  int32: 2,
  uint32: 2,
  float32: 2,
  int64: 4,
  uint64: 4,
  float64: 4,
};

/** How many 16-bit registers a value of this type occupies (a string: its `length`). */
export function registerCount(type: ModbusType, length?: number): number {
  return type === 'string' ? (length ?? 1) : WORDS[type];
}

const SWAPS_BYTES: Record<ByteOrder, boolean> = { ABCD: false, CDAB: false, BADC: true, DCBA: true };
const REVERSES_REGISTERS: Record<ByteOrder, boolean> = { ABCD: false, CDAB: true, BADC: false, DCBA: true };

/**
 * Moves between wire order and big-endian order. Reversing the registers and swapping the bytes
 * are each their own inverse and commute, so the same function decodes and encodes.
 */
function reorder(words: readonly number[], order: ByteOrder): number[] {
  const swap = SWAPS_BYTES[order];
  const ordered = REVERSES_REGISTERS[order] ? [...words].reverse() : [...words];
  return ordered.map((w) => {
    const word = w & 0xffff;
    return swap ? ((word & 0xff) << 8) | (word >>> 8) : word;
  });
}

function bigEndianView(words: readonly number[]): DataView {
  const view = new DataView(new ArrayBuffer(words.length * 2));
  words.forEach((w, i) => view.setUint16(i * 2, w, false));
  return view;
}

/**
 * Decodes the registers of one value. `words` may be longer than the type needs (the rest is
 * ignored); shorter is a programming error and throws a RangeError.
 * A `bool` held in a register is true when the register is not zero; `int8`/`uint8` are its low
 * byte here (decodeValue picks the byte a point asks for); a `string` goes through decodeString.
 */
export function decodeRegisters(words: readonly number[], type: ModbusType, order: ByteOrder = 'ABCD'): number | boolean {
  const n = registerCount(type);
  if (words.length < n) throw new RangeError(`${type} needs ${n} registers, got ${words.length}`);
  const view = bigEndianView(reorder(words.slice(0, n), order));
  switch (type) {
    case 'bool':
      return view.getUint16(0) !== 0;
    case 'int8':
      return view.getInt8(1);
    case 'uint8':
      return view.getUint8(1);
    case 'string':
      throw new TypeError('a string is decoded by decodeString');
    case 'int16':
      return view.getInt16(0);
    case 'uint16':
      return view.getUint16(0);
    case 'int32':
      return view.getInt32(0);
    case 'uint32':
      return view.getUint32(0);
    case 'float32':
      return view.getFloat32(0);
    case 'int64':
      return Number(view.getBigInt64(0));
    case 'uint64':
      return Number(view.getBigUint64(0));
    case 'float64':
      return view.getFloat64(0);
  }
}

/** The types decodeValue reads from one register without a view (int8/uint8 pick a byte: the general path). */
const ONE_WORD: ReadonlySet<ModbusType> = new Set(['uint16', 'int16', 'bool']);

/** What decodeValue needs to know about a point. */
export interface ValueSpec {
  type: ModbusType;
  order?: ByteOrder;
  /** `string`: registers it spans. */
  length?: number | undefined;
  /** One bit of the (first) register, 0 = least significant. */
  bit?: number | undefined;
  /** `int8`/`uint8`: the high (first on the wire with ABCD) or the low byte. */
  byte?: 'high' | 'low' | undefined;
}

/** Decodes a register point of any type: the driver's one entry point. */
export function decodeValue(words: readonly number[], spec: ValueSpec): number | boolean | string {
  const order = spec.order ?? 'ABCD';
  if (spec.bit === undefined && ONE_WORD.has(spec.type)) {
    // One register, the common case: no copies, no DataView (a poll decodes every point each time).
    const w = words[0];
    if (w === undefined) throw new RangeError(`${spec.type} needs 1 registers, got 0`);
    const word = SWAPS_BYTES[order] ? ((w & 0xff) << 8) | ((w & 0xffff) >>> 8) : w & 0xffff;
    return spec.type === 'uint16' ? word : spec.type === 'int16' ? (word << 16) >> 16 : word !== 0;
  }
  if (spec.type === 'string') return decodeString(words.slice(0, spec.length ?? words.length), order);
  if (spec.bit !== undefined || spec.type === 'int8' || spec.type === 'uint8') {
    if (words.length < 1) throw new RangeError(`${spec.type} needs 1 register, got 0`);
    const word = reorder(words.slice(0, 1), order)[0] ?? 0;
    if (spec.bit !== undefined) {
      const set = ((word >>> spec.bit) & 1) === 1;
      return spec.type === 'bool' ? set : set ? 1 : 0;
    }
    const b = spec.byte === 'high' ? word >>> 8 : word & 0xff;
    return spec.type === 'int8' && b > 127 ? b - 256 : b;
  }
  return decodeRegisters(words, spec.type, order);
}

/**
 * Two characters per register, byte by byte (latin1, so no byte is ever rejected). The text ends
 * at the first NUL, and trailing spaces are dropped: devices pad fixed-length fields with either.
 */
export function decodeString(words: readonly number[], order: ByteOrder = 'ABCD'): string {
  const bytes = Buffer.alloc(words.length * 2);
  reorder(words, order).forEach((w, i) => bytes.writeUInt16BE(w, i * 2));
  const text = bytes.toString('latin1');
  const nul = text.indexOf('\0');
  return (nul >= 0 ? text.slice(0, nul) : text).replace(/ +$/, '');
}

/** The registers a device holding `text` in `length` registers would send (NUL padded). */
export function encodeString(text: string, length: number, order: ByteOrder = 'ABCD'): number[] {
  const bytes = Buffer.alloc(length * 2);
  bytes.write(text.slice(0, length * 2), 'latin1');
  return reorder(Array.from({ length }, (_, i) => bytes.readUInt16BE(i * 2)), order);
}

/**
 * A coil or discrete input is one bit whatever the configured type: `bool` gives true/false,
 * any numeric type gives 1/0 (handy for scale or map transforms).
 */
export function decodeBit(bit: boolean, type: ModbusType): number | boolean {
  return type === 'bool' ? bit : bit ? 1 : 0;
}

const INT_RANGES: Partial<Record<ModbusType, readonly [bigint, bigint]>> = {
  int8: [-(2n ** 7n), 2n ** 7n - 1n],
  uint8: [0n, 2n ** 8n - 1n],
  int16: [-(2n ** 15n), 2n ** 15n - 1n],
  uint16: [0n, 2n ** 16n - 1n],
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
};

function toInteger(value: number | bigint, type: ModbusType): bigint {
  if (typeof value === 'number' && !Number.isInteger(value)) throw new RangeError(`${type} needs an integer, got ${value}`);
  const big = BigInt(value);
  const range = INT_RANGES[type];
  if (range && (big < range[0] || big > range[1])) throw new RangeError(`${value} is out of range for ${type}`);
  return big;
}

/**
 * The inverse of `decodeRegisters`: the registers a device would send for `value`. Used by the
 * simulator and the tests. Integers must be integral and in range (a RangeError otherwise);
 * 64-bit integers may be given as bigint to be exact beyond 2^53; floats are rounded to the type.
 * An `int8`/`uint8` fills the low byte (or the high one with `byte: 'high'`), the other byte 0;
 * a string goes through encodeString.
 */
export function encodeValue(value: number | bigint | boolean, type: ModbusType, order: ByteOrder = 'ABCD', byte: 'high' | 'low' = 'low'): number[] {
  const n = registerCount(type);
  const view = new DataView(new ArrayBuffer(n * 2));
  if (type === 'bool') {
    view.setUint16(0, value === true || (typeof value !== 'boolean' && value !== 0 && value !== 0n) ? 1 : 0);
  } else {
    const v = typeof value === 'boolean' ? Number(value) : value;
    switch (type) {
      case 'float32':
        view.setFloat32(0, Number(v));
        break;
      case 'float64':
        view.setFloat64(0, Number(v));
        break;
      case 'int16':
      case 'uint16':
        view.setUint16(0, Number(BigInt.asUintN(16, toInteger(v, type))));
        break;
      case 'int32':
      case 'uint32':
        view.setUint32(0, Number(BigInt.asUintN(32, toInteger(v, type))));
        break;
      case 'int64':
      case 'uint64':
        view.setBigUint64(0, BigInt.asUintN(64, toInteger(v, type)));
        break;
      case 'int8':
      case 'uint8':
        view.setUint8(byte === 'high' ? 0 : 1, Number(BigInt.asUintN(8, toInteger(v, type))));
        break;
      case 'string':
        throw new TypeError('a string is encoded by encodeString');
    }
  }
  const words = Array.from({ length: n }, (_, i) => view.getUint16(i * 2));
  return reorder(words, order);
}
