/**
 * Alerts on an untrusted wall clock (a Pi that booted offline): alert events go through the clock
 * guard like readings, and the times inside their records — raised, acknowledged, cleared — get
 * the same correction as the points once the clock is trusted, in the outbox and in the engine's
 * own state. The clock sources are driven by hand, against a real buffer file.
 */
import * as FakeTimers from '@sinonjs/fake-timers';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AlertEngine } from '../../../agent/alerts/engine.js';
import { bufferAlertStore } from '../../../agent/alerts/store.js';
import { ClockGuard } from '../../../agent/pipeline/clock-sanity-guard.js';
import { CLOCK_FLOOR_MS, ClockSanity } from '../../../agent/pipeline/clock-sanity.js';
import type { Clock } from '../../../agent/clock.js';
import { SqliteBuffer } from '../../../buffer/sqlite-buffer.js';
import type { AlertRecord, BufferedPoint, Point, Value } from '../../../buffer/types.js';
import type { AgentConfig } from '../../../config/types.js';
import { HandClocks } from '../../helpers/clocks.js';
import { tempDir } from '../buffer/fixtures.js';
import { device, doc, ok } from '../config/helpers.js';

const logger = pino({ level: 'silent' });
/** Where NTP puts the clock: a plausible "now". */
const REAL = CLOCK_FLOOR_MS + 40 * 86_400_000;

let c: HandClocks;
let fake: FakeTimers.Clock;
let clock: Clock;
let tmp: ReturnType<typeof tempDir>;
let buffer: SqliteBuffer;
let published: Map<string, string>;
const engines: AlertEngine[] = [];

beforeEach(() => {
  c = new HandClocks();
  c.wall_ = 4_000; // 1970, a few seconds after the epoch
  fake = FakeTimers.createClock(0);
  clock = { now: () => c.wall(), setTimeout: (fn, ms) => fake.setTimeout(fn, ms), clearTimeout: (h) => fake.clearTimeout(h as FakeTimers.TimerId) };
  tmp = tempDir();
  buffer = new SqliteBuffer({ path: tmp.file(), sinks: ['central'] });
  published = new Map();
});

afterEach(() => {
  for (const e of engines.splice(0)) e.stop();
  buffer.close();
  tmp.remove();
});

/** Time passes: both clocks run, and the engine's timers with them. */
function pass(ms: number): void {
  c.pass(ms);
  fake.tick(ms);
}

/** NTP steps the wall clock to REAL; the monotonic clock does not move. */
function ntpSteps(): number {
  const shift = REAL - c.wall_;
  c.wall_ = REAL;
  return shift;
}

function config(latch = false): AgentConfig {
  return ok(
    doc({
      gateway: { id: 'gw-1', site: 'well-17' },
      devices: [device({ points: { flow: { register: 'holding', address: 0, type: 'uint16', alerts: [{ above: 100, clearBelow: 90, severity: 'critical', latch }] } } })],
    }),
  );
}

function start(mode: 'restamp' | 'flag', latch = false): { engine: AlertEngine; guard: ClockGuard } {
  const guard = new ClockGuard({ sanity: new ClockSanity({ sources: c, logger }), buffer, mode, logger });
  const engine = new AlertEngine({
    config: config(latch),
    clock,
    logger,
    clockCheck: () => guard.check(),
    publish: async (topic, payload) => void published.set(topic, payload),
  });
  engine.start(bufferAlertStore(buffer, () => {}, guard));
  engines.push(engine);
  return { engine, guard };
}

function reading(value: Value): Point {
  const tags = { gateway: 'gw-1', site: 'well-17', device: 'pump-1', point: 'flow' };
  return { deviceId: 'pump-1', pointId: 'flow', measurement: 'telemetry', tags, value, ts: c.wall(), quality: 'good' };
}

function delivered(): BufferedPoint[] {
  return buffer.read('central', 1000).filter((p) => p.alert !== undefined);
}

const times = (a: AlertRecord | undefined) => ({ raisedAt: a?.raisedAt, acknowledgedAt: a?.acknowledgedAt, clearedAt: a?.clearedAt });

