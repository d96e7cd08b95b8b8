/** Held rows (read before the clock was trusted) wait in order, then leave re-stamped or flagged. */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { SqliteBuffer } from '../../../buffer/sqlite-buffer.js';
import { points, tempDir } from './fixtures.js';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.remove());

const tag = { bootId: 'boot-1', offsetMs: -5000, sinceMono: 100 };

it('holds rows back (and everything after them) until released, then re-stamps them', () => {
  const file = tmp.file();
  const b = new SqliteBuffer({ path: file, sinks: ['s'] });
  b.append(points(3));
  b.append(points(4, 3), { hold: tag });
  b.append(points(2, 7), { hold: tag }); // same tag: one range
  b.append(points(2, 9));
  expect(b.read('s', 100).map((p) => p.seq)).toEqual([1, 2, 3]);
  b.ack('s', 100); // cannot move into held rows
  expect(b.stats()).toMatchObject({ rows: 8, held: 6 });
  expect(b.stats().sinks.s?.pending).toBe(8);
  b.close();

  const b2 = new SqliteBuffer({ path: file, sinks: ['s'] }); // holds survive a restart
  const holds = b2.holdList();
  expect(holds).toEqual([{ firstSeq: 4, lastSeq: 9, ...tag }]);
  expect(b2.releaseHold(holds[0]!, { shiftMs: 86_400_000 })).toBe(6);
  const rows = b2.read('s', 100);
  expect(rows.map((p) => p.seq)).toEqual([4, 5, 6, 7, 8, 9, 10, 11]);
  expect(rows.slice(0, 6).map((p) => p.ts)).toEqual(points(6, 3).map((p) => p.ts + 86_400_000));
  expect(rows.slice(6).map((p) => p.ts)).toEqual(points(2, 9).map((p) => p.ts));
  b2.close();
});

it('flags instead: uncertain with EDGE_CLOCK_UNTRUSTED, bad points keep their own error', () => {
  const b = new SqliteBuffer({ path: tmp.file(), sinks: ['s'] });
  const ps = points(2);
  ps[1] = { ...ps[1]!, value: null, quality: 'bad', error: 'EDGE_DEVICE_TIMEOUT' };
  b.append(ps, { hold: tag });
  b.releaseHold(b.holdList()[0]!, { flag: { quality: 2, error: 'EDGE_CLOCK_UNTRUSTED' } });
  expect(b.read('s', 10).map((p) => [p.quality, p.error, p.ts])).toEqual([
    ['uncertain', 'EDGE_CLOCK_UNTRUSTED', ps[0]!.ts],
    ['bad', 'EDGE_DEVICE_TIMEOUT', ps[1]!.ts],
  ]);
  b.close();
});

it('eviction trims held ranges with the rows', () => {
  const b = new SqliteBuffer({ path: tmp.file(), sinks: ['s'], maxRows: 5 });
  b.append(points(4), { hold: tag });
  b.append(points(4, 4));
  expect(b.holdList()).toEqual([{ ...tag, firstSeq: 4, lastSeq: 4 }]);
  expect(b.stats().held).toBe(1);
  b.close();
});
