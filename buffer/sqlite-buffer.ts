/**
 * The store-and-forward outbox: every point is appended here first and leaves only once every
 * enabled sink has acknowledged it. One SQLite file in WAL mode, one cursor per sink.
 *
 * Invariant the arithmetic below relies on: `seq` is assigned here from a persisted counter and
 * rows only ever leave from the oldest end, so the rows present are exactly the contiguous range
 * [firstSeq, lastSeq]. Counting rows or a sink's backlog is then O(1), which matters when the
 * status API asks every few seconds and the buffer holds millions of rows after a long outage.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { decodeQuality, decodeRaw, decodeValue, encodeQuality, encodeRaw, encodeValue } from './codec.js';
import { BufferError } from './errors.js';
import { configure, migrate } from './schema.js';
import { SeriesCache } from './series.js';
import type { BufferedPoint, BufferStats, Point } from './types.js';

export interface SqliteBufferOptions {
  /** File path, or ':memory:' for a throw-away buffer (`run --once`, tests). */
  path: string;
  /** Names of the enabled sinks. Rows are deleted once all of them have acknowledged. */
  sinks: readonly string[];
  /** 'normal' (default) may lose the last transactions on power loss, never corrupts; 'full' fsyncs each commit. */
  synchronous?: 'normal' | 'full';
  busyTimeoutMs?: number;
  /**
   * Most rows one ack deletes. Deleting is bounded so an ack never stalls appends for long, e.g.
   * when removing a lagging sink suddenly makes millions of rows deletable; the rest goes with
   * the following acks.
   */
  maxDeletePerAck?: number;
}

type InsertParams = [number, number, number, number, number | null, string | null, number, number | null, string | null, number, string | null];

/** A `points` row in raw (array) mode, which skips building a keyed object per row. */
type PointRow = [
  seq: number,
  seriesId: number,
  ts: number,
  vtype: number,
  value: number | null,
  valueText: string | null,
  rtype: number,
  raw: number | null,
  rawText: string | null,
  quality: number,
  error: string | null,
];

export class SqliteBuffer {
  private readonly db: Database.Database;
  private readonly sinks: ReadonlySet<string>;
  /** Acknowledged seq per enabled sink; the table `cursors` is the durable copy. */
  private readonly cursors = new Map<string, number>();
  private readonly series: SeriesCache;
  private readonly maxDeletePerAck: number;
  private lastSeq: number;
  private closed = false;

  private readonly insertPoint: Database.Statement<InsertParams>;
  private readonly selectAfter: Database.Statement<[number, number], PointRow>;
  private readonly selectFirstSeq: Database.Statement<[], { seq: number }>;
  private readonly selectTsAfter: Database.Statement<[number], { ts: number }>;
  private readonly deleteUpTo: Database.Statement<[number]>;
  private readonly upsertCursor: Database.Statement<[string, number]>;
  private readonly saveLastSeq: Database.Statement<[number]>;
  private readonly appendTx: (points: readonly Point[]) => number;
  private readonly ackTx: (sink: string, seq: number) => void;

