/**
 * Series interning: a point's identity (device, point, measurement, unit, tags) is stored once in
 * `series` and each buffered row refers to it by a small integer. This is what keeps a row near
 * 40 bytes on disk instead of several hundred (the tags alone are ~150 bytes of JSON).
 */
import type Database from 'better-sqlite3';
import type { Point } from './types.js';

export interface Series {
  id: number;
  deviceId: string;
  pointId: string;
  measurement: string;
  unit: string | undefined;
  /** Frozen: shared by every point read back from this series. */
  tags: Readonly<Record<string, string>>;
}

interface Candidate {
  series: Series;
  tagCount: number;
}

interface SeriesRow {
  id: number;
  device_id: string;
  point_id: string;
  measurement: string;
  unit: string | null;
  tags: string;
}

function sortedTags(tags: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(tags).sort()) out[k] = tags[k] as string;
  return out;
}

/** The full identity as one string: the unique key of the `series` table. */
function identityKey(p: Pick<Point, 'deviceId' | 'pointId' | 'measurement' | 'unit' | 'tags'>): string {
  return JSON.stringify([p.deviceId, p.pointId, p.measurement, p.unit ?? null, sortedTags(p.tags)]);
}

function sameTags(a: Record<string, string>, b: Readonly<Record<string, string>>, bSize: number): boolean {
  let n = 0;
  for (const k in a) {
    if (a[k] !== b[k]) return false;
    n++;
  }
  return n === bSize;
}

export class SeriesCache {
  private readonly byId = new Map<number, Series>();
  /** deviceId → pointId → candidates; almost always one, more only after a tag/unit change. */
  private readonly byPoint = new Map<string, Map<string, Candidate[]>>();
  private readonly insert: Database.Statement<[string, string, string, string, string | null, string]>;
  private readonly selectByKey: Database.Statement<[string], { id: number }>;
  private readonly selectById: Database.Statement<[number], SeriesRow>;

  constructor(db: Database.Database) {
    this.insert = db.prepare(
      'INSERT OR IGNORE INTO series (key, device_id, point_id, measurement, unit, tags) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.selectByKey = db.prepare('SELECT id FROM series WHERE key = ?');
    this.selectById = db.prepare('SELECT id, device_id, point_id, measurement, unit, tags FROM series WHERE id = ?');
  }

  /**
   * The series id for a point, creating the series if new. Must run inside the append transaction:
   * a rolled-back append also rolls back the series row, so the cache is only filled from rows that
   * exist (see `forget`).
   */
  idFor(p: Point): number {
    const candidates = this.byPoint.get(p.deviceId)?.get(p.pointId);
    if (candidates !== undefined) {
      // Shallow comparisons are much cheaper than building the JSON key for every point.
      for (const c of candidates) {
        const s = c.series;
        if (s.measurement === p.measurement && s.unit === p.unit && sameTags(p.tags, s.tags, c.tagCount)) return s.id;
      }
    }
    const key = identityKey(p);
    const tags = sortedTags(p.tags);
    this.insert.run(key, p.deviceId, p.pointId, p.measurement, p.unit ?? null, JSON.stringify(tags));
    const row = this.selectByKey.get(key);
    if (row === undefined) throw new Error(`series row missing after insert: ${key}`);
    this.remember({ id: row.id, deviceId: p.deviceId, pointId: p.pointId, measurement: p.measurement, unit: p.unit, tags: Object.freeze(tags) });
    return row.id;
  }

  get(id: number): Series {
    const cached = this.byId.get(id);
    if (cached !== undefined) return cached;
    const row = this.selectById.get(id);
    if (row === undefined) throw new Error(`buffered row refers to unknown series ${id}`);
    const series: Series = {
      id: row.id,
      deviceId: row.device_id,
      pointId: row.point_id,
      measurement: row.measurement,
      unit: row.unit ?? undefined,
      tags: Object.freeze(JSON.parse(row.tags) as Record<string, string>),
    };
    this.remember(series);
    return series;
  }

  /** Drops everything cached: called when an append rolls back, as it may have created series rows. */
  forget(): void {
    this.byId.clear();
    this.byPoint.clear();
  }

  private remember(series: Series): void {
    this.byId.set(series.id, series);
    let points = this.byPoint.get(series.deviceId);
    if (points === undefined) this.byPoint.set(series.deviceId, (points = new Map()));
    const entry = { series, tagCount: Object.keys(series.tags).length };
    const list = points.get(series.pointId);
    if (list === undefined) points.set(series.pointId, [entry]);
    else if (!list.some((c) => c.series.id === series.id)) list.push(entry);
  }
}
