/**
 * The commit interval: everything read within it goes to the buffer in one append (one commit),
 * listeners hear of it after the commit, report-by-exception sees the uncommitted cycle, and a
 * failed commit puts the exception state back so nothing is suppressed that was never stored.
 */
import * as FakeTimers from '@sinonjs/fake-timers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../../agent/clock.js';
import { Pipeline } from '../../../agent/pipeline/pipeline.js';
import type { Point } from '../../../buffer/types.js';
import { loadConfig } from '../../../config/index.js';
import type { ResolvedDevice } from '../../../config/types.js';
import type { Reading } from '../../../drivers/types.js';

const config = loadConfig({
  format: 'yaml',
  env: {},
  text: `
gateway: { id: gw }
templates:
  t:
    measurement: m
    points:
      a: { register: holding, address: 0, type: uint16, deadband: 5 }
      b: { register: holding, address: 1, type: uint16 }
devices:
  - { id: d1, driver: modbus, template: t, every: 1s, connection: { protocol: tcp, host: 127.0.0.1, port: 502 } }
  - { id: d2, driver: modbus, template: t, every: 1s, connection: { protocol: tcp, host: 127.0.0.1, port: 502 } }
`,
});
const [d1, d2] = config.devices as [ResolvedDevice, ResolvedDevice];
const readings = (ts: number, a: number, b: number): Reading[] => [
  { pointId: 'a', ts, raw: a, quality: 'good' },
  { pointId: 'b', ts, raw: b, quality: 'good' },
];

