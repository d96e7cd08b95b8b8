/**
 * The local alert engine on fake time (its clock seam driven by @sinonjs/fake-timers) and a real
 * SQLite buffer file: delays, hysteresis, staleness, rate of change, latch and acknowledgement,
 * and an agent restart in the middle of an alert.
 */
import * as FakeTimers from '@sinonjs/fake-timers';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AlertEngine } from '../../../agent/alerts/engine.js';
import { bufferAlertStore } from '../../../agent/alerts/store.js';
import type { Clock } from '../../../agent/clock.js';
import { SqliteBuffer } from '../../../buffer/sqlite-buffer.js';
import type { AlertRecord, Point, Quality, Value } from '../../../buffer/types.js';
import type { AgentConfig } from '../../../config/types.js';
import { tempDir } from '../buffer/fixtures.js';
import { device, doc, ok } from '../config/helpers.js';

const logger = pino({ level: 'silent' });
const T0 = Date.UTC(2024, 5, 1, 12, 0, 0);

let fake: FakeTimers.Clock;
let clock: Clock;
let tmp: ReturnType<typeof tempDir>;
let buffer: SqliteBuffer;
let published: Array<{ topic: string; payload: string }>;
const engines: AlertEngine[] = [];

beforeEach(() => {
  fake = FakeTimers.createClock(T0);
  clock = { now: () => fake.now, setTimeout: (fn, ms) => fake.setTimeout(fn, ms), clearTimeout: (h) => fake.clearTimeout(h as FakeTimers.TimerId) };
  tmp = tempDir();
  buffer = openBuffer();
  published = [];
});

afterEach(() => {
  for (const e of engines.splice(0)) e.stop();
  buffer.close();
  tmp.remove();
});

function openBuffer(): SqliteBuffer {
  return new SqliteBuffer({ path: tmp.file(), sinks: ['central'] });
}

function config(alerts: unknown[], point: Record<string, unknown> = {}): AgentConfig {
  return ok(doc({ gateway: { id: 'gw-1', site: 'well-17' }, devices: [device({ points: { flow: { register: 'holding', address: 0, type: 'uint16', unit: 'm3/h', alerts, ...point } } })] }));
}

function engine(cfg: AgentConfig): AlertEngine {
  const e = new AlertEngine({ config: cfg, clock, logger, publish: async (topic, payload) => void published.push({ topic, payload }) });
  e.start(bufferAlertStore(buffer, () => {}));
  engines.push(e);
  return e;
}

function reading(value: Value | null, quality: Quality = 'good'): Point {
  return {
    deviceId: 'pump-1',
    pointId: 'flow',
    measurement: 'telemetry',
    tags: { gateway: 'gw-1', site: 'well-17', device: 'pump-1', point: 'flow' },
    value,
    ts: fake.now,
    quality,
    ...(quality === 'bad' ? { error: 'EDGE_DEVICE_TIMEOUT' } : {}),
  };
}

/** The alert events in the outbox, in order: what central receives. */
function events(): AlertRecord[] {
  return buffer
    .read('central', 1000)
    .flatMap((p) => (p.alert === undefined ? [] : [p.alert]));
}

const states = () => events().map((a) => `${a.ruleId}:${a.state}${a.acknowledgedAt === null ? '' : '+ack'}`);

