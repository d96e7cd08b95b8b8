/**
 * The local history: bucketing in memory (min/avg/max/n per tier, what is skipped), writing closed
 * buckets to a real SQLite buffer file, merging a bucket written twice, pruning by age per tier,
 * the row bound, and the answers of GET /history (agent/ops/history.ts) to good and bad requests.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteBuffer } from '../../../buffer/sqlite-buffer.js';
import type { Point, Value } from '../../../buffer/types.js';
import type { AgentConfig } from '../../../config/types.js';
import { HistoryRecorder, rebucket, type HistoryTier } from '../../../agent/pipeline/history.js';
import { answerHistory, type HistoryResponse } from '../../../agent/ops/history.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const buffers: SqliteBuffer[] = [];
afterEach(() => {
  for (const b of buffers.splice(0)) b.close();
});

function point(pointId: string, ts: number, value: Value | null, quality: Point['quality'] = 'good', tags: Record<string, string> = {}): Point {
  return { deviceId: 'pump-1', pointId, measurement: 'pump', tags: { gateway: 'gw', site: 'gw', device: 'pump-1', point: pointId, ...tags }, value, ts, quality };
}

function rig(opts: { tiers?: HistoryTier[]; maxRows?: number; path?: string } = {}) {
  const path = opts.path ?? join(mkdtempSync(join(tmpdir(), 'edge-history-')), 'buffer.db');
  const buffer = new SqliteBuffer({ path, sinks: [], historyMaxRows: opts.maxRows });
  buffers.push(buffer);
  const clock = { now: T0 };
  const errors: unknown[] = [];
  const recorder = new HistoryRecorder({
    tiers: opts.tiers ?? [
      { stepMs: 10_000, keepMs: 3_600_000 },
      { stepMs: 60_000, keepMs: 7_200_000 },
    ],
    store: buffer.history,
    now: () => clock.now,
    configuredTags: (_device, p) => ({ gateway: 'gw', site: 'gw', device: 'pump-1', point: p }),
    onError: (err) => errors.push(err),
    pruneEveryMs: 0,
  });
  return { path, buffer, clock, recorder, errors };
}

const key = (tier: number, p = 'flow', series = '') => ({ tier, device: 'pump-1', point: p, series });

describe('history buckets', () => {
  it('keeps min, max, sum and count per step and tier; skips bad readings and text; booleans count as 0/1', () => {
    const { recorder, clock } = rig();
    recorder.record([point('flow', T0 + 1000, 4), point('flow', T0 + 2000, 10), point('flow', T0 + 3000, null, 'bad'), point('mode', T0 + 3000, 'auto')]);
    recorder.record([point('flow', T0 + 9000, 1), point('flow', T0 + 12_000, 7), point('run', T0 + 12_000, true), point('run', T0 + 13_000, false)]);
    clock.now = T0 + 15_000;
    expect(recorder.read(key(0), T0, T0 + 60_000)).toEqual([
      { ts: T0, n: 3, min: 1, max: 10, sum: 15 },
      { ts: T0 + 10_000, n: 1, min: 7, max: 7, sum: 7 },
    ]);
    expect(recorder.read(key(1), T0, T0 + 60_000)).toEqual([{ ts: T0, n: 4, min: 1, max: 10, sum: 22 }]);
    expect(recorder.read(key(0, 'run'), T0, T0 + 60_000)).toEqual([{ ts: T0 + 10_000, n: 2, min: 0, max: 1, sum: 1 }]);
    expect(recorder.read(key(0, 'mode'), T0, T0 + 60_000)).toEqual([]);
  });

  it('writes a bucket once its time is over, and reads the same from the file after a restart', () => {
    const a = rig();
    a.recorder.record([point('flow', T0 + 1000, 5), point('flow', T0 + 2000, 6)]);
    a.recorder.flush();
    expect(a.buffer.history.rows()).toBe(0); // still open: its 10 s are not over
    a.clock.now = T0 + 10_000;
    a.recorder.flush();
    expect(a.buffer.history.rows()).toBe(1); // the fine bucket closed; the minute is still open
    a.recorder.record([point('flow', T0 + 11_000, 8)]);
    a.recorder.flush(true); // stop: open buckets go as they are
    expect(a.buffer.history.rows()).toBe(3);
    a.buffer.close();
    buffers.length = 0;

    // A restart inside the same minute merges into the stored bucket instead of adding a second one.
    const b = rig({ path: a.path });
    b.clock.now = T0 + 30_000;
    b.recorder.record([point('flow', T0 + 20_000, 2)]);
    b.recorder.flush(true);
    expect(b.recorder.read(key(1), T0, T0 + 60_000)).toEqual([{ ts: T0, n: 4, min: 2, max: 8, sum: 21 }]);
    expect(b.recorder.read(key(0), T0, T0 + 60_000).map((x) => [x.ts - T0, x.n])).toEqual([
      [0, 2],
      [10_000, 1],
      [20_000, 1],
    ]);
  });

  it('keeps a captured series (an MQTT topic tag) apart from the others', () => {
    const { recorder } = rig();
    recorder.record([point('flow', T0, 1, 'good', { bed: '1' }), point('flow', T0, 9, 'good', { bed: '2' })]);
    expect(recorder.read(key(0, 'flow', '{"bed":"2"}'), T0, T0 + 10_000)).toEqual([{ ts: T0, n: 1, min: 9, max: 9, sum: 9 }]);
    expect(recorder.read(key(0), T0, T0 + 10_000)).toEqual([]);
  });

  it('prunes each tier by its own age', () => {
    const { recorder, buffer, clock } = rig({ tiers: [{ stepMs: 10_000, keepMs: 60_000 }, { stepMs: 60_000, keepMs: 300_000 }] });
    for (let s = 0; s < 600; s += 10) recorder.record([point('flow', T0 + s * 1000, s)]);
    clock.now = T0 + 600_000;
    recorder.flush(true);
    // What is left: fine buckets of the last minute, long buckets of the last five.
    const fine = buffer.history.read(key(0), 0, Infinity);
    const long = buffer.history.read(key(1), 0, Infinity);
    expect(fine.map((b) => (b.ts - T0) / 1000)).toEqual([540, 550, 560, 570, 580, 590]);
    expect(long.map((b) => (b.ts - T0) / 60_000)).toEqual([5, 6, 7, 8, 9]);
  });

  it('holds the row bound, the oldest fine rows going first', () => {
    const { recorder, buffer, clock } = rig({ maxRows: 20, tiers: [{ stepMs: 10_000, keepMs: 86_400_000 }, { stepMs: 60_000, keepMs: 86_400_000 }] });
    for (let s = 0; s < 300; s += 10) recorder.record([point('flow', T0 + s * 1000, s)]);
    clock.now = T0 + 300_000;
    recorder.flush(true);
    expect(buffer.history.rows()).toBe(20);
    expect(recorder.stats.boundRemoved).toBe(15); // 30 fine + 5 long rows written
    const fine = buffer.history.read(key(0), 0, Infinity);
    expect(fine.map((b) => (b.ts - T0) / 1000)).toEqual([150, 160, 170, 180, 190, 200, 210, 220, 230, 240, 250, 260, 270, 280, 290]);
    expect(buffer.history.read(key(1), 0, Infinity)).toHaveLength(5);
  });

  it('folds buckets into wider steps', () => {
    const buckets = [0, 10, 20, 30, 40].map((s) => ({ ts: T0 + s * 1000, n: 1, min: s, max: s, sum: s }));
    expect(rebucket(buckets, 30_000)).toEqual([
      { ts: T0, n: 3, min: 0, max: 20, sum: 30 },
      { ts: T0 + 30_000, n: 2, min: 30, max: 40, sum: 70 },
    ]);
  });
});

describe('GET /history answers', () => {
  const config = { devices: [{ id: 'pump-1', points: [{ id: 'flow', unit: 'm3/h' }, { id: 'mode' }] }] } as unknown as AgentConfig;
  const ask = (recorder: HistoryRecorder | undefined, q: string, now = T0 + 65_000) => answerHistory(new URLSearchParams(q), config, recorder, now);

  it('gives min, avg, max and n per step, oldest first, with the unit', () => {
    const { recorder } = rig();
    recorder.record([point('flow', T0 + 1000, 4), point('flow', T0 + 2000, 10), point('flow', T0 + 21_000, 6)]);
    const a = ask(recorder, 'device=pump-1&point=flow&minutes=2');
    expect(a.status).toBe(200);
    expect(a.body).toEqual({
      device: 'pump-1',
      point: 'flow',
      unit: 'm3/h',
      step: 10,
      buckets: [
        { ts: T0, min: 4, avg: 7, max: 10, n: 2 },
        { ts: T0 + 20_000, min: 6, avg: 6, max: 6, n: 1 },
      ],
    } satisfies HistoryResponse);
    const wide = ask(recorder, 'device=pump-1&point=flow&minutes=2&step=30').body as HistoryResponse;
    expect(wide.step).toBe(30);
    expect(wide.buckets).toEqual([{ ts: T0, min: 4, avg: 20 / 3, max: 10, n: 3 }]);
    // A long window is answered from the long tier.
    const day = ask(recorder, 'device=pump-1&point=flow&minutes=100').body as HistoryResponse;
    expect(day.step).toBe(60);
    expect(day.buckets).toEqual([{ ts: T0, min: 4, avg: 20 / 3, max: 10, n: 3 }]);
  });

  it('says what is wrong with a request (400) and what is not there (404)', () => {
    const { recorder } = rig();
    const cases: Array<[string, number, RegExp]> = [
      ['point=flow&minutes=5', 400, /'device' is required/],
      ['device=pump-1&minutes=5', 400, /'point' is required/],
      ['device=pump-1&point=flow', 400, /'minutes' is required/],
      ['device=pump-1&point=flow&minutes=abc', 400, /'minutes' must be a whole number from 1 to 120/],
      ['device=pump-1&point=flow&minutes=121', 400, /from 1 to 120/],
      ['device=pump-1&point=flow&minutes=5&step=1.5', 400, /'step' must be whole seconds/],
      ['device=pump-1&point=flow&minutes=5&step=15', 400, /fits no kept history/],
      ['device=pump-1&point=flow&minutes=90&step=10', 400, /fits no kept history/],
      ['device=pump-1&point=flow&minutes=5&series=[1]', 400, /'series' must be a JSON object/],
      ['device=pump-1&point=flow&minutes=5&limit=3', 400, /unknown parameter 'limit'/],
      ['device=pump-9&point=flow&minutes=5', 404, /no device 'pump-9'/],
      ['device=pump-1&point=level&minutes=5', 404, /no point 'level' \(it has: flow, mode\)/],
    ];
    for (const [q, status, message] of cases) {
      const a = ask(recorder, q);
      expect({ q, status: a.status }).toEqual({ q, status });
      expect((a.body as { error: string }).error).toMatch(message);
    }
    expect(ask(undefined, 'device=pump-1&point=flow&minutes=5')).toMatchObject({ status: 404, body: { code: 'EDGE_HISTORY_OFF' } });
  });
});
