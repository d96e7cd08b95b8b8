import { describe, expect, it } from 'vitest';
import { FrameGuard, remainingLength } from '../../../broker/frame-guard.js';

/** A PUBLISH of `body` bytes after its fixed header (the body's content does not matter here). */
function packet(body: number): Buffer {
  const len: number[] = [];
  let n = body;
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    len.push(b);
  } while (n > 0);
  return Buffer.concat([Buffer.from([0x30, ...len]), Buffer.alloc(body, 7)]);
}

describe('FrameGuard', () => {
  it('reads the remaining length of MQTT 3.1.1 §2.2.3 (1 to 4 bytes), and refuses a fifth', () => {
    expect(remainingLength([0x30])).toBeUndefined();
    expect(remainingLength([0x30, 0])).toBe(0);
    expect(remainingLength([0x30, 0xc1, 0x02])).toBe(321);
    expect(remainingLength([0x30, 0xff, 0xff, 0xff, 0x7f])).toBe(268_435_455);
    expect(remainingLength([0x30, 0x80, 0x80, 0x80, 0x80, 0x01])).toBe(-1);
  });

  it('follows packet boundaries across chunks, however the stream is cut, and trips on the first packet over the bound', () => {
    const stream = Buffer.concat([packet(10), packet(200), packet(1000), packet(5000), packet(20)]);
    for (const cut of [1, 2, 3, 7, 64, 1500]) {
      const tripped: number[] = [];
      const guard = new FrameGuard(2000, (n) => tripped.push(n));
      for (let i = 0; i < stream.length; i += cut) if (!guard.push(stream.subarray(i, i + cut))) break;
      expect(tripped).toEqual([5003]); // 5000 bytes of body + 3 of fixed header
    }
  });

  it('lets a stream of packets within the bound through', () => {
    const guard = new FrameGuard(2000, () => expect.fail('tripped'));
    expect(guard.push(Buffer.concat([packet(0), packet(1996), packet(127), packet(128)]))).toBe(true);
  });
});
