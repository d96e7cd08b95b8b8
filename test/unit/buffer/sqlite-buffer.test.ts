import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BufferError } from '../../../buffer/errors.js';
import { PAGE_CACHE_KIB } from '../../../buffer/schema.js';
import { SqliteBuffer } from '../../../buffer/sqlite-buffer.js';
import type { Point } from '../../../buffer/types.js';
import { points, realisticPoint, tempDir } from './fixtures.js';
import { BufferInspector } from '../../../buffer/inspect.js';

let tmp: ReturnType<typeof tempDir>;
const open: SqliteBuffer[] = [];

function buffer(sinks: string[], file = tmp.file(), extra: { maxDeletePerAck?: number } = {}): SqliteBuffer {
  const b = new SqliteBuffer({ path: file, sinks, ...extra });
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

function strip(p: Point & { seq?: number }): Point {
  const { seq: _seq, ...rest } = p;
  return { ...rest, tags: { ...rest.tags } };
}

describe('SqliteBuffer', () => {
  it('round-trips every value type faithfully', () => {
    const base = { deviceId: 'd', pointId: 'p', measurement: 'm', tags: { gateway: 'g', device: 'd' }, ts: 1_700_000_000_123 };
    const cases: Point[] = [
      { ...base, value: 12.5, raw: 125, unit: 'bar', quality: 'good' },
      { ...base, value: 3, raw: 3, quality: 'good' },
      { ...base, value: -0.000001, raw: 4294967295, quality: 'good' },
      { ...base, value: Number.MAX_SAFE_INTEGER + 2, raw: 2 ** 60, quality: 'good' },
      { ...base, value: 'RUNNING', raw: 'R', quality: 'good' },
      { ...base, value: '', raw: '', quality: 'good' },
      { ...base, value: '42', raw: 42, quality: 'good' },
      { ...base, value: true, raw: 1, quality: 'good' },
      { ...base, value: false, raw: false, quality: 'good' },
      { ...base, value: null, raw: null, quality: 'bad', error: 'EDGE_DEVICE_TIMEOUT' },
      { ...base, value: null, quality: 'uncertain', error: 'EDGE_VALUE_OUT_OF_RANGE' },
      { ...base, value: 7, raw: '7', quality: 'good' },
      { ...base, value: 1.5, unit: '', quality: 'good' },
    ];
    const b = buffer(['influx']);
    expect(b.append(cases)).toBe(cases.length);
    const back = b.read('influx', 100);
    expect(back.map((p) => p.seq)).toEqual(cases.map((_, i) => i + 1));
    expect(back.map(strip)).toEqual(cases);
    // Types survive too, not just values (toEqual would accept 1 for true? no, but be explicit).
    expect(back.map((p) => typeof p.value)).toEqual(cases.map((p) => typeof p.value));
    expect(back.map((p) => (p.raw === null ? 'null' : typeof p.raw))).toEqual(cases.map((p) => (p.raw === null ? 'null' : typeof p.raw)));
    expect('raw' in (back[10] as Point)).toBe(false);
  });

  it('keeps a series per identity: a tag or unit change is a new series, equal tags in another order are not', () => {
    const b = buffer(['s']);
    const p = realisticPoint(0);
    b.append([p, { ...p, tags: { ...p.tags, well: 'W-99' } }, { ...p, unit: 'l/s' }, { ...p, tags: Object.fromEntries(Object.entries(p.tags).reverse()) }]);
    const back = b.read('s', 10);
    expect(back.map((x) => x.tags.well)).toEqual(['W-0', 'W-99', 'W-0', 'W-0']);
    expect(back.map((x) => x.unit)).toEqual(['m3/h', 'm3/h', 'l/s', 'm3/h']);
  });

  it('reads oldest first after each sink cursor, independently per sink', () => {
    const b = buffer(['influx', 'postgres']);
    b.append(points(10));
    expect(b.read('influx', 4).map((p) => p.seq)).toEqual([1, 2, 3, 4]);
    b.ack('influx', 4);
    expect(b.read('influx', 4).map((p) => p.seq)).toEqual([5, 6, 7, 8]);
    expect(b.read('postgres', 3).map((p) => p.seq)).toEqual([1, 2, 3]);
    expect(b.pending('influx')).toBe(6);
    expect(b.pending('postgres')).toBe(10);
    // Cursors only move forward, and never past the last row.
    b.ack('influx', 2);
    expect(b.pending('influx')).toBe(6);
    b.ack('postgres', 1_000);
    expect(b.pending('postgres')).toBe(0);
    expect(b.stats().sinks.postgres?.cursor).toBe(10);
  });

  it('deletes rows only once every enabled sink has them', () => {
    const b = buffer(['influx', 'postgres']);
    b.append(points(10));
    b.ack('influx', 10);
    expect(b.stats().rows).toBe(10);
    b.ack('postgres', 6);
    expect(b.stats().rows).toBe(4);
    expect(b.read('postgres', 100).map((p) => p.seq)).toEqual([7, 8, 9, 10]);
    b.ack('postgres', 10);
    expect(b.stats().rows).toBe(0);
    // Seqs are never reused, even after the table emptied.
    expect(b.append(points(2))).toBe(12);
    expect(b.read('influx', 10).map((p) => p.seq)).toEqual([11, 12]);
  });

  it('bounds how many rows one ack deletes, and catches up on later acks', () => {
    const b = buffer(['s'], tmp.file(), { maxDeletePerAck: 3 });
    b.append(points(10));
    b.ack('s', 10);
    expect(b.stats().rows).toBe(7);
    b.append(points(1));
    b.ack('s', 11);
    expect(b.stats().rows).toBe(5);
    expect(b.pending('s')).toBe(0);
  });

  it('keeps rows and cursors across a restart, and never reuses a seq', () => {
    const file = tmp.file('nested/dir/buffer.db');
    const b1 = buffer(['influx', 'postgres'], file);
    b1.append(points(5));
    b1.ack('influx', 3);
    b1.close();
    b1.close(); // idempotent
    expect(fs.existsSync(file)).toBe(true);

    const b2 = buffer(['influx', 'postgres'], file);
    expect(b2.read('influx', 10).map((p) => p.seq)).toEqual([4, 5]);
    expect(b2.read('postgres', 10).map((p) => p.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(b2.read('postgres', 1).map(strip)).toEqual([realisticPoint(0)]);
    b2.ack('influx', 5);
    b2.ack('postgres', 5);
    b2.close();

    const b3 = buffer(['influx', 'postgres'], file);
    expect(b3.stats().rows).toBe(0);
    expect(b3.append(points(1))).toBe(6);
  });

  it('sets WAL, the requested synchronous mode and a small page cache on every open', () => {
    const file = tmp.file();
    buffer(['s'], file).close();
    const pragma = (b: SqliteBuffer, name: string) => (b as unknown as { db: { pragma: (s: string, o: object) => unknown } }).db.pragma(name, { simple: true });
    // Reopened WAL files default to NORMAL in this build, fresh ones to FULL: both must follow the option.
    const full = new SqliteBuffer({ path: file, sinks: ['s'], synchronous: 'full' });
    expect(pragma(full, 'synchronous')).toBe(2);
    expect(pragma(full, 'journal_mode')).toBe('wal');
    full.close();
    const normal = buffer(['s'], tmp.file('fresh.db'));
    expect(pragma(normal, 'synchronous')).toBe(1);
    expect(pragma(normal, 'busy_timeout')).toBe(5000);
    // SQLite's 2 MiB page cache, not better-sqlite3's 16 MB: resident memory a small box keeps.
    expect(pragma(normal, 'cache_size')).toBe(-PAGE_CACHE_KIB);
    expect(PAGE_CACHE_KIB).toBe(2048);
    // WAL is recorded in the file header (read/write versions 2), so it holds for every reader.
    expect([...fs.readFileSync(file).subarray(18, 20)]).toEqual([2, 2]);
  });

  it('gives a newly enabled sink what is still buffered, and lets a removed sink stop holding rows back', () => {
    const file = tmp.file();
    const b1 = buffer(['influx'], file);
    b1.append(points(6));
    b1.close();

    const b2 = buffer(['influx', 'postgres'], file);
    expect(b2.read('postgres', 100).map((p) => p.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    b2.ack('influx', 6);
    expect(b2.stats().rows).toBe(6); // postgres has not acked
    b2.close();

    // postgres removed: influx has everything, so the rows go at open.
    const b3 = buffer(['influx'], file);
    expect(b3.stats().rows).toBe(0);
    expect(() => b3.read('postgres', 1)).toThrow(BufferError);
    b3.append(points(2));
    b3.close();

    // postgres back again: it gets what is buffered now, not the rows that left meanwhile.
    const b4 = buffer(['influx', 'postgres'], file);
    expect(b4.read('postgres', 100).map((p) => p.seq)).toEqual([7, 8]);
  });

  it('keeps everything while no sink is enabled', () => {
    const file = tmp.file();
    const b1 = buffer([], file);
    b1.append(points(3));
    expect(b1.stats()).toMatchObject({ rows: 3, lastSeq: 3, sinks: {} });
    b1.close();
    const b2 = buffer(['influx'], file);
    expect(b2.pending('influx')).toBe(3);
  });

  it('reports per-sink backlog with the oldest pending timestamp', () => {
    const b = buffer(['influx', 'postgres']);
    b.append([{ ...realisticPoint(0), ts: 1000 }, { ...realisticPoint(1), ts: 2000 }, { ...realisticPoint(2), ts: 3000 }]);
    b.ack('influx', 1);
    b.ack('postgres', 3);
    const s = b.stats();
    expect(s.rows).toBe(2);
    expect(s.bytes).toBeGreaterThan(0);
    const counts = { dropped: 0, deadLettered: 0, deadLetters: 0, replaying: 0, enabled: true };
    expect(s.sinks).toEqual({
      influx: { cursor: 1, pending: 2, oldestTs: 2000, ...counts },
      postgres: { cursor: 3, pending: 0, oldestTs: null, ...counts },
    });
  });

  it('appends a call as one transaction: a failing point rolls back the whole call', () => {
    const b = buffer(['s']);
    b.append(points(2));
    const bad = { ...realisticPoint(3), ts: undefined } as unknown as Point; // NOT NULL violation
    expect(() => b.append([realisticPoint(2), { ...realisticPoint(9), deviceId: 'new-device' }, bad])).toThrow();
    expect(b.stats()).toMatchObject({ rows: 2, lastSeq: 2 });
    expect(b.append([{ ...realisticPoint(9), deviceId: 'new-device' }])).toBe(3);
    expect(b.read('s', 10).map((p) => p.deviceId)).toEqual(['pump-0', 'pump-1', 'new-device']);
  });

  it('works in memory, and refuses use after close with a stable code', () => {
    const b = new SqliteBuffer({ path: ':memory:', sinks: ['s'] });
    expect(b.append(points(3))).toBe(3);
    expect(b.pending('s')).toBe(3);
    b.close();
    expect(() => b.append(points(1))).toThrow(expect.objectContaining({ code: 'EDGE_BUFFER_CLOSED' }));
  });

  it('refuses a file that is not a database, or one from a newer agent', () => {
    const junk = tmp.file('junk.db');
    fs.writeFileSync(junk, 'this is not sqlite'.repeat(100));
    // Not moved aside unless asked (the agent asks; `edge-agent buffer stats` must never).
    expect(() => buffer(['s'], junk)).toThrow(expect.objectContaining({ code: 'EDGE_BUFFER_CORRUPT' }));
    expect(fs.existsSync(junk)).toBe(true);

    const file = tmp.file();
    buffer(['s'], file).close();
    const b = new SqliteBuffer({ path: file, sinks: ['s'] });
    // Simulate a newer agent having migrated the file.
    (b as unknown as { db: { pragma: (s: string) => unknown } }).db.pragma('user_version = 99');
    b.close();
    expect(() => buffer(['s'], file)).toThrow(expect.objectContaining({ code: 'EDGE_BUFFER_SCHEMA_TOO_NEW' }));
    // The agent and the operator commands say the same thing, including what to do about it.
    for (const open of [() => buffer(['s'], file), () => BufferInspector.open(file, { write: false })]) {
      expect(open).toThrow(/written by a newer edge-agent \(buffer schema 99; .*move the file aside/);
    }
  });
});
