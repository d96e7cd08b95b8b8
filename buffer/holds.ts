/**
 * Holds: ranges of rows appended while the wall clock was not trusted. Reads stop before the
 * first held row, so those rows wait — in order, with everything after them — until the agent
 * re-stamps them (shifts their timestamps by the correction it learned) or flags them.
 */
import type Database from 'better-sqlite3';
import { confirmAlertText } from './alert-times.js';
import { VTYPE } from './codec.js';
import type { Hold } from './types.js';

/** The clock reading rows are held under: rows with the same tag form one range. */
export interface HoldTag {
  bootId: string;
  offsetMs: number;
  sinceMono: number;
}

export type HoldRelease = { shiftMs: number } | { flag: { quality: number; error: string } };

interface HoldRow {
  first_seq: number;
  last_seq: number;
  boot_id: string;
  offset_ms: number;
  since_mono: number;
}

export class HoldStore {
  /** Smallest held seq, or Infinity: kept in memory because every read consults it. */
  heldFrom = Infinity;
  /** Whether this store changed the holds table since the last refresh (only this process writes it). */
  private touched = true;
  private readonly insert: Database.Statement<[number, number, string, number, number]>;
  private readonly extend: Database.Statement<[number, number]>;
  /** Asked after every transaction of the buffer: prepared once (db.prepare compiles each call). */
  private readonly selectHeldFrom: Database.Statement<[], number | null>;

  constructor(private readonly db: Database.Database) {
    this.selectHeldFrom = db.prepare<[], number | null>('SELECT min(first_seq) FROM holds').pluck();
    this.insert = db.prepare('INSERT INTO holds (first_seq, last_seq, boot_id, offset_ms, since_mono) VALUES (?, ?, ?, ?, ?)');
    this.extend = db.prepare('UPDATE holds SET last_seq = ? WHERE first_seq = ?');
    this.refresh();
  }

  list(): Hold[] {
    return (this.db.prepare('SELECT * FROM holds ORDER BY first_seq').all() as HoldRow[]).map((r) => ({
      firstSeq: r.first_seq,
      lastSeq: r.last_seq,
      bootId: r.boot_id,
      offsetMs: r.offset_ms,
      sinceMono: r.since_mono,
    }));
  }

  /** Inside the append transaction: rows first..last were appended under `tag`. */
  add(first: number, last: number, tag: HoldTag): void {
    this.touched = true;
    const holds = this.list();
    const tail = holds[holds.length - 1];
    if (tail !== undefined && tail.lastSeq === first - 1 && tail.bootId === tag.bootId && tail.offsetMs === tag.offsetMs) {
      this.extend.run(last, tail.firstSeq);
    } else {
      this.insert.run(first, last, tag.bootId, Math.round(tag.offsetMs), Math.round(tag.sinceMono));
    }
    this.heldFrom = Math.min(this.heldFrom, first);
  }

  /** Inside a transaction: re-stamps or flags the rows of one hold and lets them go. */
  release(hold: Hold, how: HoldRelease): number {
    this.touched = true;
    let changed: number;
    if ('shiftMs' in how) {
      this.confirmAlerts(hold, how.shiftMs);
      changed = this.db.prepare('UPDATE points SET ts = ts + ? WHERE seq BETWEEN ? AND ?').run(Math.round(how.shiftMs), hold.firstSeq, hold.lastSeq).changes;
    } else {
      // Only a good point changes (codec.ts: 0 is good): a bad one stays bad and keeps its own error.
      changed = this.db
        .prepare('UPDATE points SET quality = CASE quality WHEN 0 THEN ? ELSE quality END, error = coalesce(error, ?) WHERE seq BETWEEN ? AND ?')
        .run(how.flag.quality, how.flag.error, hold.firstSeq, hold.lastSeq).changes;
    }
    this.db.prepare('DELETE FROM holds WHERE first_seq = ?').run(hold.firstSeq);
    return changed;
  }

  /**
   * Alert events in the hold carry the alert's record, whose times stamped on the untrusted clock
   * are marked (alert-times.ts): they get the same correction as the rows' timestamps. Alert rows
   * are rare, so they are rewritten one by one.
   */
  private confirmAlerts(hold: Hold, shiftMs: number): void {
    const trusted = { bootId: hold.bootId, offsetMs: hold.offsetMs + shiftMs };
    const rows = this.db
      .prepare('SELECT seq, value_text FROM points WHERE seq BETWEEN ? AND ? AND vtype = ?')
      .all(hold.firstSeq, hold.lastSeq, VTYPE.alert) as Array<{ seq: number; value_text: string | null }>;
    if (rows.length === 0) return;
    const update = this.db.prepare('UPDATE points SET value_text = ? WHERE seq = ?');
    for (const r of rows) {
      const text = confirmAlertText(r.value_text, trusted);
      if (text !== undefined) update.run(text, r.seq);
    }
  }

  /** Inside the eviction transaction: rows below `first` are gone. */
  trimBelow(first: number): void {
    this.touched = true;
    this.db.prepare('DELETE FROM holds WHERE last_seq < ?').run(first);
    this.db.prepare('UPDATE holds SET first_seq = ? WHERE first_seq < ?').run(first, first);
  }

  /** Re-reads the smallest held seq after a transaction that touched holds committed or rolled back (a no-op after one that did not). */
  refresh(): void {
    // Most transactions (every append and ack) leave the holds alone: no query for them.
    if (!this.touched) return;
    this.touched = false;
    const v = this.selectHeldFrom.get() ?? null;
    this.heldFrom = v ?? Infinity;
  }
}
