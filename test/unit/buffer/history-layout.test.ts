/**
 * The history table's layout (buffer/schema.ts v6): in time order, so writing a bucket for each
 * of many series appends a few pages instead of touching one page per series (what wore the SD
 * card under v4/v5), reads of one series still find every bucket of it at any alignment, and a
 * file written with the earlier layout keeps its history through the migration.
 */
import { mkdtempSync } from 'node:fs';
import { statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { HistoryStore, type HistoryRow } from '../../../buffer/history.js';
import { migrate, SCHEMA_VERSION } from '../../../buffer/schema.js';
import { SqliteBuffer } from '../../../buffer/sqlite-buffer.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const open: Array<{ close(): unknown }> = [];
afterEach(() => {
  for (const d of open.splice(0)) d.close();
});

function file(): string {
  return join(mkdtempSync(join(tmpdir(), 'edge-history-layout-')), 'buffer.db');
}

function rawDb(path: string, version = SCHEMA_VERSION): Database.Database {
  const db = new Database(path);
  open.push(db);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  migrate(db, version);
  return db;
}

const row = (device: string, tier: number, ts: number, v: number): HistoryRow => ({ tier, device, point: 'level', series: '', ts, n: 1, min: v, max: v, sum: v });

describe('history layout', () => {
  it('writes a bucket for each of 1000 series in a few pages, however full the table is', () => {
    const path = file();
    const db = rawDb(path);
    db.pragma('wal_autocheckpoint = 0'); // the WAL then holds every page a flush wrote
    const store = new HistoryStore(db, 10_000_000);
    const series = Array.from({ length: 1000 }, (_, i) => `meter-${i}`);
    // An hour of 10 s buckets for 1000 series already stored: 360 000 rows, several thousand pages.
    for (let k = 0; k < 360; k++) store.write(series.map((d) => row(d, 0, T0 + k * 10_000, k)));
    db.pragma('wal_checkpoint(TRUNCATE)');
    const pages: number[] = [];
    for (let k = 360; k < 366; k++) {
      store.write(series.map((d) => row(d, 0, T0 + k * 10_000, k)));
      pages.push(statSync(`${path}-wal`).size / (4096 + 24));
      db.pragma('wal_checkpoint(TRUNCATE)');
    }
    // 1000 rows of about 35 bytes fill about 9 pages; with the branch pages above them a flush
    // stays far below one page per series (v5 wrote about 1570 pages here).
    for (const p of pages) expect(p).toBeLessThan(40);
  });

  it('reads every bucket of one series among many, in order, at any alignment', () => {
    const db = rawDb(file());
    const store = new HistoryStore(db, 10_000_000);
    const rows: HistoryRow[] = [];
    for (let k = 0; k < 50; k++) for (const d of ['a', 'b', 'c']) rows.push(row(d, 0, T0 + k * 10_000, k));
    // A step changed once (buckets at 5 s offsets), and a series with buckets only at some times.
    rows.push(row('b', 0, T0 + 5_000, 100), row('b', 0, T0 + 495_000, 101));
    for (let k = 0; k < 50; k += 7) rows.push(row('sparse', 0, T0 + k * 10_000 + 1, k));
    rows.push(row('b', 1, T0, 7)); // another tier: not in tier 0's answer
    store.write(rows);
    const b = store.read({ tier: 0, device: 'b', point: 'level', series: '' }, T0, T0 + 500_000);
    expect(b.map((x) => x.ts - T0)).toEqual([0, 5_000, ...Array.from({ length: 49 }, (_, i) => (i + 1) * 10_000), 495_000].sort((x, y) => x - y));
    expect(b.find((x) => x.ts === T0 + 5_000)?.min).toBe(100);
    const sparse = store.read({ tier: 0, device: 'sparse', point: 'level', series: '' }, T0 + 10_000, T0 + 300_000);
    expect(sparse.map((x) => x.ts - T0)).toEqual([70_001, 140_001, 210_001, 280_001]);
    expect(store.read({ tier: 1, device: 'b', point: 'level', series: '' }, T0, T0 + 500_000)).toEqual([{ ts: T0, n: 1, min: 7, max: 7, sum: 7 }]);
    expect(store.read({ tier: 0, device: 'nobody', point: 'level', series: '' }, T0, T0 + 500_000)).toEqual([]);
  });

  it('keeps the history of a file written with the series-first layout (schema 5)', () => {
    const path = file();
    const old = rawDb(path, 5);
    old.prepare("INSERT INTO history_series (id, device_id, point_id, series) VALUES (1, 'well-1', 'level', ''), (2, 'well-2', 'level', '')").run();
    const insert = old.prepare('INSERT INTO history (series_id, tier, ts, n, min, max, sum) VALUES (?, ?, ?, ?, ?, ?, ?)');
    for (let k = 0; k < 5; k++) for (const s of [1, 2]) insert.run(s, 0, T0 + k * 10_000, 2, k, k + s, 2 * k + s);
    insert.run(2, 1, T0, 10, 0, 6, 30);
    old.close();
    open.length = 0;

    const buffer = new SqliteBuffer({ path, sinks: [] });
    open.push(buffer);
    expect(buffer.history.rows()).toBe(11);
    const fine = buffer.history.read({ tier: 0, device: 'well-2', point: 'level', series: '' }, T0, T0 + 60_000);
    expect(fine).toEqual([0, 1, 2, 3, 4].map((k) => ({ ts: T0 + k * 10_000, n: 2, min: k, max: k + 2, sum: 2 * k + 2 })));
    expect(buffer.history.read({ tier: 1, device: 'well-2', point: 'level', series: '' }, T0, T0 + 60_000)).toEqual([{ ts: T0, n: 10, min: 0, max: 6, sum: 30 }]);
    // A bucket written again after the upgrade merges into the migrated row.
    buffer.history.write([{ ...row('well-1', 0, T0 + 40_000, 9), n: 1 }]);
    expect(buffer.history.read({ tier: 0, device: 'well-1', point: 'level', series: '' }, T0 + 40_000, T0 + 50_000)).toEqual([{ ts: T0 + 40_000, n: 3, min: 4, max: 9, sum: 18 }]);
  });
});
