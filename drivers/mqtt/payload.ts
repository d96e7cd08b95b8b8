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
} as const;

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

  constructor(points: readonly PayloadPoint[]) {
    for (const p of points) if (p.path !== undefined) this.paths.set(p.id, jsonPathSegments(p.path));
  }

  /** One reading per point, good or bad. */
  read(payload: Buffer, points: readonly PayloadPoint[], ts: number, tags: Record<string, string> | undefined): Reading[] {
    const text = payload.toString('utf8');
    let doc: { ok: true; value: unknown } | { ok: false; detail: string } | undefined;
    const json = () => {
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
        if (!parsed.ok) return { pointId: p.id, ts, raw: null, quality: 'bad', error: PayloadErrors.notJson, detail: parsed.detail, ...withTags };
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