describe('alerts on an untrusted clock', () => {
  it('restamp: holds the events and corrects the event times and the raised / acknowledged / cleared times by the same shift', () => {
    const { engine, guard } = start('restamp');
    engine.evaluate([reading(120)]);
    const raisedAt = c.wall();
    pass(60_000);
    expect(engine.ack('pump-1/flow/above-100', 'tech:ana').ok).toBe(true);
    const ackedAt = c.wall();
    pass(60_000);
    engine.evaluate([reading(80)]);
    const clearedAt = c.wall();
    expect(delivered()).toEqual([]); // nothing goes out with a 1970 time
    expect(buffer.stats().held).toBe(3);

    pass(5_000);
    const shift = ntpSteps();
    guard.check();
    const events = delivered();
    expect(events.map((p) => p.alert?.state)).toEqual(['active', 'active', 'cleared']);
    expect(events.map((p) => p.ts)).toEqual([raisedAt + shift, ackedAt + shift, clearedAt + shift]);
    expect(times(events[2]?.alert)).toEqual({ raisedAt: raisedAt + shift, acknowledgedAt: ackedAt + shift, clearedAt: clearedAt + shift });
    expect(times(events[1]?.alert)).toEqual({ raisedAt: raisedAt + shift, acknowledgedAt: ackedAt + shift, clearedAt: null });
    expect(events.every((p) => p.alert?.unconfirmedTimes === undefined && p.quality === 'good')).toBe(true);
    // The id keeps the time it was raised with: it names the occurrence, and must not change between its events.
    expect(events[2]?.alert?.id).toBe(`pump-1/flow/above-100@${raisedAt}`);
  });

  it('restamp: an alert still active when the clock is trusted is corrected in the engine, on the broker and in the state; its later events carry the right times', () => {
    let { engine, guard } = start('restamp');
    engine.evaluate([reading(120)]);
    const raisedAt = c.wall();
    pass(30_000);
    const shift = ntpSteps();
    pass(1_000); // the engine's next look at the clock (its ack poll) corrects what it holds
    expect(engine.list()[0]?.since).toBe(raisedAt + shift);
    const topic = 'edge/gw-1/alerts/pump-1/flow/above-100';
    expect(JSON.parse(published.get(topic) ?? '{}')).toMatchObject({ since: raisedAt + shift });
    guard.check();
    expect(delivered().map((p) => p.alert?.raisedAt)).toEqual([raisedAt + shift]);

    // A restart keeps the corrected time; the clear, stamped on the trusted clock, carries both right.
    engine.stop();
    ({ engine, guard } = start('restamp'));
    expect(engine.list()[0]?.since).toBe(raisedAt + shift);
    pass(10_000);
    engine.evaluate([reading(80)]);
    const last = delivered().at(-1)?.alert;
    expect(times(last)).toEqual({ raisedAt: raisedAt + shift, acknowledgedAt: null, clearedAt: c.wall() });
    expect(last?.unconfirmedTimes).toBeUndefined();
  });

  it('restamp: a clear that comes right after NTP stepped the clock, before anything looked, still carries the corrected raise time', () => {
    const { engine } = start('restamp');
    engine.evaluate([reading(120)]);
    const raisedAt = c.wall();
    pass(30_000);
    const shift = ntpSteps();
    engine.evaluate([reading(80)]);
    const events = delivered();
    expect(events.map((p) => p.alert?.state)).toEqual(['active', 'cleared']);
    expect(events.map((p) => p.alert?.raisedAt)).toEqual([raisedAt + shift, raisedAt + shift]);
    expect(events[1]?.alert?.clearedAt).toBe(REAL);
  });

  it('restamp: times of an earlier boot cannot be corrected; they go out as stamped and flagged', () => {
    let { engine } = start('restamp');
    engine.evaluate([reading(120)]);
    const raisedAt = c.wall();
    engine.stop();
    // Reboot, still offline: the monotonic clock restarted; then NTP.
    c.boot = 'boot-2';
    c.mono_ = 3_000;
    c.wall_ = 2_000;
    ({ engine } = start('restamp'));
    ntpSteps();
    pass(1_000);
    expect(engine.list()[0]?.since).toBe(raisedAt);
    engine.evaluate([reading(80)]);
    const events = delivered();
    expect(events[0]).toMatchObject({ quality: 'uncertain', error: 'EDGE_CLOCK_UNTRUSTED' });
    expect(events.map((p) => p.alert?.raisedAt)).toEqual([raisedAt, raisedAt]);
    expect(events[1]?.alert?.unconfirmedTimes).toBeUndefined();
  });

  it('flag: sends the raise at once flagged; the next event, once the clock is trusted, carries the corrected raise time', () => {
    const { engine } = start('flag');
    engine.evaluate([reading(120)]);
    const raisedAt = c.wall();
    expect(delivered()).toMatchObject([{ quality: 'uncertain', error: 'EDGE_CLOCK_UNTRUSTED', alert: { raisedAt, state: 'active' } }]);
    pass(30_000);
    const shift = ntpSteps();
    engine.evaluate([reading(80)]);
    const last = delivered().at(-1);
    expect(last).toMatchObject({ quality: 'good', alert: { state: 'cleared', raisedAt: raisedAt + shift, clearedAt: REAL } });
  });
});
