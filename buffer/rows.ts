/** The compact row layout shared by `points` and `dead_letters`, and its mapping to points. */
import { decodeQuality, decodeRaw, decodeValue, encodeQuality, encodeRaw, encodeValue } from './codec.js';
import type { SeriesCache } from './series.js';
import type { BufferedPoint, Point } from './types.js';

/** The columns after seq, in this order, in both tables. */
export const ROW_COLUMNS = 'series_id, ts, vtype, value, value_text, rtype, raw, raw_text, quality, error';

/** A row in raw (array) mode, which skips building a keyed object per row. */
export type PointRow = [
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

export type EncodedRow = [
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

/** Must run inside a write transaction: it may create the series row. */
export function encodeRow(series: SeriesCache, p: Point): EncodedRow {
  const v = encodeValue(p.value);
  const r = encodeRaw(p.raw, p.value);
  return [series.idFor(p), p.ts, v.vtype, v.value, v.text, r.rtype, r.raw, r.text, encodeQuality(p.quality), p.error ?? null];
}

export function decodeRow(series: SeriesCache, row: PointRow): BufferedPoint {
  const [seq, seriesId, ts, vtype, v, vText, rtype, raw, rawText, quality, error] = row;
  const s = series.get(seriesId);
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
