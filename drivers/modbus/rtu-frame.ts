/**
 * Modbus RTU framing for the read functions (FC1-FC4): pure functions, no I/O.
 *
 * A frame is `unit, function, data…, CRC-16` (CRC low byte first). RTU has no length field in
 * the request and no transaction id: a master knows what it asked for, so it knows how long the
 * answer must be, and frames are told apart by silence on the line (3.5 characters, a fixed
 * 1.75 ms above 19200 baud: Modbus over serial line v1.02, 2.5.1.1).
 */
import type { RegisterKind } from '../../config/types.js';
import type { RequestResult } from './read-cycle.js';

export const FUNCTION_CODE: Readonly<Record<RegisterKind, number>> = { coil: 1, discrete: 2, holding: 3, input: 4 };

const CRC_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    table[i] = c;
  }
  return table;
})();

/** CRC-16/MODBUS (reflected polynomial 0xA001, initial 0xFFFF) of `bytes[start, end)`. */
export function crc16(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0xffff;
  for (let i = start; i < end; i++) crc = (crc >>> 8) ^ (CRC_TABLE[(crc ^ (bytes[i] as number)) & 0xff] as number);
  return crc;
}

/** The 8-byte request frame: unit, function, start address, quantity, CRC. */
export function encodeReadRequest(unitId: number, register: RegisterKind, address: number, count: number): Buffer {
  const frame = Buffer.alloc(8);
  frame.writeUInt8(unitId, 0);
  frame.writeUInt8(FUNCTION_CODE[register], 1);
  frame.writeUInt16BE(address, 2);
  frame.writeUInt16BE(count, 4);
  frame.writeUInt16LE(crc16(frame, 0, 6), 6);
  return frame;
}

/** Bytes of the normal answer to a read of `count` registers or bits. */
export function responseLength(register: RegisterKind, count: number): number {
  return 3 + dataBytes(register, count) + 2;
}

function dataBytes(register: RegisterKind, count: number): number {
  return register === 'coil' || register === 'discrete' ? Math.ceil(count / 8) : count * 2;
}

export interface ExpectedAnswer {
  unitId: number;
  register: RegisterKind;
  count: number;
}

export type ParsedAnswer =
  /** Not enough bytes yet. */
  | { status: 'incomplete' }
  | { status: 'ok'; result: RequestResult }
  | { status: 'exception'; code: number }
  /** A frame for us that cannot be right (CRC, byte count). */
  | { status: 'garbled'; detail: string };

/**
 * Looks for the answer to `expect` in the bytes received since the request went out. Bytes
 * before a header that matches (unit and function, or function | 0x80) are skipped: noise, or
 * the tail of an answer that arrived after its own request had timed out. A frame with a bad CRC
 * counts only when nothing better can still arrive.
 */
export function parseReadAnswer(bytes: Uint8Array, expect: ExpectedAnswer): ParsedAnswer {
  const want = dataBytes(expect.register, expect.count);
  const r = scanAnswer(bytes, expect.unitId, FUNCTION_CODE[expect.register], (i) => {
    if (bytes.length < i + 3) return 'wait';
    // A byte count that does not fit is most likely not our header at all: keep looking.
    if (bytes[i + 2] !== want) return 'skip';
    return i + 3 + want + 2;
  });
  return r.status === 'ok' ? { status: 'ok', result: decodeData(bytes.subarray(r.at + 3, r.at + 3 + want), expect) } : r;
}

type Scanned = { status: 'incomplete' } | { status: 'ok'; at: number } | { status: 'exception'; code: number } | { status: 'garbled'; detail: string };

/**
 * The search both answer parsers share: from each byte that could start a frame for `unitId`
 * with `fc` (or its exception, fc | 0x80), `normal(i)` says whether a normal answer starting there
 * needs more bytes ('wait'), cannot be ours ('skip'), or ends at the returned offset; the first
 * frame whose CRC holds wins, a bad CRC counts only when nothing better can still arrive.
 */
function scanAnswer(bytes: Uint8Array, unitId: number, fc: number, normal: (i: number) => 'wait' | 'skip' | number): Scanned {
  let waiting = false;
  let garbled: string | undefined;
  for (let i = 0; i + 1 < bytes.length; i++) {
    if (bytes[i] !== unitId) continue;
    const code = bytes[i + 1];
    if (code === (fc | 0x80)) {
      if (bytes.length < i + 5) waiting = true;
      else if (crcOk(bytes, i, i + 5)) return { status: 'exception', code: bytes[i + 2] as number };
      else garbled ??= 'CRC error in an exception response';
      continue;
    }
    if (code !== fc) continue;
    const end = normal(i);
    if (end === 'skip') continue;
    if (end === 'wait' || bytes.length < end) waiting = true;
    else if (crcOk(bytes, i, end)) return { status: 'ok', at: i };
    else garbled ??= 'CRC error';
  }
  if (waiting || garbled === undefined) return { status: 'incomplete' };
  return { status: 'garbled', detail: garbled };
}

