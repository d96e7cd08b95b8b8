import { describe, expect, it } from 'vitest';
import type { AlertRecord, CommandRecord, Point } from '../../../buffer/types.js';
import { alertRowsJson } from '../../../sinks/postgres-alerts.js';
import { commandRowsJson } from '../../../sinks/postgres-commands.js';
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

describe('alert and command rows', () => {
  it('clean U+0000 from every string and send missing times as null, as the points do', () => {
    const alert: AlertRecord = {
      id: 'd/p/r@1',
      deviceId: 'd',
      pointId: 'p',
      ruleId: 'r',
      severity: 'warning',
      state: 'active',
      message: 'A\u0000B',
      value: 'x\u0000',
      threshold: 3,
      raisedAt: Date.UTC(2024, 0, 1),
      clearedAt: null,
      acknowledgedAt: Number.NaN,
      acknowledgedBy: null,
      latch: false,
      version: 1,
    };
    const [a] = JSON.parse(alertRowsJson([p({ alert, tags: { k: 'v\u0000' } })])) as Array<Record<string, unknown>>;
    expect(a).toMatchObject({ message: 'A\uFFFDB', value: null, value_text: 'x\uFFFD', threshold: 3, tags: { k: 'v\uFFFD' } });
    expect(a).toMatchObject({ raised_at: '2024-01-01T00:00:00.000Z', cleared_at: null, acknowledged_at: null });

    const command: CommandRecord = {
      id: 'w1',
      device: 'd',
      point: 'p',
      requested: 'on\u0000',
      raw: null,
      previous: null,
      readback: null,
      outcome: 'refused',
      code: 'EDGE_X',
      message: 'm\u0000',
      by: 'op',
      origin: 'local',
      keyFingerprint: null,
      requestId: null,
      requestedAt: Date.UTC(2024, 0, 1),
      doneAt: null,
    };
    const [c] = JSON.parse(commandRowsJson([p({ command })])) as Array<Record<string, unknown>>;
    expect(c).toMatchObject({ requested: 'on\uFFFD', message: 'm\uFFFD', requested_at: '2024-01-01T00:00:00.000Z', done_at: null });
  });
});
