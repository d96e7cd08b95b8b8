/**
 * Clock sanity with the clock sources driven by hand (the outer edge: a Pi's clock cannot be
 * set from a test), against a real buffer file.
 */
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClockGuard } from '../../../agent/pipeline/clock-sanity-guard.js';
import { CLOCK_FLOOR_MS, ClockSanity } from '../../../agent/pipeline/clock-sanity.js';
import { SqliteBuffer } from '../../../buffer/sqlite-buffer.js';
import type { Point } from '../../../buffer/types.js';
import { HandClocks } from '../../helpers/clocks.js';
import { realisticPoint, tempDir } from '../buffer/fixtures.js';

const logger = pino({ level: 'silent' });

describe('ClockSanity', () => {
  it('distrusts a clock before the floor, far after it, or one the NTP client says is not synced', () => {
    const c = new HandClocks();
    const s = new ClockSanity({ sources: c, logger });
    expect(s.check()).toMatchObject({ trusted: false, reason: 'before-floor' });
    c.wall_ = CLOCK_FLOOR_MS + 1000;
    expect(s.check()).toMatchObject({ trusted: true, reason: undefined });
    c.wall_ = CLOCK_FLOOR_MS + 40 * 365 * 86_400_000;
    expect(s.check()).toMatchObject({ trusted: false, reason: 'after-ceiling' });
  });

  it('asks the NTP client again only every so often (monotonic), and at once after a jump', () => {
    const c = new HandClocks();
    c.wall_ = CLOCK_FLOOR_MS + 86_400_000; // fake-hwclock: plausible but not synced
    c.sync = false;
    const s = new ClockSanity({ sources: c, logger, syncCheckEveryMs: 30_000 });
    expect(s.check()).toMatchObject({ trusted: false, reason: 'not-synchronized' });
    c.sync = true;
    c.pass(1000);
    expect(s.check().trusted).toBe(false); // not asked again yet
    c.pass(30_000);
    expect(s.check().trusted).toBe(true);
  });

  it('detects jumps as wall delta minus monotonic delta, and starts a new epoch offset', () => {
    const c = new HandClocks();
    c.wall_ = CLOCK_FLOOR_MS + 5000;
    const s = new ClockSanity({ sources: c, logger, jumpThresholdMs: 2000 });
    const v0 = s.check();
    c.pass(1000);
    c.wall_ += 1500; // NTP slew-size correction: not a jump
    expect(s.check().jumpMs).toBe(0);
    c.pass(1000);
    c.wall_ -= 3_600_000; // stepped back an hour
    const v = s.check();
    expect(v.jumpMs).toBe(-3_600_000);
    expect(v.epochOffsetMs).toBe(v.offsetMs);
    expect(v.epochOffsetMs).not.toBe(v0.epochOffsetMs);
    expect(s.stats).toMatchObject({ jumps: 1, lastJumpMs: -3_600_000 });
  });

  it('keeps the offset read when the clock became trusted for every correction, through millisecond jitter, until the next jump', () => {
    const c = new HandClocks(); // 1970: not trusted
    const s = new ClockSanity({ sources: c, logger });
    s.check();
    c.pass(1000);
    c.wall_ = CLOCK_FLOOR_MS + 86_400_000; // NTP steps the clock
    const trusted = s.check();
    expect(trusted.trustedOffsetMs).toBe(trusted.offsetMs);
    c.pass(500);
    c.wall_ += 1; // Date.now and hrtime rounding apart by a millisecond
    const later = s.check();
    expect(later.offsetMs).toBe(trusted.offsetMs + 1);
    expect(later.trustedOffsetMs).toBe(trusted.trustedOffsetMs);
    c.pass(500);
    c.wall_ += 10_000; // a jump while trusted: a new offset from here
    const jumped = s.check();
    expect(jumped.trustedOffsetMs).toBe(jumped.offsetMs);
    expect(jumped.trustedOffsetMs).not.toBe(trusted.trustedOffsetMs);
  });
});

