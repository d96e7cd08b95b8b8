/**
 * The bound: rows and bytes, evict-oldest or refuse-new, never exceeded, every dropped point
 * counted per sink and reported in a rate-limited warning. Real SQLite files; sizes are page
 * counts (deterministic), never timings.
 */
import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteBuffer, type SqliteBufferOptions } from '../../../buffer/sqlite-buffer.js';
import { points, tempDir } from './fixtures.js';

let tmp: ReturnType<typeof tempDir>;
const open: SqliteBuffer[] = [];
let now = 1_700_000_000_000;

class Log {
  warns: Array<{ obj: Record<string, unknown>; msg: string }> = [];
  errors: Array<{ obj: Record<string, unknown>; msg: string }> = [];
  info(): void {}
  warn(obj: object, msg?: string): void {
    this.warns.push({ obj: obj as Record<string, unknown>, msg: msg ?? '' });
  }
  error(obj: object, msg?: string): void {
    this.errors.push({ obj: obj as Record<string, unknown>, msg: msg ?? '' });
  }
}

function buffer(opts: Partial<SqliteBufferOptions> = {}): SqliteBuffer {
  const b = new SqliteBuffer({ path: tmp.file(), sinks: ['influx', 'postgres'], now: () => now, ...opts });
  open.push(b);
  return b;
}

beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => {
  for (const b of open.splice(0)) b.close();
  tmp.remove();
});

describe('bound on rows', () => {
  it('dropOldest: never holds more than maxRows, evicts from the oldest end, counts per sink what each had not acked', () => {
    const b = buffer({ maxRows: 1000 });
    b.append(points(600));
    b.ack('influx', 500); // influx has 1..500; postgres nothing
    for (let i = 0; i < 24; i++) {
      b.append(points(100, 600 + i * 100));
      expect(b.stats().rows).toBeLessThanOrEqual(1000);
    }
    const s = b.stats();
    expect(s).toMatchObject({ rows: 1000, lastSeq: 3000, dropped: 2000 });
    expect(b.read('postgres', 1)[0]?.seq).toBe(2001);
    expect(b.read('influx', 1)[0]?.seq).toBe(2001);
    // postgres lost all 2000 evicted rows; influx only those after its cursor (501..2000).
    expect(s.sinks.postgres).toMatchObject({ dropped: 2000, pending: 1000 });
    expect(s.sinks.influx).toMatchObject({ dropped: 1500, pending: 1000 });
    expect(b.counters()).toMatchObject({ appended: 3000, dropped: 2000, droppedBySink: { postgres: 2000, influx: 1500 } });
  });

  it('dropOldest with one append larger than the bound keeps the newest of it', () => {
    const b = buffer({ maxRows: 100 });
    b.append(points(250));
    expect(b.stats()).toMatchObject({ rows: 100, dropped: 150 });
    // The 150 dropped never got a seq: seqs stay contiguous.
    expect(b.read('influx', 1000).map((p) => p.seq)).toEqual(Array.from({ length: 100 }, (_, i) => 1 + i));
    expect(b.read('influx', 1)[0]).toMatchObject({ pointId: points(1, 150)[0]?.pointId, deviceId: points(1, 150)[0]?.deviceId });
  });

  it('rejectNew: keeps the oldest, refuses what does not fit, counts it for every sink, and accepts again once drained', () => {
    const b = buffer({ maxRows: 1000, whenFull: 'rejectNew' });
    for (let i = 0; i < 15; i++) b.append(points(100, i * 100));
    expect(b.stats()).toMatchObject({ rows: 1000, lastSeq: 1000, dropped: 500 });
    expect(b.stats().sinks.influx).toMatchObject({ dropped: 500 });
    expect(b.stats().sinks.postgres).toMatchObject({ dropped: 500 });
    // Part of an append fits: the first points of it are taken.
    b.ack('influx', 50);
    b.ack('postgres', 50);
    expect(b.append(points(80, 5000))).toBe(1050);
    expect(b.stats()).toMatchObject({ rows: 1000, dropped: 530 });
  });

  it('evicts at open when the bound was lowered', () => {
    const file = tmp.file();
    const b1 = buffer({ path: file });
    b1.append(points(5000));
    b1.close();
    const b2 = buffer({ path: file, maxRows: 1200 });
    expect(b2.stats()).toMatchObject({ rows: 1200, dropped: 3800 });
    expect(b2.read('influx', 1)[0]?.seq).toBe(3801);
  });
});