describe('alert engine', () => {
  it('raises once the value stayed above the threshold for the on-delay, and clears only below clearBelow', () => {
    const e = engine(config([{ above: 120, for: '30s', clearBelow: 115, severity: 'critical' }]));
    e.evaluate([reading(125)]);
    fake.tick(20_000);
    e.evaluate([reading(110)]); // back below before the delay ran out: nothing
    fake.tick(20_000);
    expect(e.list()).toEqual([]);

    e.evaluate([reading(125)]);
    fake.tick(29_999);
    e.evaluate([reading(126)]);
    expect(e.list()).toEqual([]);
    fake.tick(1);
    expect(e.list()).toHaveLength(1);
    const [alert] = e.list();
    expect(alert).toMatchObject({ id: `pump-1/flow/above-120@${T0 + 70_000}`, severity: 'critical', ruleId: 'above-120', state: 'active', value: 126, threshold: 120, unit: 'm3/h' });

    // Inside the hysteresis band the alert holds; more readings above raise nothing new.
    for (const v of [119, 130, 116, 115]) e.evaluate([reading(v)]);
    expect(e.list()).toHaveLength(1);
    e.evaluate([reading(114.9)]);
    expect(e.list()).toEqual([]);
    expect(states()).toEqual(['above-120:active', 'above-120:cleared']);
    expect(published.map((p) => [p.topic, p.payload === '' ? 'empty' : JSON.parse(p.payload).state])).toEqual([
      ['edge/gw-1/alerts/pump-1/flow/above-120', 'active'],
      ['edge/gw-1/alerts/pump-1/flow/above-120', 'empty'],
    ]);
  });

  it('an on-delay needs the limit itself: a dip into the hysteresis band cancels a pending raise', () => {
    const e = engine(config([{ above: 120, for: '30s', clearBelow: 115 }]));
    e.evaluate([reading(125)]);
    fake.tick(10_000);
    e.evaluate([reading(118)]); // not above 120: the pending raise ends (the band only holds an active alert)
    fake.tick(25_000);
    expect(e.list()).toEqual([]);
    e.evaluate([reading(121)]);
    fake.tick(30_000);
    expect(e.list()).toMatchObject([{ state: 'active', value: 121 }]);
  });

  it('clears only after the off-delay, and a return inside it keeps the alert', () => {
    const e = engine(config([{ below: 5, clearFor: '10s' }]));
    e.evaluate([reading(3)]);
    expect(e.list()).toHaveLength(1);
    e.evaluate([reading(6)]);
    fake.tick(9_000);
    e.evaluate([reading(4)]); // the condition is back: the pending clear is off
    fake.tick(5_000);
    e.evaluate([reading(6)]);
    fake.tick(9_999);
    expect(e.list()).toHaveLength(1);
    fake.tick(1);
    expect(e.list()).toEqual([]);
    expect(states()).toEqual(['below-5:active', 'below-5:cleared']);
  });

  it('raises stale on schedule when no usable reading comes, also with no reading at all', () => {
    const e = engine(config([{ stale: '1m', severity: 'warning' }]));
    fake.tick(59_999);
    expect(e.list()).toEqual([]);
    fake.tick(1);
    expect(e.list()).toMatchObject([{ ruleId: 'stale', message: 'flow: no reading for 1m' }]);

    e.evaluate([reading(12)]);
    expect(e.list()).toEqual([]);
    // Bad readings do not count as fresh: the timer runs from the last good one.
    fake.tick(30_000);
    e.evaluate([reading(null, 'bad')]);
    fake.tick(30_000);
    expect(e.list()).toHaveLength(1);
    expect(states()).toEqual(['stale:active', 'stale:cleared', 'stale:active']);
  });

  it('raises bad quality after its delay while the device does not answer', () => {
    const e = engine(config([{ badQuality: true, for: '20s', severity: 'critical' }]));
    e.evaluate([reading(null, 'bad')]);
    fake.tick(10_000);
    e.evaluate([reading(null, 'bad')]);
    fake.tick(10_000);
    expect(e.list()).toMatchObject([{ ruleId: 'bad-quality', message: 'flow: the device does not deliver a value (EDGE_DEVICE_TIMEOUT)' }]);
    e.evaluate([reading(7)]);
    expect(e.list()).toEqual([]);
  });

  it('raises a rate-of-change alert on a rise of 5 within a minute, not on a slow climb', () => {
    const e = engine(config([{ rateOfChange: { rise: 5, per: '1m' } }]));
    for (const v of [10, 11, 12, 13, 14, 15, 16, 17]) {
      e.evaluate([reading(v)]);
      fake.tick(20_000); // 3 per minute
    }
    expect(e.list()).toEqual([]);
    e.evaluate([reading(20)]); // 17 → 20 is 3, but 15 (40 s ago) → 20 is 5 within the minute
    expect(e.list()).toMatchObject([{ ruleId: 'rise-5', value: 20, threshold: 5 }]);
    fake.tick(61_000);
    e.evaluate([reading(20)]);
    expect(e.list()).toEqual([]);
  });

  it('raises on a state with equals', () => {
    const e = engine(config([{ equals: 'tripped', severity: 'critical' }], { map: { 0: 'ok', 1: 'tripped' } }));
    e.evaluate([reading('ok')]);
    e.evaluate([reading('tripped')]);
    expect(e.list()).toMatchObject([{ ruleId: 'equals-tripped', message: 'flow is tripped' }]);
    e.evaluate([reading('ok')]);
    expect(e.list()).toEqual([]);
  });

  it('keeps a latched alert until acknowledged; several levels on one point are separate alerts', () => {
    const e = engine(config([{ above: 100, severity: 'warning' }, { above: 120, severity: 'critical', latch: true }]));
    e.evaluate([reading(125)]);
    expect(e.list().map((a) => a.ruleId)).toEqual(['above-100', 'above-120']);
    e.evaluate([reading(90)]);
    expect(e.list()).toMatchObject([{ ruleId: 'above-120', state: 'returned', acknowledged: false }]);

    const id = e.list()[0]?.id ?? '';
    expect(e.ack('pump-1/flow/nope', 'tech')).toMatchObject({ ok: false, code: 'EDGE_ALERT_NOT_FOUND' });
    expect(e.ack(id, ' ')).toMatchObject({ ok: false, code: 'EDGE_ALERT_INVALID_ACK' });
    expect(e.ack(id, 'ops:maria')).toMatchObject({ ok: true, alert: { id, acknowledged: true, acknowledgedBy: 'ops:maria' } });
    expect(e.list()).toEqual([]);

    // Acknowledged while still active: it then clears with its condition.
    e.evaluate([reading(125)]);
    const again = e.list().find((a) => a.ruleId === 'above-120');
    expect(e.ack('pump-1/flow/above-120', 'tech')).toMatchObject({ ok: true, alert: { id: again?.id, state: 'active' } });
    expect(e.ack('pump-1/flow/above-120', 'someone else')).toMatchObject({ ok: true, alert: { acknowledgedBy: 'tech' } });
    e.evaluate([reading(90)]);
    expect(e.list()).toEqual([]);
    expect(states()).toEqual([
      'above-100:active',
      'above-120:active',
      'above-100:cleared',
      'above-120:returned',
      'above-120:cleared+ack',
      'above-100:active',
      'above-120:active',
      'above-120:active+ack',
      'above-100:cleared',
      'above-120:cleared+ack',
    ]);
    // Each event carries the version that lets central keep the newest.
    expect(events().filter((a) => a.id === id).map((a) => a.version)).toEqual([1, 2, 3]);
  });

  it('survives a restart: the alert stays active, is republished, and is not raised again', () => {
    const cfg = config([{ above: 120, for: '10s', clearBelow: 115 }]);
    const first = engine(cfg);
    first.evaluate([reading(130)]);
    fake.tick(10_000);
    const [alert] = first.list();
    expect(alert).toBeDefined();
    first.stop();
    buffer.close();

    fake.tick(60_000);
    buffer = openBuffer();
    published = [];
    const second = engine(cfg);
    expect(second.list()).toEqual([alert]);
    expect(published.map((p) => JSON.parse(p.payload).id)).toEqual([alert?.id]);
    second.evaluate([reading(131)]);
    fake.tick(20_000);
    second.evaluate([reading(118)]); // the hysteresis survived the restart too
    expect(second.list()).toEqual([alert]);
    second.evaluate([reading(100)]);
    expect(second.list()).toEqual([]);
    expect(states()).toEqual(['above-120:active', 'above-120:cleared']);
  });

  it('applies an acknowledgement queued in the state file (the CLI) within its poll', () => {
    const e = engine(config([{ above: 1, latch: true }]));
    e.evaluate([reading(5)]);
    const id = e.list()[0]?.id ?? '';
    const request = buffer.alertState.requestAck(id, 'cli:tech@gw', fake.now);
    const missing = buffer.alertState.requestAck('pump-1/flow/above-9', 'cli:tech@gw', fake.now);
    expect(buffer.alertState.ackOutcome(request)).toEqual({ doneAt: null, result: null });
    fake.tick(1000);
    expect(buffer.alertState.ackOutcome(request)).toEqual({ doneAt: fake.now, result: 'ok' });
    expect(buffer.alertState.ackOutcome(missing)?.result).toBe('EDGE_ALERT_NOT_FOUND');
    expect(e.list()).toMatchObject([{ id, acknowledged: true, acknowledgedBy: 'cli:tech@gw' }]);
  });

  it('clears, at start, an alert whose rule left the configuration', () => {
    const first = engine(config([{ above: 1 }]));
    first.evaluate([reading(5)]);
    first.stop();
    published = [];
    const second = engine(config([{ above: 50 }]));
    expect(second.list()).toEqual([]);
    expect(states()).toEqual(['above-1:active', 'above-1:cleared']);
    expect(published).toEqual([{ topic: 'edge/gw-1/alerts/pump-1/flow/above-1', payload: '' }]);
  });
});
