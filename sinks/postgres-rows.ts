/**
 * Points → the parameter arrays of the unnest insert (postgres-sql.ts `insertPoints`, $2…$14):
 * the batch's distinct series once, then per row an index into them and the row's own columns.
 */
import type { Point } from '../buffer/types.js';
import { SinkError } from './types.js';

export type SeriesColumns = [deviceIds: string[], pointIds: string[], measurements: string[], units: (string | null)[], tags: string[]];

export type RowColumns = [
  seriesIndex: number[],
  ts: string[],
  values: (number | null)[],
  valueTexts: (string | null)[],
  valueBools: (boolean | null)[],
  raws: (string | null)[],
  qualities: string[],
  errors: (string | null)[],
];

export type PointColumns = [...SeriesColumns, ...RowColumns];

/**
 * PostgreSQL text cannot hold U+0000 at all (and jsonb refuses the \u0000 escape). A serial device
 * can send one; rather than have one character turn the whole batch into a dead letter, it
 * becomes U+FFFD, the replacement character.
 */
function clean(s: string): string {
  return s.includes('\u0000') ? s.replaceAll('\u0000', '\uFFFD') : s;
}

/** JSON for a jsonb parameter, every string in it cleaned of U+0000 (the alerts and commands rows use it too). */
export function cleanJson(value: unknown): string {
  const json = JSON.stringify(value);
  if (!json.includes('\\u0000')) return json;
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'string' ? clean(v) : v));
}

/**
 * Tags objects read from the buffer are frozen and shared by every point of a series, so their
 * JSON can be cached by identity. An unfrozen object might change, so it is not cached.
 */
function tagsJson(tags: Record<string, string>, cache: WeakMap<object, string>): string {
  const frozen = Object.isFrozen(tags);
  if (frozen) {
    const hit = cache.get(tags);
    if (hit !== undefined) return hit;
  }
  const json = cleanJson(tags);
  if (frozen) cache.set(tags, json);
  return json;
}

/** An optional time as ISO 8601 for a JSON row; null for none (or one that is not a time). */
export function isoOrNull(ms: number | null): string | null {
  return ms === null || !Number.isFinite(ms) ? null : new Date(ms).toISOString();
}

/** ISO 8601 keeps milliseconds exact (epoch seconds as a double would not). */
function isoTs(p: Point): string {
  const d = new Date(p.ts);
  if (!Number.isFinite(p.ts) || Number.isNaN(d.getTime())) {
    throw new SinkError(`point ${p.deviceId}/${p.pointId} has an invalid timestamp: ${p.ts}`, { kind: 'invalid' });
  }
  return d.toISOString();
}

export function pointColumns(batch: readonly Point[], tagsCache = new WeakMap<object, string>()): PointColumns {
  const series: SeriesColumns = [[], [], [], [], []];
  const [sDev, sPid, sMeas, sUnit, sTags] = series;
  // tags JSON → "device\u0001point\u0001measurement\u0001unit" → 1-based series index. The tags
  // string is the same instance for a whole series, so its hash is computed once.
  const index = new Map<string, Map<string, number>>();
  const n = batch.length;
  const rows: RowColumns = [
    new Array<number>(n),
    new Array<string>(n),
    new Array<number | null>(n),
    new Array<string | null>(n),
    new Array<boolean | null>(n),
    new Array<string | null>(n),
    new Array<string>(n),
    new Array<string | null>(n),
  ];
  const [si, ts, val, vtext, vbool, raw, qual, err] = rows;
  for (let i = 0; i < n; i++) {
    const p = batch[i] as Point;
    const tags = tagsJson(p.tags, tagsCache);
    let byRest = index.get(tags);
    if (byRest === undefined) index.set(tags, (byRest = new Map()));
    const rest = `${p.deviceId}\u0001${p.pointId}\u0001${p.measurement}\u0001${p.unit ?? '\u0002'}`;
    let s = byRest.get(rest);
    if (s === undefined) {
      s = sDev.push(clean(p.deviceId));
      sPid.push(clean(p.pointId));
      sMeas.push(clean(p.measurement));
      sUnit.push(p.unit === undefined ? null : clean(p.unit));
      sTags.push(tags);
      byRest.set(rest, s);
    }
    si[i] = s;
    ts[i] = isoTs(p);
    const v = p.value;
    val[i] = typeof v === 'number' ? v : null;
    vtext[i] = typeof v === 'string' ? clean(v) : null;
    vbool[i] = typeof v === 'boolean' ? v : null;
    // jsonb keeps the raw value's type (a register number, a status string, a coil boolean).
    raw[i] = p.raw === undefined || p.raw === null ? null : cleanJson(p.raw);
    qual[i] = p.quality;
    err[i] = p.error === undefined ? null : clean(p.error);
  }
  return [...series, ...rows];
}