describe('ClockGuard', () => {
  let tmp: ReturnType<typeof tempDir>;
  let buffer: SqliteBuffer;
  beforeEach(() => {
    tmp = tempDir();
    buffer = new SqliteBuffer({ path: tmp.file(), sinks: ['pg'] });
  });
  afterEach(() => {
    buffer.close();
    tmp.remove();
  });

  /** A reading stamped by the (wrong) wall clock at this moment. */
  const readAt = (c: HandClocks, i: number): Point => ({ ...realisticPoint(i), ts: c.wall(), value: i });

  it('restamp: holds points read on a 1970 clock and, once NTP steps the clock, re-stamps them from the monotonic offset', () => {
    const c = new HandClocks();
    c.wall_ = 1000; // booted offline: 1970-01-01T00:00:01Z
    const sanity = new ClockSanity({ sources: c, logger });
    const guard = new ClockGuard({ sanity, buffer, mode: 'restamp', logger });
    const trueBoot = Date.UTC(2026, 10, 23, 6, 0, 0); // what the time really was at wall 1000
    guard.append([readAt(c, 0)]);
    c.pass(10_000);
    guard.append([readAt(c, 1)]);
    expect(buffer.read('pg', 10)).toEqual([]);
    expect(buffer.stats().held).toBe(2);
    c.pass(5_000);
    c.wall_ = trueBoot + 15_000; // NTP steps the clock
    guard.append([readAt(c, 2)]);
    const rows = buffer.read('pg', 10);
    expect(rows.map((p) => [p.value, new Date(p.ts).toISOString()])).toEqual([
      [0, '2026-11-23T06:00:00.000Z'],
      [1, '2026-11-23T06:00:10.000Z'],
      [2, '2026-11-23T06:00:15.000Z'],
    ]);
    expect(rows.every((p) => p.quality === 'good')).toBe(true);
    expect(guard.stats).toMatchObject({ held: 2, restamped: 2, flagged: 0 });
  });

  it('restamp: the timer releases held rows even when no new point arrives; rows of an earlier boot are flagged', () => {
    const c = new HandClocks();
    c.wall_ = 1000;
    const sanity = new ClockSanity({ sources: c, logger });
    const guard = new ClockGuard({ sanity, buffer, mode: 'restamp', logger });
    guard.append([readAt(c, 0)]);
    // Reboot (monotonic clock restarts, another boot id), clock now synced.
    c.boot = 'boot-2';
    c.mono_ = 5_000;
    c.wall_ = Date.UTC(2026, 10, 23);
    const guard2 = new ClockGuard({ sanity: new ClockSanity({ sources: c, logger }), buffer, mode: 'restamp', logger });
    guard2.check();
    const rows = buffer.read('pg', 10);
    expect(rows.map((p) => [p.ts, p.quality, p.error])).toEqual([[1000, 'uncertain', 'EDGE_CLOCK_UNTRUSTED']]);
    expect(guard2.stats.flagged).toBe(1);
  });

  it('flag: sends at once, good points as uncertain with EDGE_CLOCK_UNTRUSTED, bad ones unchanged', () => {
    const c = new HandClocks();
    c.wall_ = 1000;
    const guard = new ClockGuard({ sanity: new ClockSanity({ sources: c, logger }), buffer, mode: 'flag', logger });
    const bad: Point = { ...readAt(c, 1), value: null, quality: 'bad', error: 'EDGE_DEVICE_TIMEOUT' };
    guard.append([readAt(c, 0), bad]);
    expect(buffer.read('pg', 10).map((p) => [p.quality, p.error])).toEqual([
      ['uncertain', 'EDGE_CLOCK_UNTRUSTED'],
      ['bad', 'EDGE_DEVICE_TIMEOUT'],
    ]);
    c.wall_ = Date.UTC(2026, 10, 23);
    guard.append([readAt(c, 2)]);
    expect(buffer.read('pg', 10)[2]).toMatchObject({ quality: 'good' });
  });
});
