/** The compact row layout shared by `points` and `dead_letters`, and its mapping to points. */
import { VTYPE, decodeQuality, decodeRaw, decodeValue, encodeQuality, encodeRaw, encodeValue, type EncodedValue } from './codec.js';
import type { SeriesCache } from './series.js';
import type { AlertRecord, BufferedPoint, CommandRecord, Point, Value } from './types.js';

/** The columns after seq, in this order, in both tables. */
export const ROW_COLUMNS = 'series_id, ts, vtype, value, value_text, rtype, raw, raw_text, quality, error';

/** A row's columns after seq, as bound to the INSERT. */
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

/** A row in raw (array) mode, which skips building a keyed object per row. */
export type PointRow = [seq: number, ...row: EncodedRow];

/** Must run inside a write transaction: it may create the series row. */
export function encodeRow(series: SeriesCache, p: Point): EncodedRow {
  const v = encodeTyped(p);
  const r = encodeRaw(p.raw, p.value);
  return [series.idFor(p), p.ts, v.vtype, v.value, v.text, r.rtype, r.raw, r.text, encodeQuality(p.quality), p.error ?? null];
}

/** encodeRow with the row's seq first: the points insert's parameters, bound as one array (no spread per row on the append path). */
export function encodeRowAt(series: SeriesCache, p: Point, seq: number): [seq: number, ...EncodedRow] {
  const v = encodeTyped(p);
  const r = encodeRaw(p.raw, p.value);
  return [seq, series.idFor(p), p.ts, v.vtype, v.value, v.text, r.rtype, r.raw, r.text, encodeQuality(p.quality), p.error ?? null];
}

export function decodeRow(series: SeriesCache, row: PointRow): BufferedPoint {
  const [seq, seriesId, ts, vtype, v, vText, rtype, raw, rawText, quality, error] = row;
  const s = series.get(seriesId);
  const alert = vtype === VTYPE.alert ? decodeRecord(vText, 'alert') : undefined;
  const command = vtype === VTYPE.command ? decodeRecord(vText, 'command') : undefined;
  const value = alert !== undefined ? alert.value : command !== undefined ? command.value : vtype === VTYPE.alert || vtype === VTYPE.command ? null : decodeValue(vtype, v, vText);
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
  if (alert !== undefined) p.alert = alert.record;
  if (command !== undefined) p.command = command.record;
  return p;
}

function encodeTyped(p: Point): EncodedValue {
  if (p.alert !== undefined) return encodeRecord(VTYPE.alert, p.value, 'alert', p.alert);
  if (p.command !== undefined) return encodeRecord(VTYPE.command, p.value, 'command', p.command);
  return encodeValue(p.value);
}

/**
 * Alert events and write audit events are rare: the value and the record go as one JSON text
 * `{ value, alert }` or `{ value, command }` rather than new columns.
 */
type Records = { alert: AlertRecord; command: CommandRecord };

function encodeRecord<K extends keyof Records>(vtype: number, value: Value | null, key: K, record: Records[K]): EncodedValue {
  return { vtype, value: null, text: JSON.stringify({ value, [key]: record }) };
}

/** Undefined for a damaged row: it is then read as a point without a value rather than stall every read. */
function decodeRecord<K extends keyof Records>(text: string | null, key: K): { value: Value | null; record: Records[K] } | undefined {
  try {
    const parsed = JSON.parse(text ?? 'null') as ({ value?: Value | null } & Partial<Records>) | null;
    const record = parsed?.[key];
    return parsed === null || record === undefined ? undefined : { value: parsed.value ?? null, record: record as Records[K] };
  } catch {
    return undefined;
  }
}
