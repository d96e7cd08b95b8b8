/**
 * The local history: min/max/sum/count buckets per series in the buffer file, in tables of their
 * own (schema v4), kept in time order (v6): a flush appends at the end of the tree and pruning cuts
 * at its start, so the SD card sees few pages per flush. Delivery never reads or deletes them; they
 * are pruned by age per tier and held to a row bound, oldest fine rows first (the long tier still
 * covers that time), so they can never crowd the points out of the file. A bucket written twice (a
 * restart inside it, or a late reading) is merged, not duplicated.
 */
import type Database from 'better-sqlite3';

export interface HistoryBucket {
  /** Start of the bucket, epoch ms. */
  ts: number;
  n: number;
  min: number;
  max: number;
  sum: number;
}

export interface HistoryRow extends HistoryBucket {
  tier: number;
  device: string;
  point: string;
  /** JSON of the captured tags; '' when none. */
  series: string;
}

export interface HistoryKey {
  tier: number;
  device: string;
  point: string;
  series: string;
}

export class HistoryStore {
  private readonly ids = new Map<string, number>();
  private readonly st: {
    findSeries: Database.Statement<[string, string, string], number>;
    addSeries: Database.Statement<[string, string, string]>;
    upsert: Database.Statement<[number, number, number, number, number, number, number]>;
    select: Database.Statement<[{ tier: number; from: number; to: number; series: number }], HistoryBucket>;
    pruneTier: Database.Statement<[number, number]>;
    oldest: Database.Statement<[number, number]>;
    count: Database.Statement<[], number>;
  };
  /** Rows written since the last exact count (an upper bound: merged buckets count too). */
  private estimate: number;

  constructor(
    private readonly db: Database.Database,
    private readonly maxRows: number,
  ) {
    this.st = {
      findSeries: db.prepare<[string, string, string], number>('SELECT id FROM history_series WHERE device_id = ? AND point_id = ? AND series = ?').pluck(),
      addSeries: db.prepare('INSERT INTO history_series (device_id, point_id, series) VALUES (?, ?, ?)'),
      upsert: db.prepare(
        `INSERT INTO history (series_id, tier, ts, n, min, max, sum) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (tier, ts, series_id) DO UPDATE SET n = n + excluded.n, min = min(min, excluded.min), max = max(max, excluded.max), sum = sum + excluded.sum`,
      ),
      // The table is in time order (schema v6), so one series' buckets are spread over it. A
      // plain range scan would read every series' rows in the range; instead walk the distinct
      // bucket times of the tier (each the next one after the last, a seek) and look the series
      // up at each (a seek). CROSS JOIN keeps that order: SQLite would otherwise scan the tier.
      select: db.prepare<[{ tier: number; from: number; to: number; series: number }], HistoryBucket>(
        `WITH RECURSIVE t(ts) AS (
           SELECT (SELECT min(ts) FROM history WHERE tier = @tier AND ts >= @from AND ts < @to)
           UNION ALL
           SELECT (SELECT min(ts) FROM history WHERE tier = @tier AND ts > t.ts AND ts < @to) FROM t WHERE t.ts IS NOT NULL
         )
         SELECT h.ts, h.n, h.min, h.max, h.sum FROM t CROSS JOIN history h
         WHERE h.tier = @tier AND h.ts = t.ts AND h.series_id = @series ORDER BY h.ts`,
      ),
      pruneTier: db.prepare('DELETE FROM history WHERE tier = ? AND ts < ?'),
      oldest: db.prepare('DELETE FROM history WHERE (tier, ts, series_id) IN (SELECT tier, ts, series_id FROM history WHERE tier = ? ORDER BY ts LIMIT ?)'),
      count: db.prepare<[], number>('SELECT count(*) FROM history').pluck(),
    };
    this.estimate = this.st.count.get() as number;
  }

  /** Rows held now (an exact count). */
  rows(): number {
    this.estimate = this.st.count.get() as number;
    return this.estimate;
  }

  /**
   * Writes buckets (merging into rows already there) and, with `before`, deletes each tier's rows
   * older than its entry, all in one transaction; then holds the row bound. Returns the rows the
   * bound removed.
   */
  write(rows: readonly HistoryRow[], before?: readonly number[]): number {
    let removed = 0;
    this.db.transaction(() => {
      for (const r of rows) this.st.upsert.run(this.seriesId(r, true) as number, r.tier, r.ts, r.n, r.min, r.max, r.sum);
      this.estimate += rows.length;
      // No count(*) here: on a Pi it scans the whole index. The estimate only ever runs high
      // (a merged bucket counts as a new row), and holdBound counts exactly before it deletes.
      if (before !== undefined) before.forEach((ts, tier) => (this.estimate -= this.st.pruneTier.run(tier, ts).changes));
      if (this.estimate > this.maxRows) removed = this.holdBound();
    })();
    return removed;
  }

  /** Buckets of one series and tier with `from <= ts < to`, oldest first. */
  read(key: HistoryKey, from: number, to: number): HistoryBucket[] {
    const id = this.seriesId(key, false);
    return id === undefined ? [] : this.st.select.all({ tier: key.tier, from, to, series: id });
  }

  private holdBound(): number {
    let count = this.st.count.get() as number;
    let removed = 0;
    // Fine rows first, then the long tier's oldest, until under the bound.
    for (let tier = 0; count > this.maxRows && tier < 8; tier++) {
      const gone = this.st.oldest.run(tier, count - this.maxRows).changes;
      removed += gone;
      count -= gone;
    }
    this.estimate = count;
    return removed;
  }

  private seriesId(key: { device: string; point: string; series: string }, create: boolean): number | undefined {
    const k = `${key.device}\u0000${key.point}\u0000${key.series}`;
    let id = this.ids.get(k);
    if (id !== undefined) return id;
    id = this.st.findSeries.get(key.device, key.point, key.series) as number | undefined;
    if (id === undefined && create) id = Number(this.st.addSeries.run(key.device, key.point, key.series).lastInsertRowid);
    if (id !== undefined) this.ids.set(k, id);
    return id;
  }
}
