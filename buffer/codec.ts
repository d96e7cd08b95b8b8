/**
 * How a point's loosely typed fields map onto SQLite columns and back, so that a round trip
 * returns number / string / boolean / null / undefined exactly as appended.
 *
 * SQLite has no boolean and one storage class per value, so each typed field gets a small type
 * code next to it. Small integers cost no payload byte in SQLite's record format, which is why
 * these are separate integer columns rather than strings.
 */
import type { Quality, Value } from './types.js';

/**
 * `points.vtype`: which column holds `value`. `alert`: an alert event (rows.ts), whose value and
 * alert record are JSON in `value_text`.
 */
export const VTYPE = { null: 0, number: 1, string: 2, boolean: 3, alert: 4, command: 5 } as const;

/**
 * `points.rtype`: what `raw` was. `sameAsValue` is the common case of a point with no transform:
 * storing the value twice would cost 8 bytes a point for nothing.
 */
export const RTYPE = { absent: 0, null: 1, sameAsValue: 2, number: 3, string: 4, boolean: 5 } as const;

const QUALITY_CODES: Record<Quality, number> = { good: 0, bad: 1, uncertain: 2 };
const QUALITIES: readonly Quality[] = ['good', 'bad', 'uncertain'];

export function encodeQuality(q: Quality): number {
  return QUALITY_CODES[q];
}

export function decodeQuality(code: number): Quality {
  // An unknown code can only come from a damaged row; 'uncertain' is the honest reading of it.
  return QUALITIES[code] ?? 'uncertain';
}

/** Columns `vtype`, `value` (REAL affinity), `value_text`. */
export interface EncodedValue {
  vtype: number;
  value: number | null;
  text: string | null;
}

export function encodeValue(v: Value | null): EncodedValue {
  if (v === null) return { vtype: VTYPE.null, value: null, text: null };
  switch (typeof v) {
    case 'number':
      // REAL affinity stores integral doubles as integers on disk (fewer bytes), and gives back a double.
      return { vtype: VTYPE.number, value: v, text: null };
    case 'string':
      return { vtype: VTYPE.string, value: null, text: v };
    default:
      return { vtype: VTYPE.boolean, value: v ? 1 : 0, text: null };
  }
}

export function decodeValue(vtype: number, value: number | null, text: string | null): Value | null {
  switch (vtype) {
    case VTYPE.number:
      // SQLite stores NaN as NULL; a number-typed NULL can only have been NaN.
      return value ?? Number.NaN;
    case VTYPE.string:
      return text ?? '';
    case VTYPE.boolean:
      return value === 1;
    default:
      return null;
  }
}

/**
 * Columns `rtype`, `raw` (REAL affinity, like `value`: integral numbers take 1–6 bytes on disk)
 * and `raw_text`. Strings get their own column because REAL affinity would turn a numeric-looking
 * string such as "42" into a number.
 */
export interface EncodedRaw {
  rtype: number;
  raw: number | null;
  text: string | null;
}

const RAW_ABSENT: EncodedRaw = { rtype: RTYPE.absent, raw: null, text: null };
const RAW_NULL: EncodedRaw = { rtype: RTYPE.null, raw: null, text: null };
const RAW_SAME: EncodedRaw = { rtype: RTYPE.sameAsValue, raw: null, text: null };

export function encodeRaw(raw: Value | null | undefined, value: Value | null): EncodedRaw {
  if (raw === undefined) return RAW_ABSENT;
  if (raw === null) return RAW_NULL;
  if (Object.is(raw, value)) return RAW_SAME;
  switch (typeof raw) {
    case 'number':
      return { rtype: RTYPE.number, raw, text: null };
    case 'string':
      return { rtype: RTYPE.string, raw: null, text: raw };
    default:
      return { rtype: RTYPE.boolean, raw: raw ? 1 : 0, text: null };
  }
}

/** `undefined` means the point had no `raw` at all (the key is left off the decoded point). */
export function decodeRaw(rtype: number, raw: number | null, text: string | null, value: Value | null): Value | null | undefined {
  switch (rtype) {
    case RTYPE.null:
      return null;
    case RTYPE.sameAsValue:
      return value;
    case RTYPE.number:
      return raw ?? Number.NaN;
    case RTYPE.string:
      return text ?? '';
    case RTYPE.boolean:
      return raw === 1;
    default:
      return undefined;
  }
}
