/**
 * Text and JSON values → the point's `type` (number, string, bool), for the drivers whose
 * devices send text: serial lines and MQTT payloads. A value that does not fit is a bad reading
 * with a stable code, never an exception.
 */
import type { ValueType } from '../config/types.js';
import type { Value } from './types.js';

export const ValueErrors = {
  notNumeric: 'EDGE_VALUE_NOT_NUMERIC',
  notBoolean: 'EDGE_VALUE_NOT_BOOLEAN',
  /** JSON null (or an empty field): the device says "no value". */
  empty: 'EDGE_VALUE_EMPTY',
} as const;

export type Coerced = { ok: true; value: Value } | { ok: false; error: string; detail: string };

// Decimal numbers as devices print them: 21.5, -0.25, +3, 1e-3, .5 (not hex, not "12abc").
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const TRUE = new Set(['true', 'on', 'yes', '1']);
const FALSE = new Set(['false', 'off', 'no', '0']);

export function coerceValue(input: unknown, type: ValueType): Coerced {
  if (input === null || input === undefined || (typeof input === 'string' && input.trim() === '')) {
    return { ok: false, error: ValueErrors.empty, detail: input === null ? 'null' : 'empty' };
  }
  switch (type) {
    case 'number': {
      if (typeof input === 'number') return Number.isFinite(input) ? { ok: true, value: input } : bad(ValueErrors.notNumeric, input);
      if (typeof input === 'boolean') return { ok: true, value: input ? 1 : 0 };
      if (typeof input === 'string' && NUMBER.test(input.trim())) {
        const n = Number(input.trim());
        if (Number.isFinite(n)) return { ok: true, value: n };
      }
      return bad(ValueErrors.notNumeric, input);
    }
    case 'bool': {
      if (typeof input === 'boolean') return { ok: true, value: input };
      if (typeof input === 'number') return Number.isNaN(input) ? bad(ValueErrors.notBoolean, input) : { ok: true, value: input !== 0 };
      if (typeof input === 'string') {
        const t = input.trim().toLowerCase();
        if (TRUE.has(t)) return { ok: true, value: true };
        if (FALSE.has(t)) return { ok: true, value: false };
      }
      return bad(ValueErrors.notBoolean, input);
    }
    case 'string':
      if (typeof input === 'string') return { ok: true, value: input };
      if (typeof input === 'number' || typeof input === 'boolean') return { ok: true, value: String(input) };
      // A JSON object or list read as text: kept as its JSON.
      return { ok: true, value: JSON.stringify(input) };
  }
}

function bad(error: string, input: unknown): Coerced {
  const text = typeof input === 'string' ? JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input) : describe(input);
  return { ok: false, error, detail: `got ${text}` };
}

function describe(input: unknown): string {
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'an object';
  return String(input);
}
