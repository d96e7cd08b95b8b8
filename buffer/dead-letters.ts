/**
 * Dead letters: points a sink rejected as invalid, kept per sink with the sink's reason so an
 * operator can look at them and, once the cause is fixed, move them back (`replay`). A replayed
 * dead letter is delivered again to its own sink only: the other sinks already have the point.
 */
import type Database from 'better-sqlite3';
import { ROW_COLUMNS, decodeRow, encodeRow, type PointRow } from './rows.js';
import type { SeriesCache } from './series.js';
import type { BufferedPoint, DeadLetter, DeadLetterInput } from './types.js';

type ListRow = [...PointRow, id: number, sink: string, code: string, message: string, at: number, attempts: number, replay: number];

export interface DeadLetterQuery {
  sink?: string | undefined;
  /** Only these ids. */
  ids?: readonly number[] | undefined;
  limit?: number | undefined;
}

export class DeadLetterStore {
  private readonly insert: Database.Statement;
  private readonly backToDead: Database.Statement<[string, string, number, number]>;
  private readonly remove: Database.Statement<[number]>;
  private readonly selectReplay: Database.Statement<[string, number], unknown[]>;
  private readonly countSink: Database.Statement<[string, number, number]>;
  private readonly total: Database.Statement<[], { n: number }>;
  private readonly trimOldest: Database.Statement<[number], { sink: string }>;
  private readonly dataVersion: Database.Statement<[], number>;
  /**
   * Sinks known to have no replayed dead letter, as of `seenVersion`. The forwarder asks before
   * every batch; the answer changes only when this connection replays (replay() clears the set)
   * or another one commits (the operator's `edge-agent buffer dead-letters replay`), which moves
   * SQLite's data_version.
   */
  private readonly noReplay = new Set<string>();
  private seenVersion = -1;

  /**
   * `maxRows`: most dead letters kept. They share the database file (and its byte bound) with the
   * points waiting for delivery; a sink rejecting everything for weeks must not crowd those out,
   * so past the cap the oldest dead letters go, counted as drops.
   */
  constructor(
    private readonly db: Database.Database,
    private readonly series: SeriesCache,
    private readonly maxRows = Infinity,
  ) {
    this.insert = db.prepare(
      `INSERT INTO dead_letters (sink, seq, ${ROW_COLUMNS}, code, message, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (sink, seq) DO UPDATE SET code = excluded.code, message = excluded.message, at = excluded.at,
         attempts = attempts + 1, replay = 0`,
    );
    this.backToDead = db.prepare('UPDATE dead_letters SET code = ?, message = ?, at = ?, attempts = attempts + 1, replay = 0 WHERE id = ?');
    this.remove = db.prepare('DELETE FROM dead_letters WHERE id = ?');
    this.selectReplay = db
      .prepare<[string, number], unknown[]>(`SELECT seq, ${ROW_COLUMNS}, id FROM dead_letters WHERE sink = ? AND replay = 1 ORDER BY id LIMIT ?`)
      .raw(true);
    this.total = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM dead_letters');
    this.dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
    this.trimOldest = db.prepare<[number], { sink: string }>(
      'DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters ORDER BY id LIMIT ?) RETURNING sink',
    );
    this.countSink = db.prepare(
      `INSERT INTO sink_counters (sink, dead_lettered) VALUES (?, ?) ON CONFLICT (sink) DO UPDATE SET dead_lettered = dead_lettered + ?`,
    );
  }

  /** Inside the caller's transaction. A replayed point that fails again goes back to dead. */
  add(sink: string, d: DeadLetterInput, at: number): void {
    if (d.point.replayId !== undefined) {
      this.backToDead.run(d.code, d.message, at, d.point.replayId);
      return;
    }
    this.insert.run(sink, d.point.seq, ...encodeRow(this.series, d.point), d.code, d.message, at);
    this.countSink.run(sink, 1, 1);
  }

  /** Inside the caller's transaction: removes the oldest dead letters past the cap; per sink, how many. */
  trim(): Map<string, number> {
    const removed = new Map<string, number>();
    if (!Number.isFinite(this.maxRows)) return removed;
    const over = (this.total.get()?.n ?? 0) - this.maxRows;
    if (over <= 0) return removed;
    for (const { sink } of this.trimOldest.all(over)) removed.set(sink, (removed.get(sink) ?? 0) + 1);
    return removed;
  }

  /** Inside the caller's transaction: replayed points the sink has now. */
  delivered(points: readonly BufferedPoint[]): void {
    for (const p of points) if (p.replayId !== undefined) this.remove.run(p.replayId);
  }

  /** Replayed dead letters waiting for this sink, oldest first. */
  readReplay(sink: string, limit: number): BufferedPoint[] {
    const version = this.dataVersion.get() as number;
    if (version !== this.seenVersion) {
      this.seenVersion = version;
      this.noReplay.clear();
    }
    if (this.noReplay.has(sink)) return [];
    const rows = this.selectReplay.all(sink, limit) as Array<[...PointRow, number]>;
    if (rows.length === 0) this.noReplay.add(sink);
    return rows.map((r) => {
      const p = decodeRow(this.series, r.slice(0, 11) as PointRow);
      p.replayId = r[11];
      return p;
    });
  }

  list(q: DeadLetterQuery = {}): DeadLetter[] {
    const { where, params } = filter(q);
    const rows = this.db
      .prepare(`SELECT seq, ${ROW_COLUMNS}, id, sink, code, message, at, attempts, replay FROM dead_letters ${where} ORDER BY id LIMIT ?`)
      .raw(true)
      .all(...params, q.limit ?? -1) as ListRow[];
    return rows.map((r) => {
      const { seq: _seq, ...point } = decodeRow(this.series, r.slice(0, 11) as PointRow);
      const [id, sink, code, message, at, attempts, replay] = r.slice(11) as [number, string, string, string, number, number, number];
      return { id, sink, seq: r[0], point: { ...point, tags: { ...point.tags } }, code, message, at, attempts, replay: replay === 1 };
    });
  }

  /** Moves matching dead letters back for delivery. Returns how many per sink. */
  replay(q: DeadLetterQuery = {}): Record<string, number> {
    const { where, params } = filter(q, 'replay = 0');
    this.noReplay.clear();
    const rows = this.db.prepare(`UPDATE dead_letters SET replay = 1 ${where} RETURNING sink`).all(...params) as Array<{ sink: string }>;
    const out: Record<string, number> = {};
    for (const r of rows) out[r.sink] = (out[r.sink] ?? 0) + 1;
    return out;
  }

  /** Per sink: stored dead letters and, of those, replaying ones. */
  counts(): Map<string, { deadLetters: number; replaying: number }> {
    const rows = this.db.prepare('SELECT sink, count(*) AS n, sum(replay) AS r FROM dead_letters GROUP BY sink').all() as Array<{ sink: string; n: number; r: number }>;
    return new Map(rows.map((r) => [r.sink, { deadLetters: r.n, replaying: r.r }]));
  }
}

function filter(q: DeadLetterQuery, extra?: string): { where: string; params: Array<string | number> } {
  const conds: string[] = extra === undefined ? [] : [extra];
  const params: Array<string | number> = [];
  if (q.sink !== undefined) {
    conds.push('sink = ?');
    params.push(q.sink);
  }
  if (q.ids !== undefined) {
    conds.push(`id IN (${q.ids.map(() => '?').join(', ') || 'NULL'})`);
    params.push(...q.ids);
  }
  return { where: conds.length === 0 ? '' : `WHERE ${conds.join(' AND ')}`, params };
}
