// Room agent/pipeline: the path of a reading (schedule, poll or push, transform, clock guard, into the buffer); may import config, drivers, buffer, broker and agent/{clock,logger}.
/**
 * Per-point transforms: raw reading → tagged point. Order: scale, offset, valid range, decimals,
 * map; then report-by-exception (deadband / maxSilence) decides whether the point is emitted.
 * Pure functions plus an explicit per-point state, so the pipeline owns all memory.
 */
import type { Point, Value } from '../../buffer/types.js';
import type { PointBase } from '../../config/types.js';
import type { Reading } from '../../drivers/types.js';
import { ValueErrors } from '../../drivers/values.js';

export const TransformErrors = {
  outOfRange: 'EDGE_VALUE_OUT_OF_RANGE',
  unmapped: 'EDGE_VALUE_UNMAPPED',
  /** The drivers' code: a text a serial or MQTT driver cannot read as a number says the same thing. */
  notNumeric: ValueErrors.notNumeric,
} as const;

export function transformReading(reading: Reading, point: PointBase): Point {
  // One object built in place, not spread from a base: this runs for every reading (bench/).
  const out: Point = {
    deviceId: point.deviceId,
    pointId: point.id,
    measurement: point.measurement,
    // Tags captured per reading (MQTT topic segments) add to the configured ones; config checks
    // keep them off the reserved names.
    tags: reading.tags === undefined ? point.tags : { ...point.tags, ...reading.tags },
    raw: reading.raw,
    ts: reading.ts,
    value: null,
    quality: 'bad',
  };
  if (point.unit !== undefined) out.unit = point.unit;
  if (reading.quality === 'bad' || reading.raw === null) {
    out.error = reading.error ?? 'EDGE_DEVICE_NO_VALUE';
    return out;
  }
  const computed = computeValue(reading.raw, point);
  out.value = computed.value;
  out.quality = computed.error === undefined ? reading.quality : computed.error === TransformErrors.unmapped ? 'uncertain' : 'bad';
  if (computed.error !== undefined) out.error = computed.error;
  return out;
}

function computeValue(raw: Value, point: PointBase): { value: Value | null; error?: string } {
  let value: Value = raw;
  const numeric = point.scale !== undefined || point.offset !== undefined || point.min !== undefined || point.max !== undefined || point.decimals !== undefined;
  if (numeric && typeof raw !== 'boolean') {
    const n = typeof raw === 'number' ? raw : Number(raw);
    if (!Number.isFinite(n)) return { value: null, error: TransformErrors.notNumeric };
    let v = n * (point.scale ?? 1) + (point.offset ?? 0);
    if ((point.min !== undefined && v < point.min) || (point.max !== undefined && v > point.max)) {
      return { value: null, error: TransformErrors.outOfRange };
    }
    if (point.decimals !== undefined) v = roundTo(v, point.decimals);
    value = v;
  }
  if (point.map !== undefined) {
    const mapped = lookup(point.map, value);
    if (mapped === undefined) return { value, error: TransformErrors.unmapped };
    value = mapped;
  }
  return { value };
}

function lookup(map: Record<string, Value>, value: Value): Value | undefined {
  const key = String(value);
  if (Object.hasOwn(map, key)) return map[key];
  // A coil reads as a boolean, but technicians write `{0: off, 1: on}`.
  if (typeof value === 'boolean') {
    const alt = value ? '1' : '0';
    if (Object.hasOwn(map, alt)) return map[alt];
  }
  return undefined;
}

function roundTo(v: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(v * f) / f;
}

/** What report-by-exception remembers about a point: the last value it let through. */
export interface ExceptionState {
  value: Value | null;
  quality: Point['quality'];
  ts: number;
}

/**
 * Report by exception. A point is emitted when it is the first, its quality changed, a numeric
 * value moved by more than the deadband, a non-numeric value changed, or `maxSilence` elapsed
 * since the last emitted point (so a flat line still proves the device is alive).
 */
export function shouldReport(point: PointBase, next: Point, last: ExceptionState | undefined): boolean {
  if (point.deadband === undefined || last === undefined) return true;
  if (next.quality !== last.quality) return true;
  if (point.maxSilenceMs !== undefined && next.ts - last.ts >= point.maxSilenceMs) return true;
  const a = next.value;
  const b = last.value;
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) > point.deadband;
  return a !== b;
}
