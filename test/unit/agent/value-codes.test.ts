/**
 * A reading's value codes (EDGE_VALUE_*) are declared once: a driver that cannot read a text as a
 * number and a transform that cannot scale one say the same thing, so they share one constant
 * (drivers/values.ts, below agent/ in the layering) instead of two literals that could drift apart.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { transformReading, TransformErrors } from '../../../agent/pipeline/transform.js';
import { coerceValue, ValueErrors } from '../../../drivers/values.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const ROOMS = ['agent', 'buffer', 'config', 'drivers', 'sinks', 'broker'];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

describe('reading value codes', () => {
  it('each EDGE_VALUE_ code is a literal in one source file only', () => {
    const where = new Map<string, Set<string>>();
    for (const file of ROOMS.flatMap((r) => sources(join(ROOT, r)))) {
      for (const [, code] of readFileSync(file, 'utf8').matchAll(/'(EDGE_VALUE_[A-Z0-9_]+)'/g)) {
        const files = where.get(code as string) ?? new Set<string>();
        files.add(relative(ROOT, file));
        where.set(code as string, files);
      }
    }
    expect(where.size).toBeGreaterThanOrEqual(5);
    const twice = [...where].filter(([, files]) => files.size > 1).map(([code, files]) => `${code}: ${[...files].join(', ')}`);
    expect(twice).toEqual([]);
  });

  it('a transform and a driver report a value that is not a number with the same code', () => {
    const point = { id: 'p', deviceId: 'd', measurement: 'm', tags: {}, scale: 2 };
    const transformed = transformReading({ pointId: 'p', ts: 0, raw: 'x1', quality: 'good' }, point);
    const coerced = coerceValue('x1', 'number');
    expect(transformed.error).toBe(ValueErrors.notNumeric);
    expect(coerced).toMatchObject({ ok: false, error: ValueErrors.notNumeric });
    expect(TransformErrors.notNumeric).toBe('EDGE_VALUE_NOT_NUMERIC');
  });
});
