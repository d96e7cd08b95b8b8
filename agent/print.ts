/** Readable lines for people watching a terminal: `--print`, the demo, `run --once`. */
import type { Point } from '../buffer/types.js';
import type { ResolvedDevice, ResolvedPoint } from '../config/types.js';
import type { Reading } from '../drivers/types.js';

function show(v: unknown): string {
  return v === null || v === undefined ? '—' : typeof v === 'number' ? String(Math.round(v * 1e6) / 1e6) : String(v);
}

export function formatPoint(p: Point): string {
  const unit = p.unit ? ` ${p.unit}` : '';
  const quality = p.quality === 'good' ? '' : `  [${p.quality}${p.error ? ` ${p.error}` : ''}]`;
  return `${new Date(p.ts).toISOString()}  ${p.deviceId}/${p.pointId}  ${show(p.value)}${unit}  (raw ${show(p.raw)})${quality}`;
}

export function formatReading(device: ResolvedDevice, point: ResolvedPoint, r: Reading): string {
  const where = `${point.register}:${point.address} ${point.type}${point.type === 'bool' || point.type.endsWith('16') ? '' : ` ${point.order}`}`;
  const status = r.quality === 'good' ? 'ok' : `${r.quality} ${r.error ?? ''}${r.detail ? ` (${r.detail})` : ''}`;
  return `${device.id}/${point.id}  [${where}]  raw=${show(r.raw)}  ${status}`;
}
