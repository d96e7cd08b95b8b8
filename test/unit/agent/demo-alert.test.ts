/**
 * The built-in demo's alert rule against the well-pump model it polls: on the demo's 2 s poll,
 * the flow alert is raised and cleared within a couple of minutes, so `npm start` shows both.
 * Fake timers drive the alert delays; the model is deterministic for a given start and poll.
 */
import * as FakeTimers from '@sinonjs/fake-timers';
import { pino } from 'pino';
import { expect, it } from 'vitest';
import { AlertEngine } from '../../../agent/alerts/engine.js';
import { demoConfigPath } from '../../../agent/cli.js';
import type { Clock } from '../../../agent/clock.js';
import { formatAlert } from '../../../agent/commands/print.js';
import type { AlertRecord } from '../../../buffer/types.js';
import { loadConfig } from '../../../config/index.js';
import { WellPumpModel } from '../../../drivers/modbus/well-pump-model.js';

it('raises and clears the demo flow alert within two and a half minutes of polling the simulated pump', () => {
  const config = loadConfig({ file: demoConfigPath(), env: {} });
  const device = config.devices[0];
  const flow = device?.points.find((p) => p.id === 'flow');
  expect(device?.schedule).toEqual({ kind: 'every', everyMs: 2000 });
  const t0 = Date.UTC(2026, 2, 1, 9, 0, 0);
  const fake = FakeTimers.createClock(t0);
  const clock: Clock = { now: () => fake.now, setTimeout: (fn, ms) => fake.setTimeout(fn, ms), clearTimeout: (h) => fake.clearTimeout(h as FakeTimers.TimerId) };
  const engine = new AlertEngine({ config, clock, logger: pino({ level: 'silent' }) });
  const events: AlertRecord[] = [];
  engine.onChange((_a, record) => events.push(record));
  engine.start(undefined);
  const model = new WellPumpModel(t0);
  try {
    while (fake.now < t0 + 150_000 && !events.some((e) => e.state === 'cleared')) {
      fake.tick(2000);
      const value = Math.round(model.advance(fake.now).flow * 100) / 100;
      engine.evaluate([{ deviceId: 'pump-1', pointId: 'flow', measurement: 'pump', tags: flow?.tags ?? {}, value, ts: fake.now, quality: 'good' }]);
    }
  } finally {
    engine.stop();
  }
  expect(events.map((e) => e.state)).toEqual(['active', 'cleared']);
  expect(formatAlert(events[0] as AlertRecord)).toMatch(/ALERT raised {2}pump-1\/flow\/flow-high {2}warning {2}flow 36\.\d+ m3\/h/);
  expect(formatAlert(events[1] as AlertRecord)).toMatch(/ALERT cleared {2}pump-1\/flow\/flow-high/);
});
