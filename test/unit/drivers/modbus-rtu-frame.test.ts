import { describe, expect, it } from 'vitest';
import { charTimeMs, crc16, encodeReadRequest, interFrameMs, parseReadAnswer, responseLength } from '../../../drivers/modbus/rtu-frame.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('RTU frames', () => {
  it('CRC-16/MODBUS matches the specification examples', () => {
    // Modbus over serial line v1.02 / the classic "read 3 holding registers from 107 of slave 17".
    expect(encodeReadRequest(0x11, 'holding', 0x6b, 3)).toEqual(hex('11 03 006B 0003 7687'));
    expect(encodeReadRequest(1, 'holding', 0, 10)).toEqual(hex('01 03 0000 000A C5CD'));
    expect(encodeReadRequest(1, 'coil', 0x13, 0x25)).toEqual(hex('01 01 0013 0025 0C14')); // checked with pymodbus' computeCRC
    // The CRC of a frame including its own CRC is zero: the receiver's check.
    const f = encodeReadRequest(247, 'input', 65000, 125);
    expect(crc16(f)).toBe(0);
  });

  it('finds a register answer, and decodes it as 16-bit words', () => {
    const answer = Buffer.concat([hex('11 03 06 AE41 5652 4340'), Buffer.alloc(2)]);
    answer.writeUInt16LE(crc16(answer, 0, 9), 9);
    expect(parseReadAnswer(answer, { unitId: 0x11, register: 'holding', count: 3 })).toEqual({ status: 'ok', result: { kind: 'registers', words: [0xae41, 0x5652, 0x4340] } });
    expect(responseLength('holding', 3)).toBe(answer.length);
    // Byte by byte it is incomplete until the last CRC byte.
    for (let n = 0; n < answer.length; n++) expect(parseReadAnswer(answer.subarray(0, n), { unitId: 0x11, register: 'holding', count: 3 }).status).toBe('incomplete');
  });

  it('decodes coils least significant bit first', () => {
    // Spec example: coils 20-38 of slave 11 = CD 6B 05.
    const answer = withCrc('11 01 03 CD6B05');
    const r = parseReadAnswer(answer, { unitId: 0x11, register: 'coil', count: 19 });
    expect(r.status).toBe('ok');
    const bits = r.status === 'ok' && r.result.kind === 'bits' ? r.result.bits : [];
    expect(bits.map(Number).join('')).toBe('1011001111010110101');
  });

  it('an exception response, and a CRC error', () => {
    expect(parseReadAnswer(withCrc('0A 84 02'), { unitId: 10, register: 'input', count: 4 })).toEqual({ status: 'exception', code: 2 });
    const bad = withCrc('01 03 02 1234');
    bad[3] = 0x13;
    expect(parseReadAnswer(bad, { unitId: 1, register: 'holding', count: 1 })).toMatchObject({ status: 'garbled', detail: 'CRC error' });
  });

  it('skips noise and answers of other slaves before its own answer', () => {
    const other = withCrc('02 03 02 FFFF'); // a late answer of slave 2
    const mine = withCrc('01 03 02 0007');
    const bytes = Buffer.concat([hex('00 FF 01'), other, mine]);
    expect(parseReadAnswer(bytes, { unitId: 1, register: 'holding', count: 1 })).toEqual({ status: 'ok', result: { kind: 'registers', words: [7] } });
    // A header of ours with the wrong byte count is not taken for the answer.
    expect(parseReadAnswer(withCrc('01 03 04 00010002'), { unitId: 1, register: 'holding', count: 1 }).status).toBe('incomplete');
  });

  it('inter-frame silence: 3.5 characters, 1.75 ms above 19200 baud', () => {
    expect(charTimeMs({ baudRate: 9600, parity: 'none', dataBits: 8, stopBits: 1 })).toBeCloseTo(10 / 9.6, 6);
    expect(charTimeMs({ baudRate: 9600, parity: 'even', dataBits: 8, stopBits: 1 })).toBeCloseTo(11 / 9.6, 6);
    expect(interFrameMs({ baudRate: 9600, parity: 'none', dataBits: 8, stopBits: 1 })).toBeCloseTo(3.646, 3);
    expect(interFrameMs({ baudRate: 19200, parity: 'none', dataBits: 8, stopBits: 2 })).toBeCloseTo((3.5 * 11) / 19.2, 6);
    expect(interFrameMs({ baudRate: 115200, parity: 'none', dataBits: 8, stopBits: 1 })).toBe(1.75);
  });
});

function withCrc(body: string): Buffer {
  const b = hex(body);
  const out = Buffer.alloc(b.length + 2);
  b.copy(out);
  out.writeUInt16LE(crc16(b), b.length);
  return out;
}
