import { describe, expect, it } from 'vitest';
import type { Point } from '../../../buffer/types.js';
import { pointColumns } from '../../../sinks/postgres-rows.js';
import { quoteIdent } from '../../../sinks/postgres-sql.js';

const p = (extra: Partial<Point>): Point => ({
  deviceId: 'd',
  pointId: 'p',
  measurement: 'm',
  tags: { a: '1' },
  value: 1,
  ts: Date.UTC(2024, 0, 1, 0, 0, 0, 7),
  quality: 'good',
  ...extra,
});

describe('pointColumns', () => {
  it('sends each series once, splits values by type into their columns, raw as JSON, ts as exact ISO', () => {
    const [sDev, sPid, sMeas, sUnit, sTags, si, ts, val, vtext, vbool, raw, qual, err] = pointColumns([
      p({ value: 2.5, raw: 25, unit: 'bar' }),
      p({ value: 'ON', raw: 'on' }),
      p({ value: false, raw: 0 }),
      p({ value: null, quality: 'bad', error: 'EDGE_DEVICE_TIMEOUT', pointId: 'q' }),
      p({ value: 3, tags: { a: '2' } }),
    ]);
    expect(sDev).toEqual(['d', 'd', 'd', 'd']);
    expect(sPid).toEqual(['p', 'p', 'q', 'p']);
    expect(sMeas).toEqual(['m', 'm', 'm', 'm']);
    expect(sUnit).toEqual(['bar', null, null, null]);
    expect(sTags).toEqual(['{"a":"1"}', '{"a":"1"}', '{"a":"1"}', '{"a":"2"}']);
    expect(si).toEqual([1, 2, 2, 3, 4]);
    expect(ts[0]).toBe('2024-01-01T00:00:00.007Z');
    expect(val).toEqual([2.5, null, null, null, 3]);
    expect(vtext).toEqual([null, 'ON', null, null, null]);
    expect(vbool).toEqual([null, null, false, null, null]);
    expect(raw).toEqual(['25', '"on"', '0', null, null]);
    expect(qual).toEqual(['good', 'good', 'good', 'bad', 'good']);
    expect(err).toEqual([null, null, null, 'EDGE_DEVICE_TIMEOUT', null]);
  });

  it('caches the JSON of frozen (buffer-shared) tags only', () => {
    const cache = new WeakMap<object, string>();
    const frozen = Object.freeze({ a: '1' });
    const mutable: Record<string, string> = { a: '1' };
    pointColumns([p({ tags: frozen }), p({ tags: mutable })], cache);
    expect(cache.has(frozen)).toBe(true);
    expect(cache.has(mutable)).toBe(false);
    mutable.a = '2';
    expect(pointColumns([p({ tags: mutable })], cache)[4]).toEqual(['{"a":"2"}']);
  });

  it('refuses a timestamp that is no time as invalid', () => {
    expect(() => pointColumns([p({ ts: Number.NaN })])).toThrow(expect.objectContaining({ kind: 'invalid' }));
  });
});

describe('quoteIdent', () => {
  it('quotes and doubles embedded quotes', () => {
    expect(quoteIdent('edge')).toBe('"edge"');
    expect(quoteIdent('a"b; drop')).toBe('"a""b; drop"');
  });
});