function crcOk(bytes: Uint8Array, start: number, end: number): boolean {
  const got = (bytes[end - 2] as number) | ((bytes[end - 1] as number) << 8);
  return got === crc16(bytes, start, end - 2);
}

function decodeData(data: Uint8Array, expect: ExpectedAnswer): RequestResult {
  if (expect.register === 'coil' || expect.register === 'discrete') {
    const bits = Array.from({ length: expect.count }, (_, i) => (((data[i >> 3] as number) >> (i & 7)) & 1) === 1);
    return { kind: 'bits', bits };
  }
  const words = Array.from({ length: expect.count }, (_, i) => ((data[2 * i] as number) << 8) | (data[2 * i + 1] as number));
  return { kind: 'registers', words };
}

export interface LineSettings {
  baudRate: number;
  parity: 'none' | 'even' | 'odd';
  dataBits: number;
  stopBits: number;
}

/** Milliseconds one character takes on the wire: start bit, data bits, parity bit, stop bits. */
export function charTimeMs(line: LineSettings): number {
  const bits = 1 + line.dataBits + (line.parity === 'none' ? 0 : 1) + line.stopBits;
  return (bits * 1000) / line.baudRate;
}

/** The silence that separates frames: 3.5 characters, fixed at 1.75 ms above 19200 baud. */
export function interFrameMs(line: LineSettings): number {
  return line.baudRate > 19200 ? 1.75 : 3.5 * charTimeMs(line);
}

/** The write functions: FC5 one coil, FC6 one register, FC15 coils, FC16 registers. */
export type WriteFunction = 5 | 6 | 15 | 16;

/**
 * A write request frame. FC5/FC6 carry the one value (a coil as 0xFF00 / 0x0000); FC15/FC16 the
 * quantity, a byte count and the data (coils packed least significant bit first).
 */
export function encodeWriteRequest(unitId: number, fc: WriteFunction, address: number, data: readonly number[] | readonly boolean[]): Buffer {
  let body: Buffer;
  if (fc === 5 || fc === 6) {
    body = Buffer.alloc(4);
    body.writeUInt16BE(address, 0);
    const v = data[0];
    body.writeUInt16BE(fc === 5 ? (v === true ? 0xff00 : 0) : Number(v) & 0xffff, 2);
  } else {
    const bytes = fc === 15 ? Math.ceil(data.length / 8) : data.length * 2;
    body = Buffer.alloc(5 + bytes);
    body.writeUInt16BE(address, 0);
    body.writeUInt16BE(data.length, 2);
    body.writeUInt8(bytes, 4);
    data.forEach((v, i) => {
      if (fc === 15) body[5 + (i >> 3)] = (body[5 + (i >> 3)] as number) | ((v === true ? 1 : 0) << (i & 7));
      else body.writeUInt16BE(Number(v) & 0xffff, 5 + 2 * i);
    });
  }
  const frame = Buffer.alloc(2 + body.length + 2);
  frame.writeUInt8(unitId, 0);
  frame.writeUInt8(fc, 1);
  body.copy(frame, 2);
  frame.writeUInt16LE(crc16(frame, 0, frame.length - 2), frame.length - 2);
  return frame;
}

/** Every normal answer to a write is 8 bytes: unit, function, and the request's first four data bytes echoed. */
export const WRITE_ANSWER_BYTES = 8;

/** Looks for the answer to the write `request` (a frame from encodeWriteRequest), as parseReadAnswer does for reads. */
export function parseWriteAnswer(bytes: Uint8Array, request: Uint8Array): { status: 'incomplete' } | { status: 'ok' } | { status: 'exception'; code: number } | { status: 'garbled'; detail: string } {
  const r = scanAnswer(bytes, request[0] as number, request[1] as number, (i) => {
    if (bytes.length < i + WRITE_ANSWER_BYTES) return 'wait';
    for (let k = 2; k < 6; k++) if (bytes[i + k] !== request[k]) return 'skip';
    return i + WRITE_ANSWER_BYTES;
  });
  return r.status === 'ok' ? { status: 'ok' } : r;
}
