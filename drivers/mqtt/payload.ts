/**
 * An MQTT payload → one raw value per point: the payload itself (a number, a word, on/off), or
 * the value at a JSON path (`vitals.hr`, `readings[0].value`). The payload is decoded and parsed
 * once per message, whatever the number of points. Non-JSON, or a path that is not there, is a
 * bad reading with a code, counted like any other.
 */
import type { ValueType } from '../../config/types.js';
import type { Reading } from '../types.js';
import { coerceValue, ValueErrors } from '../values.js';

export const PayloadErrors = {
  ...ValueErrors,
  notJson: 'EDGE_PAYLOAD_NOT_JSON',
  pathMissing: 'EDGE_PAYLOAD_PATH_MISSING',
  /** Larger than the device's maxPayload: never decoded or parsed. */
  tooLarge: 'EDGE_PAYLOAD_TOO_LARGE',
  /** JSON nested deeper than the device's maxDepth: never parsed. */
  tooDeep: 'EDGE_PAYLOAD_TOO_DEEP',
} as const;

/** Defaults of the device keys `maxPayload` and `maxDepth` (config/catalog.ts). */
export const PAYLOAD_DEFAULTS = { maxPayload: 64 * 1024, maxDepth: 32 } as const;

/**
 * Whether JSON text nests arrays and objects deeper than `max`: one pass over the text, brackets
 * inside strings not counted, before JSON.parse builds anything of it.
 */
export function jsonDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i += 1; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth += 1;
      if (depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth -= 1;
  }
  return false;
}

export interface PayloadPoint {
  id: string;
  path?: string | undefined;
  type: ValueType;
}

/** `a.b[0].c` → ['a', 'b', 0, 'c']. The config room has checked the syntax. */
export function jsonPathSegments(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    if (m[2] !== undefined) out.push(Number(m[2]));
    else if (m[1] !== undefined) out.push(m[1]);
  }
  return out;
}

/** The value at a path, or undefined when any step is missing. */
export function valueAt(doc: unknown, segments: readonly (string | number)[]): unknown {
  let cur: unknown = doc;
  for (const seg of segments) {
    if (typeof seg === 'number') {
      if (!Array.isArray(cur) || seg >= cur.length) return undefined;
      cur = cur[seg];
    } else {
      if (typeof cur !== 'object' || cur === null || Array.isArray(cur) || !Object.hasOwn(cur, seg)) return undefined;
      cur = (cur as Record<string, unknown>)[seg];
    }
  }
  return cur;
}

/** Pre-parses the points' paths, so each message only walks them. */
export class PayloadReader {
  private readonly paths = new Map<string, (string | number)[]>();
  private readonly maxDepth: number;

  constructor(points: readonly PayloadPoint[], opts: { maxDepth?: number | undefined } = {}) {
    for (const p of points) if (p.path !== undefined) this.paths.set(p.id, jsonPathSegments(p.path));
    this.maxDepth = opts.maxDepth ?? PAYLOAD_DEFAULTS.maxDepth;
  }

  /** Every point bad with one code: a message refused whole (too large), never looked into. */
  static refuse(points: readonly PayloadPoint[], ts: number, tags: Record<string, string> | undefined, error: string, detail: string): Reading[] {
    return points.map((p): Reading => ({ pointId: p.id, ts, raw: null, quality: 'bad', error, detail, ...(tags === undefined ? {} : { tags }) }));
  }

  /** One reading per point, good or bad. */
  read(payload: Buffer, points: readonly PayloadPoint[], ts: number, tags: Record<string, string> | undefined): Reading[] {
    const text = payload.toString('utf8');
    let doc: { ok: true; value: unknown } | { ok: false; code?: string; detail: string } | undefined;
    const json = () => {
      if (doc === undefined && jsonDeeperThan(text, this.maxDepth)) {
        doc = { ok: false, code: PayloadErrors.tooDeep, detail: `JSON nested deeper than ${this.maxDepth} levels (maxDepth); not parsed` };
      }
      if (doc === undefined) {
        try {
          doc = { ok: true, value: JSON.parse(text) as unknown };
        } catch (err) {
          doc = { ok: false, detail: `${(err as Error).message}; payload ${clip(text)}` };
        }
      }
      return doc;
    };
    const withTags = tags === undefined ? {} : { tags };
    return points.map((p): Reading => {
      const segments = this.paths.get(p.id);
      let input: unknown = text.trim();
      if (segments !== undefined) {
        const parsed = json();
        if (!parsed.ok) return { pointId: p.id, ts, raw: null, quality: 'bad', error: parsed.code ?? PayloadErrors.notJson, detail: parsed.detail, ...withTags };
        input = valueAt(parsed.value, segments);
        if (input === undefined) {
          return { pointId: p.id, ts, raw: null, quality: 'bad', error: PayloadErrors.pathMissing, detail: `no ${p.path ?? ''} in ${clip(text)}`, ...withTags };
        }
      }
      const value = coerceValue(input, p.type);
      return value.ok
        ? { pointId: p.id, ts, raw: value.value, quality: 'good', ...withTags }
        : { pointId: p.id, ts, raw: null, quality: 'bad', error: value.error, detail: value.detail, ...withTags };
    });
  }
}

function clip(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}