  constructor(opts: SqliteBufferOptions) {
    const names = [...new Set(opts.sinks)];
    for (const n of names) {
      if (typeof n !== 'string' || n === '') throw new BufferError('EDGE_BUFFER_INVALID_ARGUMENT', 'sink names must be non-empty strings');
    }
    this.sinks = new Set(names);
    this.maxDeletePerAck = opts.maxDeletePerAck ?? 50_000;
    this.db = open(opts.path);
    try {
      configure(this.db, { synchronous: opts.synchronous ?? 'normal', busyTimeoutMs: opts.busyTimeoutMs ?? 5000 });
      migrate(this.db);
      const db = this.db;
      this.series = new SeriesCache(db);
      this.insertPoint = db.prepare(
        'INSERT INTO points (seq, series_id, ts, vtype, value, value_text, rtype, raw, raw_text, quality, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      );
      // Raw (array) rows: no keyed object per row, which doubles read speed.
      this.selectAfter = db
        .prepare<[number, number], PointRow>(
          'SELECT seq, series_id, ts, vtype, value, value_text, rtype, raw, raw_text, quality, error FROM points WHERE seq > ? ORDER BY seq LIMIT ?',
        )
        .raw(true);
      this.selectFirstSeq = db.prepare('SELECT seq FROM points ORDER BY seq LIMIT 1');
      this.selectTsAfter = db.prepare('SELECT ts FROM points WHERE seq > ? ORDER BY seq LIMIT 1');
      this.deleteUpTo = db.prepare('DELETE FROM points WHERE seq <= ?');
      this.upsertCursor = db.prepare('INSERT INTO cursors (sink, seq) VALUES (?, ?) ON CONFLICT (sink) DO UPDATE SET seq = excluded.seq');
      this.saveLastSeq = db.prepare("UPDATE meta SET value = ? WHERE key = 'last_seq'");

      // The counter never goes back, even if every row was deleted: a cursor must never point
      // past rows that are still to come.
      const stored = db.prepare("SELECT value FROM meta WHERE key = 'last_seq'").pluck().get() as number;
      const maxRow = (db.prepare('SELECT max(seq) FROM points').pluck().get() as number | null) ?? 0;
      this.lastSeq = Math.max(stored, maxRow);

      this.appendTx = db.transaction((points: readonly Point[]) => this.insertAll(points));
      this.ackTx = db.transaction((sink: string, seq: number) => {
        this.upsertCursor.run(sink, seq);
        this.deleteAcknowledged();
      });
      this.loadCursors();
    } catch (err) {
      this.db.close();
      if (err instanceof BufferError) throw err;
      throw new BufferError('EDGE_BUFFER_OPEN_FAILED', `cannot open buffer ${opts.path}: ${(err as Error).message}`, err);
    }
  }

  /** Appends all points in one transaction. Returns the seq of the last one (the current last seq if none). */
  append(points: readonly Point[]): number {
    this.assertOpen();
    if (points.length === 0) return this.lastSeq;
    try {
      this.lastSeq = this.appendTx(points);
    } catch (err) {
      // The transaction rolled back, including any series rows it created.
      this.series.forget();
      throw err;
    }
    return this.lastSeq;
  }

  /** Up to `limit` points after the sink's cursor, oldest first. Tags objects are shared and frozen. */
  read(sink: string, limit: number): BufferedPoint[] {
    this.assertOpen();
    const cursor = this.cursorOf(sink);
    if (!Number.isInteger(limit) || limit <= 0) throw new BufferError('EDGE_BUFFER_INVALID_ARGUMENT', `read limit must be a positive integer, got ${limit}`);
    const rows = this.selectAfter.all(cursor, limit);
    const out = new Array<BufferedPoint>(rows.length);
    for (let i = 0; i < rows.length; i++) out[i] = this.toPoint(rows[i] as PointRow);
    return out;
  }

  /**
   * The sink has everything up to and including `uptoSeq`. The cursor only moves forward (a late
   * or repeated ack is harmless) and never past the last appended row. In the same transaction,
   * rows every enabled sink has are deleted.
   */
  ack(sink: string, uptoSeq: number): void {
    this.assertOpen();
    const cursor = this.cursorOf(sink);
    if (!Number.isFinite(uptoSeq)) throw new BufferError('EDGE_BUFFER_INVALID_ARGUMENT', `ack seq must be a number, got ${uptoSeq}`);
    const next = Math.min(Math.max(cursor, Math.floor(uptoSeq)), this.lastSeq);
    if (next === cursor) return;
    // Set first: the delete inside the transaction computes the minimum over the new cursors.
    this.cursors.set(sink, next);
    try {
      this.ackTx(sink, next);
    } catch (err) {
      this.cursors.set(sink, cursor);
      throw err;
    }
  }

  /** Rows the sink has not acknowledged yet. */
  pending(sink: string): number {
    this.assertOpen();
    return this.pendingAfter(this.cursorOf(sink), this.firstSeq());
  }

  stats(): BufferStats {
    this.assertOpen();
    const first = this.firstSeq();
    const sinks: BufferStats['sinks'] = {};
    for (const [name, cursor] of this.cursors) {
      const pending = this.pendingAfter(cursor, first);
      sinks[name] = { cursor, pending, oldestTs: pending > 0 ? (this.selectTsAfter.get(cursor)?.ts ?? null) : null };
    }
    const pageCount = this.db.pragma('page_count', { simple: true }) as number;
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    return {
      rows: first === undefined ? 0 : this.lastSeq - first + 1,
      bytes: pageCount * pageSize,
      lastSeq: this.lastSeq,
      sinks,
    };
  }

  /** Idempotent. Closing the last connection checkpoints the WAL into the main file. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private insertAll(points: readonly Point[]): number {
    let seq = this.lastSeq;
    for (const p of points) {
      seq++;
      const v = encodeValue(p.value);
      const r = encodeRaw(p.raw, p.value);
      this.insertPoint.run(
        seq,
        this.series.idFor(p),
        p.ts,
        v.vtype,
        v.value,
        v.text,
        r.rtype,
        r.raw,
        r.text,
        encodeQuality(p.quality),
        p.error ?? null,
      );
    }
    this.saveLastSeq.run(seq);
    return seq;
  }

  private toPoint(row: PointRow): BufferedPoint {
    const [seq, seriesId, ts, vtype, v, vText, rtype, raw, rawText, quality, error] = row;
    const s = this.series.get(seriesId);
    const value = decodeValue(vtype, v, vText);
    const p: BufferedPoint = {
      seq,
      deviceId: s.deviceId,
      pointId: s.pointId,
      measurement: s.measurement,
      tags: s.tags as Record<string, string>,
      value,
      ts,
      quality: decodeQuality(quality),
    };
    const r = decodeRaw(rtype, raw, rawText, value);
    if (r !== undefined) p.raw = r;
    if (s.unit !== undefined) p.unit = s.unit;
    if (error !== null) p.error = error;
    return p;
  }

  /** Deletes, oldest first and at most maxDeletePerAck, the rows every enabled sink has. */
  private deleteAcknowledged(): void {
    if (this.cursors.size === 0) return; // no sink yet: keep everything until one is configured
    const first = this.firstSeq();
    if (first === undefined) return;
    let min = Infinity;
    for (const c of this.cursors.values()) min = Math.min(min, c);
    const upto = Math.min(min, first + this.maxDeletePerAck - 1);
    if (upto >= first) this.deleteUpTo.run(upto);
  }

  private loadCursors(): void {
    const stored = new Map(
      (this.db.prepare('SELECT sink, seq FROM cursors').all() as Array<{ sink: string; seq: number }>).map((r) => [r.sink, r.seq]),
    );
    // A sink seen for the first time gets what is still buffered: its cursor sits just before the oldest row.
    const start = (this.firstSeq() ?? this.lastSeq + 1) - 1;
    this.db.transaction(() => {
      for (const name of this.sinks) {
        const seq = stored.get(name);
        if (seq === undefined) this.upsertCursor.run(name, start);
        this.cursors.set(name, Math.min(seq ?? start, this.lastSeq));
      }
      // A sink removed from the set no longer holds rows back: its cursor row stays (it may come
      // back), but it is not in `this.cursors`, so deletion goes on without it.
      this.deleteAcknowledged();
    }).immediate();
  }

  private cursorOf(sink: string): number {
    const c = this.cursors.get(sink);
    if (c === undefined) throw new BufferError('EDGE_BUFFER_UNKNOWN_SINK', `sink '${sink}' is not enabled in this buffer`);
    return c;
  }

  private firstSeq(): number | undefined {
    return this.selectFirstSeq.get()?.seq;
  }

  private pendingAfter(cursor: number, first: number | undefined): number {
    if (first === undefined) return 0;
    return Math.max(0, this.lastSeq - Math.max(cursor, first - 1));
  }

  private assertOpen(): void {
    if (this.closed) throw new BufferError('EDGE_BUFFER_CLOSED', 'buffer is closed');
  }
}

function open(file: string): Database.Database {
  try {
    if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    return new Database(file);
  } catch (err) {
    throw new BufferError('EDGE_BUFFER_OPEN_FAILED', `cannot open buffer ${file}: ${(err as Error).message}`, err);
  }
}
