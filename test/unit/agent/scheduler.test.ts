import * as FakeTimers from '@sinonjs/fake-timers';

type InstalledClock = ReturnType<typeof FakeTimers.install>;
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../../agent/clock.js';
import { DeviceScheduler, nextAlignedTick } from '../../../agent/pipeline/scheduler.js';

let fake: InstalledClock;
let clock: Clock;

beforeEach(() => {
  // Global install: node-schedule (cron) reads Date and setTimeout directly.
  fake = FakeTimers.install({ now: Date.UTC(2026, 10, 23, 10, 0, 3, 250), toFake: ['Date', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
  clock = { now: () => Date.now(), setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
});
afterEach(() => fake.uninstall());

describe('nextAlignedTick', () => {
  it('returns the next wall-clock multiple strictly after now', () => {
    expect(nextAlignedTick(10_250, 500)).toBe(10_500);
    expect(nextAlignedTick(10_500, 500)).toBe(11_000);
    expect(nextAlignedTick(Date.UTC(2026, 0, 1, 0, 4, 59), 300_000)).toBe(Date.UTC(2026, 0, 1, 0, 5, 0));
  });
});

describe('DeviceScheduler', () => {
  it('polls `every` on wall-clock multiples', async () => {
    const at: number[] = [];
    const s = new DeviceScheduler({ schedule: { kind: 'every', everyMs: 10_000 }, clock, poll: async ({ scheduledAt }) => void at.push(scheduledAt) });
    s.start();
    await fake.tickAsync(35_000);
    await s.stop();
    expect(at.map((t) => new Date(t).toISOString())).toEqual([
      '2026-11-23T10:00:10.000Z',
      '2026-11-23T10:00:20.000Z',
      '2026-11-23T10:00:30.000Z',
    ]);
    expect(s.polls).toBe(3);
  });

  it('never overlaps polls: a tick during a running poll is skipped and counted', async () => {
    let active = 0;
    let maxActive = 0;
    const overruns: number[] = [];
    const s = new DeviceScheduler({
      schedule: { kind: 'every', everyMs: 1000 },
      clock,
      poll: async () => {
        active += 1;
        maxActive = Math.max(maxActive, active);
        await new Promise((r) => setTimeout(r, 2500)); // slower than the schedule
        active -= 1;
      },
      onOverrun: (t) => overruns.push(t),
    });
    s.start();
    await fake.tickAsync(10_000);
    // The last poll ignores the abort; let fake time run while stop() waits for it.
    const stopped = s.stop();
    await fake.tickAsync(3000);
    await stopped;
    expect(maxActive).toBe(1);
    expect(s.overruns).toBeGreaterThan(0);
    expect(s.overruns).toBe(overruns.length);
    // 10 ticks in 10 s: each 2.5 s poll swallows the next two ticks.
    expect(s.polls + s.overruns).toBe(10);
  });

  it('a timer that fires a millisecond early does not poll the same tick twice', async () => {
    // Node may run a timer up to 1 ms before its time; the real clock did, on a loaded machine.
    const early: Clock = { ...clock, setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, ms - 1)) };
    const at: number[] = [];
    const s = new DeviceScheduler({ schedule: { kind: 'every', everyMs: 500 }, clock: early, poll: async ({ scheduledAt }) => void at.push(scheduledAt) });
    s.start();
    await fake.tickAsync(2_000);
    await s.stop();
    expect(at.map((t) => new Date(t).toISOString())).toEqual([
      '2026-11-23T10:00:03.500Z',
      '2026-11-23T10:00:04.000Z',
      '2026-11-23T10:00:04.500Z',
      '2026-11-23T10:00:05.000Z',
    ]);
    expect(s.overruns).toBe(0);
  });

  it('runs cron schedules through node-schedule', async () => {
    const at: string[] = [];
    const s = new DeviceScheduler({ schedule: { kind: 'cron', cron: '*/5 * * * *' }, clock, poll: async ({ scheduledAt }) => void at.push(new Date(scheduledAt).toISOString()) });
    s.start();
    await fake.tickAsync(11 * 60_000);
    await s.stop();
    expect(at).toEqual(['2026-11-23T10:05:00.000Z', '2026-11-23T10:10:00.000Z']);
  });

  it('stop() aborts the poll in flight and waits for it', async () => {
    let aborted = false;
    let finished = false;
    const s = new DeviceScheduler({
      schedule: { kind: 'every', everyMs: 1000 },
      clock,
      poll: async ({ signal }) => {
        await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
        aborted = signal.aborted;
        finished = true;
      },
    });
    s.start();
    await fake.tickAsync(1000);
    await s.stop();
    expect(aborted).toBe(true);
    expect(finished).toBe(true);
    const before = s.polls;
    await fake.tickAsync(5000);
    expect(s.polls).toBe(before);
  });

  it('reports a rejected poll and keeps ticking', async () => {
    const errors: unknown[] = [];
    let n = 0;
    const s = new DeviceScheduler({
      schedule: { kind: 'every', everyMs: 1000 },
      clock,
      poll: async () => {
        n += 1;
        if (n === 1) throw new Error('boom');
      },
      onError: (e) => errors.push(e),
    });
    s.start();
    await fake.tickAsync(3000);
    await s.stop();
    expect(errors).toHaveLength(1);
    expect(n).toBe(3);
  });
});