describe('bound on bytes', () => {
  for (const whenFull of ['dropOldest', 'rejectNew'] as const) {
    it(`${whenFull}: the database never grows past maxBytes, on disk either`, () => {
      const maxBytes = 256 * 1024;
      const file = tmp.file();
      const b = buffer({ path: file, maxBytes, whenFull });
      let stored = 0;
      for (let i = 0; i < 150; i++) {
        b.append(points(200, i * 200));
        const s = b.stats();
        expect(s.bytes).toBeLessThanOrEqual(maxBytes);
        stored = s.rows;
      }
      const s = b.stats();
      // Near the bound, not far below it: the estimate does not evict wildly.
      expect(s.bytes).toBeGreaterThan(maxBytes * 0.8);
      expect(stored + s.dropped).toBe(30_000);
      expect(s.sinks.influx?.dropped).toBe(s.dropped);
      b.close();
      expect(fs.statSync(file).size).toBeLessThanOrEqual(maxBytes);
      if (whenFull === 'rejectNew') expect(new SqliteBuffer({ path: file, sinks: ['influx'] }).read('influx', 1)[0]?.seq).toBe(1);
    });
  }

  it('keeps rows flowing at the bound: acks free pages that later appends reuse', () => {
    const maxBytes = 256 * 1024;
    const b = buffer({ maxBytes });
    for (let i = 0; i < 100; i++) {
      b.append(points(200, i * 200));
      const last = b.stats().lastSeq;
      if (i % 3 === 0) {
        b.ack('influx', last);
        b.ack('postgres', last);
      }
      expect(b.stats().bytes).toBeLessThanOrEqual(maxBytes);
    }
    expect(b.stats().lastSeq).toBe(20_000);
  });
});

describe('reporting drops', () => {
  it('warns at most once per interval with the totals since the last warning, per sink and reason', () => {
    const log = new Log();
    const b = buffer({ maxRows: 100, logger: log, dropLogEveryMs: 60_000 });
    b.append(points(100));
    b.append(points(10, 100)); // first drop: warned at once
    expect(log.warns).toHaveLength(1);
    expect(log.warns[0]?.obj).toMatchObject({ code: 'EDGE_BUFFER_POINTS_DROPPED', dropped: 10, bySink: { influx: 10, postgres: 10 }, reasons: { bound: 10 } });
    for (let i = 0; i < 50; i++) b.append(points(10, 200 + i * 10));
    expect(log.warns).toHaveLength(1);
    now += 60_000;
    b.append(points(10, 900));
    expect(log.warns).toHaveLength(2);
    expect(log.warns[1]?.obj).toMatchObject({ dropped: 510, droppedSinceStart: 520 });
    expect(b.stats().dropped).toBe(520);
  });
});

describe('bound on dead letters', () => {
  it('keeps at most maxDeadLetters: the oldest go, counted as drops of their sink', () => {
    const log = new Log();
    const b = buffer({ maxDeadLetters: 50, logger: log });
    b.append(points(120));
    for (let i = 0; i < 4; i++) {
      const batch = b.read('influx', 30);
      b.settle('influx', [], batch.map((point) => ({ point, code: 'EDGE_SINK_INVALID', message: `batch ${i}` })));
    }
    const left = b.deadLetterList();
    expect(left).toHaveLength(50);
    expect(left.map((d) => d.seq)).toEqual(Array.from({ length: 50 }, (_, k) => 71 + k)); // the newest 50
    expect(b.stats()).toMatchObject({ dropped: 70, sinks: { influx: { dropped: 70, deadLetters: 50 }, postgres: { dropped: 0 } } });
    expect(b.counters()).toMatchObject({ dropped: 70, droppedBySink: { influx: 70 } });
    expect(log.warns.at(-1)?.obj).toMatchObject({ reasons: { 'dead-letters-full': 10 } });
    expect(b.pending('postgres')).toBe(120); // the other sink's points are untouched
  });
});
