import { describe, expect, it } from 'vitest';
import { shouldReport, transformReading, TransformErrors } from '../../../agent/pipeline/transform.js';
import type { PointBase } from '../../../config/types.js';
import type { Reading } from '../../../drivers/types.js';

const base: PointBase = { id: 'flow', deviceId: 'pump-1', measurement: 'flow', tags: { gateway: 'gw', site: 's', device: 'pump-1', point: 'flow' }, unit: 'm3/h' };
const reading = (raw: Reading['raw'], extra: Partial<Reading> = {}): Reading => ({ pointId: 'flow', ts: 1_700_000_000_000, raw, quality: 'good', ...extra });

describe('transformReading', () => {
  it('applies scale then offset and keeps the raw value and tags', () => {
    const p = transformReading(reading(1234), { ...base, scale: 0.1, offset: -3 });
    expect(p.value).toBeCloseTo(120.4, 10);
    expect(p.raw).toBe(1234);
    expect(p.quality).toBe('good');
    expect(p.tags).toEqual(base.tags);
    expect(p.unit).toBe('m3/h');
    expect(p.measurement).toBe('flow');
    expect(p.ts).toBe(1_700_000_000_000);
  });

  it('rounds to decimals after scaling', () => {
    expect(transformReading(reading(12345), { ...base, scale: 0.001, decimals: 1 }).value).toBe(12.3);
    expect(transformReading(reading(2.5), { ...base, decimals: 0 }).value).toBe(3);
  });

  it('marks values outside min/max bad, with a null value and the raw value kept', () => {
    const p = transformReading(reading(5000), { ...base, scale: 0.1, min: 0, max: 400 });
    expect(p.value).toBeNull();
    expect(p.raw).toBe(5000);
    expect(p.quality).toBe('bad');
    expect(p.error).toBe(TransformErrors.outOfRange);
    expect(transformReading(reading(-1), { ...base, min: 0 }).quality).toBe('bad');
    expect(transformReading(reading(400), { ...base, min: 0, max: 400 }).quality).toBe('good');
  });

  it('maps states, including booleans written as 0/1', () => {
    const map = { 0: 'stopped', 1: 'running' } as Record<string, string>;
    expect(transformReading(reading(1), { ...base, map }).value).toBe('running');
    expect(transformReading(reading(true), { ...base, map }).value).toBe('running');
    expect(transformReading(reading(false), { ...base, map }).value).toBe('stopped');
    const unmapped = transformReading(reading(7), { ...base, map });
    expect(unmapped.value).toBe(7);
    expect(unmapped.quality).toBe('uncertain');
    expect(unmapped.error).toBe(TransformErrors.unmapped);
  });

  it('turns a bad reading into a bad point with the driver error code', () => {
    const p = transformReading(reading(null, { quality: 'bad', error: 'EDGE_DEVICE_TIMEOUT' }), { ...base, scale: 2 });
    expect(p).toMatchObject({ value: null, raw: null, quality: 'bad', error: 'EDGE_DEVICE_TIMEOUT' });
  });

  it('leaves booleans and strings alone when no numeric transform applies', () => {
    expect(transformReading(reading(true), base).value).toBe(true);
    expect(transformReading(reading('AUTO'), base).value).toBe('AUTO');
    expect(transformReading(reading('x1'), { ...base, scale: 2 }).error).toBe(TransformErrors.notNumeric);
  });
});

describe('shouldReport (deadband, maxSilence)', () => {
  const p = { ...base, deadband: 0.5, maxSilenceMs: 60_000 };
  const point = (value: number | string, ts: number, quality: 'good' | 'bad' = 'good') => transformReading(reading(value, { ts, quality: quality === 'bad' ? 'bad' : 'good' }), base);
  const last = { value: 10, quality: 'good' as const, ts: 0 };

  it('always reports without a deadband or without history', () => {
    expect(shouldReport(base, point(10, 1), last)).toBe(true);
    expect(shouldReport(p, point(10, 1), undefined)).toBe(true);
  });
  it('suppresses changes within the deadband and reports larger ones', () => {
    expect(shouldReport(p, point(10.5, 1000), last)).toBe(false);
    expect(shouldReport(p, point(9.6, 1000), last)).toBe(false);
    expect(shouldReport(p, point(10.51, 1000), last)).toBe(true);
    expect(shouldReport(p, point(9.4, 1000), last)).toBe(true);
  });
  it('reports after maxSilence even when the value is flat', () => {
    expect(shouldReport(p, point(10, 59_999), last)).toBe(false);
    expect(shouldReport(p, point(10, 60_000), last)).toBe(true);
  });
  it('reports a quality change and a changed state', () => {
    const bad = transformReading(reading(null, { ts: 1000, quality: 'bad', error: 'EDGE_DEVICE_TIMEOUT' }), base);
    expect(shouldReport(p, bad, last)).toBe(true);
    expect(shouldReport(p, point('running', 1000), { value: 'stopped', quality: 'good', ts: 0 })).toBe(true);
    expect(shouldReport(p, point('running', 1000), { value: 'running', quality: 'good', ts: 0 })).toBe(false);
  });
});
