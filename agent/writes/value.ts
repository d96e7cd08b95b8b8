// Room agent/writes: writes to field devices (guard, device queue, read-back, audit); may import config, drivers, buffer, agent/pipeline and agent/{clock,logger}.
/**
 * From a requested value in engineering units (or a mapped state) to the raw value the device
 * must hold, and what the read-back must then show. Pure functions: the guard's limits live here.
 */
import type { ModbusPoint, PointWrite } from '../../config/types.js';
import { rawFor } from '../../config/write.js';
import { WriteErrors } from './types.js';

export type Planned = { ok: true; raw: number | boolean; expected: number | string | boolean } | { ok: false; code: string; message: string };

const TRUE = new Set(['true', '1', 'on']);
const FALSE = new Set(['false', '0', 'off']);

function asBool(v: number | string | boolean): boolean | undefined {
  if (typeof v === 'boolean') return v;
  const s = String(v).trim().toLowerCase();
  return TRUE.has(s) ? true : FALSE.has(s) ? false : undefined;
}

export function planValue(p: ModbusPoint & { write: PointWrite }, value: number | string | boolean): Planned {
  const w = p.write;
  const bit = p.register === 'coil' || p.bit !== undefined || p.type === 'bool';
  if (p.map !== undefined) {
    const state = (w.allowed ?? []).find((s) => s === value || String(s) === String(value));
    if (state === undefined) {
      return { ok: false, code: WriteErrors.outOfLimits, message: `${JSON.stringify(value)} is not a state this point may be set to (allowed: ${(w.allowed ?? []).map(String).join(', ')})` };
    }
    const key = Object.entries(p.map).find(([, v]) => v === state)?.[0] ?? '';
    const raw = bit ? asBool(key) : Number(key);
    if (raw === undefined || (typeof raw === 'number' && !Number.isFinite(raw))) return { ok: false, code: WriteErrors.notWritable, message: `the state ${String(state)} has no raw value to write (${key})` };
    return { ok: true, raw, expected: state };
  }
  if (bit) {
    const b = asBool(value);
    if (b === undefined) return { ok: false, code: WriteErrors.outOfLimits, message: `${JSON.stringify(value)} is not true/false (or 1/0, on/off)` };
    // A bit read as a number (type other than bool) comes back 1/0.
    return { ok: true, raw: b, expected: p.type === 'bool' ? b : b ? 1 : 0 };
  }
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
  if (!Number.isFinite(n)) return { ok: false, code: WriteErrors.outOfLimits, message: `${JSON.stringify(value)} is not a number` };
  const min = w.min ?? -Infinity;
  const max = w.max ?? Infinity;
  if (n < min || n > max) return { ok: false, code: WriteErrors.outOfLimits, message: `${n} is outside the write limits ${min}..${max}${p.unit === undefined ? '' : ` ${p.unit}`}` };
  if (w.step !== undefined) {
    const steps = (n - min) / w.step;
    if (Math.abs(steps - Math.round(steps)) > 1e-9) return { ok: false, code: WriteErrors.outOfLimits, message: `${n} is not ${min} plus a whole number of steps of ${w.step}` };
  }
  const raw = rawFor(n, p);
  // What the read-back must show: the raw value as the register type holds it, transformed like a reading.
  const held = p.type === 'float32' ? Math.fround(raw) : raw;
  let expected = held * (p.scale ?? 1) + (p.offset ?? 0);
  if (p.decimals !== undefined) expected = Math.round(expected * 10 ** p.decimals) / 10 ** p.decimals;
  return { ok: true, raw, expected };
}

/** Whether the read-back shows what was written, within the point's tolerance. */
export function matches(expected: number | string | boolean, readback: number | string | boolean | null, tolerance: number): boolean {
  if (readback === null) return false;
  if (typeof expected === 'number' && typeof readback === 'number') {
    // A relative epsilon for float rounding on top of the configured tolerance.
    return Math.abs(readback - expected) <= tolerance + 1e-9 * Math.max(1, Math.abs(expected));
  }
  return readback === expected;
}
