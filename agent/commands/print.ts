// Room agent/commands: operator commands run by the CLI (probe, buffer, alerts, keys, printing); may import config, drivers, buffer, sinks and agent/logger.
/** Readable lines for people watching a terminal: `--print`, the demo, `run --once`. */
import type { AlertRecord, Point } from '../../buffer/types.js';
import type { ResolvedDevice, ResolvedPoint } from '../../config/types.js';
import type { Reading } from '../../drivers/types.js';

function show(v: unknown): string {
  return v === null || v === undefined ? '—' : typeof v === 'number' ? String(Math.round(v * 1e6) / 1e6) : String(v);
}

export function formatPoint(p: Point): string {
  const unit = p.unit ? ` ${p.unit}` : '';
  const quality = p.quality === 'good' ? '' : `  [${p.quality}${p.error ? ` ${p.error}` : ''}]`;
  return `${new Date(p.ts).toISOString()}  ${p.deviceId}/${p.pointId}  ${show(p.value)}${unit}  (raw ${show(p.raw)})${quality}`;
}

/**
 * An alert event: `2026-01-01T10:00:00.000Z  ALERT raised  pump-1/flow/flow-high  warning  flow 36.52 m3/h is above 36.4`.
 */
export function formatAlert(a: AlertRecord): string {
  const what =
    a.state === 'cleared' ? 'cleared' : a.state === 'returned' ? 'returned (latched until acknowledged)' : a.version === 1 ? 'raised' : a.acknowledgedAt !== null ? 'acknowledged' : 'active again';
  const at = Math.max(a.raisedAt, a.clearedAt ?? -Infinity, a.acknowledgedAt ?? -Infinity);
  const by = a.acknowledgedBy === null ? '' : `  (acknowledged by ${a.acknowledgedBy})`;
  const message = what === 'raised' ? a.message : `(raised: ${a.message})`;
  return `${new Date(at).toISOString()}  ALERT ${what}  ${a.deviceId}/${a.pointId}/${a.ruleId}  ${a.severity}  ${message}${by}`;
}

export function formatReading(device: ResolvedDevice, point: ResolvedPoint, r: Reading): string {
  const where = !('register' in point) ? fieldSource(point) : modbusSource(point);
  const status = r.quality === 'good' ? 'ok' : `${r.quality} ${r.error ?? ''}${r.detail ? ` (${r.detail})` : ''}`;
  const captured = r.tags === undefined || Object.keys(r.tags).length === 0 ? '' : `  {${Object.entries(r.tags).map(([k, v]) => `${k}=${v}`).join(' ')}}`;
  return `${device.id}/${point.id}${captured}  [${where}]  raw=${show(r.raw)}  ${status}`;
}

/**
 * `run --once`: a point after its transforms, next to what was read and where from:
 * `pump-1/flow  36.5 m3/h  (raw 365)  [holding:0 uint16]  ok`.
 */
export function formatOnce(device: ResolvedDevice, point: ResolvedPoint, r: Reading, p: Point): string {
  const where = !('register' in point) ? fieldSource(point) : modbusSource(point);
  const unit = p.unit ? ` ${p.unit}` : '';
  const detail = r.detail && r.quality !== 'good' ? ` (${r.detail})` : '';
  const status = p.quality === 'good' ? 'ok' : `${p.quality} ${p.error ?? r.error ?? ''}${detail}`;
  return `${device.id}/${point.id}  ${show(p.value)}${unit}  (raw ${show(r.raw)})  [${where}]  ${status}`;
}

/** `holding:0 float32 CDAB`, `input:4 bit 3`, `holding:7 uint8 high`, `holding:10 string×8`. */
function modbusSource(point: Extract<ResolvedPoint, { register: unknown }>): string {
  const at = `${point.register}:${point.address}`;
  if (point.bit !== undefined) return `${at} bit ${point.bit}`;
  if (point.byte !== undefined) return `${at} ${point.type} ${point.byte}`;
  if (point.type === 'string') return `${at} string×${point.length ?? 1}${point.order === 'ABCD' ? '' : ` ${point.order}`}`;
  return `${at} ${point.type}${point.type === 'bool' || point.type.endsWith('16') ? '' : ` ${point.order}`}`;
}

/** Where a serial or MQTT point's value comes from: `field temp number`, `ward/+/vitals hr number`. */
function fieldSource(point: Exclude<ResolvedPoint, { register: unknown }>): string {
  return 'field' in point ? `field ${point.field} ${point.type}` : `${point.filter}${point.path === undefined ? '' : ` ${point.path}`} ${point.type}`;
}