let fake: ReturnType<typeof FakeTimers.install>;
let clock: Clock;
beforeEach(() => {
  fake = FakeTimers.install({ now: 0, toFake: ['Date', 'setTimeout', 'clearTimeout'] });
  clock = { now: () => Date.now(), setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
});
afterEach(() => fake.uninstall());

function rig(opts: { fail?: () => boolean; maxPoints?: number } = {}) {
  const appends: Point[][] = [];
  const heard: Point[][] = [];
  const errors: number[] = [];
  const pipeline = new Pipeline(
    {
      append: (ps: Point[]) => {
        if (opts.fail?.()) throw new Error('disk I/O error');
        appends.push([...ps]);
      },
    },
    { intervalMs: 250, clock, onError: (_err, n) => errors.push(n), ...(opts.maxPoints === undefined ? {} : { maxPoints: opts.maxPoints }) },
  );
  pipeline.onPoints((ps) => heard.push([...ps]));
  return { pipeline, appends, heard, errors };
}

describe('Pipeline commit interval', () => {
  it('commits every device cycle of one interval in one append, and tells listeners after it', async () => {
    const { pipeline, appends, heard } = rig();
    pipeline.process(d1, readings(1000, 10, 1));
    pipeline.process(d2, readings(1000, 20, 2));
    await fake.tickAsync(100);
    pipeline.process(d1, readings(1100, 30, 3));
    expect(appends).toEqual([]);
    expect(heard).toEqual([]);
    expect(pipeline.uncommitted).toBe(6);
    await fake.tickAsync(150); // 250 ms after the first cycle
    expect(appends.map((a) => a.length)).toEqual([6]);
    expect(appends[0]?.map((p) => `${p.deviceId}/${p.pointId}=${String(p.value)}`)).toEqual(['d1/a=10', 'd1/b=1', 'd2/a=20', 'd2/b=2', 'd1/a=30', 'd1/b=3']);
    expect(heard).toEqual(appends);
    expect(pipeline.stats.emitted).toBe(6);
    expect(pipeline.uncommitted).toBe(0);
    // The next interval starts with the next cycle.
    pipeline.process(d2, readings(2000, 40, 4));
    await fake.tickAsync(249);
    expect(appends).toHaveLength(1);
    await fake.tickAsync(1);
    expect(appends).toHaveLength(2);
  });

  it('judges report-by-exception against a cycle that is not committed yet', async () => {
    const { pipeline, appends } = rig();
    pipeline.process(d1, readings(1000, 100, 1));
    pipeline.process(d1, readings(1100, 103, 1)); // inside a's deadband of 5: suppressed; b unchanged, still reported
    await fake.tickAsync(250);
    expect(appends[0]?.filter((p) => p.pointId === 'a').map((p) => p.value)).toEqual([100]);
    expect(pipeline.stats.suppressed).toBe(1);
  });

  it('flush() commits at once (a stop), and a full interval commits before its time', async () => {
    const { pipeline, appends } = rig({ maxPoints: 4 });
    pipeline.process(d1, readings(1000, 1, 1));
    pipeline.flush();
    expect(appends.map((a) => a.length)).toEqual([2]);
    pipeline.process(d1, readings(1100, 20, 2));
    pipeline.process(d2, readings(1100, 20, 2)); // 4 waiting: the bound
    expect(appends.map((a) => a.length)).toEqual([2, 4]);
    await fake.tickAsync(1000);
    expect(appends).toHaveLength(2); // no empty commit when the timer would have fired
  });

  it('a failed commit is reported and puts exception state back: the next reading is reported, not suppressed', async () => {
    let failing = true;
    const { pipeline, appends, heard, errors } = rig({ fail: () => failing });
    pipeline.process(d1, readings(1000, 100, 1));
    pipeline.process(d1, readings(1100, 101, 1));
    await fake.tickAsync(250);
    expect(errors).toEqual([3]); // a=100, b=1, b=1 (a=101 was inside the deadband)
    expect(heard).toEqual([]);
    expect(pipeline.stats.appendErrors).toBe(1);
    failing = false;
    pipeline.process(d1, readings(1200, 102, 1));
    await fake.tickAsync(250);
    expect(appends[0]?.map((p) => `${p.pointId}=${String(p.value)}`)).toEqual(['a=102', 'b=1']);
  });

  it('commits each cycle at once with an interval of 0', () => {
    const appends: number[] = [];
    const pipeline = new Pipeline({ append: (ps: Point[]) => appends.push(ps.length) }, { intervalMs: 0, clock, onError: () => {} });
    pipeline.process(d1, readings(1000, 1, 1));
    pipeline.process(d2, readings(1000, 1, 1));
    expect(appends).toEqual([2, 2]);
  });
});

describe('one timestamp per reading of a point', () => {
  it('moves a reading stamped in the same millisecond as the point’s last one a millisecond on, per point and device', () => {
    const { pipeline, appends } = rig();
    // A poll that timed out and the next one, refused by the back-off in the same turn of the event loop.
    const bad = (ts: number, error: string): Reading[] => ['a', 'b'].map((pointId) => ({ pointId, ts, raw: null, quality: 'bad', error }));
    pipeline.process(d1, bad(1000, 'EDGE_DEVICE_TIMEOUT'));
    pipeline.process(d1, bad(1000, 'EDGE_DEVICE_BACKOFF'));
    pipeline.process(d2, bad(1000, 'EDGE_DEVICE_TIMEOUT'));
    pipeline.flush();
    // (Point a has a deadband: its second bad reading is not reported, point b has none.)
    const stored = (appends[0] ?? []).filter((p) => p.pointId === 'b').map((p) => `${p.deviceId}/${p.pointId}@${p.ts} ${p.error}`);
    expect(stored).toEqual([
      'd1/b@1000 EDGE_DEVICE_TIMEOUT',
      'd1/b@1001 EDGE_DEVICE_BACKOFF',
      // Another device's point is another key: left as read.
      'd2/b@1000 EDGE_DEVICE_TIMEOUT',
    ]);
    // The suppressed reading moved on too: the latest of a is the later one.
    expect([...pipeline.latest.values()].find((p) => p.deviceId === 'd1' && p.pointId === 'a')?.ts).toBe(1001);
  });

  it('leaves readings later than the last one, and a clock stepped back by more than a second, as they are', () => {
    const { pipeline, appends } = rig();
    for (const ts of [5000, 6000, 2000]) pipeline.process(d1, readings(ts, ts / 100, 1));
    pipeline.flush();
    expect((appends[0] ?? []).filter((p) => p.pointId === 'b').map((p) => p.ts)).toEqual([5000, 6000, 2000]);
  });
});
