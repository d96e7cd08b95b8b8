/**
 * Our line protocol against the InfluxDB client library's own Point.toLineProtocol: the sink
 * stopped using the library's Point objects for speed, and must still write the same bytes.
 */
import { Point as LinePoint } from '@influxdata/influxdb-client';
import { describe, expect, it } from 'vitest';
import type { Point } from '../../../buffer/types.js';
import { LineWriter } from '../../../sinks/influx-line.js';

function clientLine(p: Point): string | undefined {
  const line = new LinePoint(p.measurement);
  for (const k in p.tags) line.tag(k, p.tags[k] as string);
  const v = p.value;
  if (typeof v === 'number') line.floatField('value', v);
  else if (typeof v === 'boolean') line.booleanField('value', v);
  else if (typeof v === 'string') line.stringField('value', v);
  return line.timestamp(p.ts).toLineProtocol({ convertTime: (t) => String(t) });
}

const awkward: Point[] = [
  { deviceId: 'd', pointId: 'p', measurement: 'flow', tags: { site: 'pozo 17', gateway: 'gw,1', point: 'a=b', device: 'd' }, value: 0.1 + 0.2, ts: 1_700_000_000_123, quality: 'good' },
  { deviceId: 'd', pointId: 'p', measurement: 'm e,as', tags: { z: '1', a: '', 'k\ty': 'new\nline' }, value: -1e21, ts: 1, quality: 'good' },
  { deviceId: 'd', pointId: 'p', measurement: 'state', tags: { device: 'd' }, value: 'say "hi" \\ bye', ts: 2, quality: 'good' },
  { deviceId: 'd', pointId: 'p', measurement: 'coil', tags: { device: 'd' }, value: false, ts: 3, quality: 'good' },
  { deviceId: 'd', pointId: 'p', measurement: 'coil', tags: { device: 'd' }, value: true, ts: 4, quality: 'good' },
  { deviceId: 'd', pointId: 'p', measurement: 'int', tags: { device: 'd' }, value: 42, ts: 5, quality: 'good' },
  { deviceId: 'd', pointId: 'p', measurement: 'tiny', tags: {}, value: 5e-324, ts: 6, quality: 'good' },
];

describe('LineWriter', () => {
  it('writes each point exactly as the client library does', () => {
    const counts = { skippedNull: 0, skippedNonFinite: 0 };
    const { body, lines } = new LineWriter().build(awkward, counts);
    expect(lines).toBe(awkward.length);
    expect(body.split('\n')).toEqual(awkward.map(clientLine));
  });

  it('skips nulls and non-finite numbers, counting each', () => {
    const counts = { skippedNull: 0, skippedNonFinite: 0 };
    const base = awkward[5]!;
    const { body, lines } = new LineWriter().build([{ ...base, value: null }, { ...base, value: Number.NaN }, { ...base, value: Infinity }, base], counts);
    expect(counts).toEqual({ skippedNull: 1, skippedNonFinite: 2 });
    expect(lines).toBe(1);
    expect(body).toBe(clientLine(base));
  });

  it('reuses a frozen series prefix, but not across a measurement change or for a caller\'s own tags object', () => {
    const w = new LineWriter();
    const counts = { skippedNull: 0, skippedNonFinite: 0 };
    const frozen = Object.freeze({ device: 'd', point: 'p' });
    const p: Point = { deviceId: 'd', pointId: 'p', measurement: 'flow', tags: frozen, value: 1, ts: 10, quality: 'good' };
    expect(w.build([p], counts).body).toBe('flow,device=d,point=p value=1 10');
    expect(w.build([{ ...p, measurement: 'level' }], counts).body).toBe('level,device=d,point=p value=1 10');
    const own: Record<string, string> = { device: 'd' };
    expect(w.build([{ ...p, tags: own }], counts).body).toBe('flow,device=d value=1 10');
    own.device = 'e';
    expect(w.build([{ ...p, tags: own }], counts).body).toBe('flow,device=e value=1 10');
  });

  it('writes nothing for a point with an empty measurement (the client has no line for it)', () => {
    const counts = { skippedNull: 0, skippedNonFinite: 0 };
    const p = { ...awkward[5]!, measurement: '' };
    expect(clientLine(p)).toBeUndefined();
    expect(new LineWriter().build([p], counts)).toEqual({ body: '', lines: 0 });
  });
});
