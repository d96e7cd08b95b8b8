/**
 * The progress monitor and the watchdog that pings on it, on a fake clock. The real socket and
 * the real systemd-notify are in test/integration/systemd-notify.test.ts.
 */
import * as FakeTimers from '@sinonjs/fake-timers';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../../../agent/clock.js';
import { SystemdNotifier, systemdFromEnv, type Notifier, type NotifyState } from '../../../agent/ops/notify.js';
import { ProgressMonitor, Watchdog, type DeliveryProgress, type PollProgress } from '../../../agent/ops/watchdog.js';

function recordingLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const dest = new Writable({
    write(chunk: Buffer, _e, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, dest), lines };
}

function world() {
  const fake = FakeTimers.createClock(0);
  const clock: Clock = { now: () => fake.now, setTimeout: (fn, ms) => fake.setTimeout(fn, ms), clearTimeout: (h) => fake.clearTimeout(h as number) };
  const polls = new Map<string, PollProgress>();
  const deliveries = new Map<string, DeliveryProgress>();
  const monitor = new ProgressMonitor({
    sources: { polls: () => polls.values(), deliveries: () => deliveries.values() },
    pollStallMs: 10_000,
    deliveryStallMs: 60_000,
    now: () => fake.now,
  });
  return { fake, clock, polls, deliveries, monitor };
}

describe('ProgressMonitor', () => {
  it('counts a poll in flight past the limit as a stall, and a new poll as progress', () => {
    const { fake, polls, monitor } = world();
    polls.set('pump-1', { device: 'pump-1', inFlight: '1@100' });
    expect(monitor.check().ok).toBe(true);
    fake.tick(10_000);
    expect(monitor.check().ok).toBe(true);
    fake.tick(1);
    expect(monitor.check()).toEqual({ ok: false, stalled: [{ loop: 'poll', subject: 'pump-1', forMs: 10_001 }] });
    polls.set('pump-1', { device: 'pump-1', inFlight: '2@20000' });
    expect(monitor.check().ok).toBe(true);
    polls.set('pump-1', { device: 'pump-1', inFlight: null });
    fake.tick(60_000);
    expect(monitor.check().ok).toBe(true);
  });

  it('never counts a sink with nothing to deliver, nor one that keeps failing, as stalled', () => {
    const { fake, deliveries, monitor } = world();
    deliveries.set('influx', { sink: 'influx', pending: 0, attempts: '0/0/0' });
    fake.tick(3_600_000);
    expect(monitor.check().ok).toBe(true);
    // Down for an hour, retrying every two minutes: each failed attempt is progress.
    for (let i = 1; i <= 30; i++) {
      deliveries.set('influx', { sink: 'influx', pending: 500, attempts: `0/${i * 500}/0` });
      fake.tick(120_000);
      expect(monitor.check().ok).toBe(true);
    }
  });

  it('counts a backlog with no attempt finished within the limit as a stalled delivery loop', () => {
    const { fake, deliveries, monitor } = world();
    deliveries.set('postgres', { sink: 'postgres', pending: 10, attempts: '5/0/1' });
    expect(monitor.check().ok).toBe(true);
    fake.tick(60_001);
    expect(monitor.check().stalled).toEqual([{ loop: 'delivery', subject: 'postgres', forMs: 60_001 }]);
    deliveries.set('postgres', { sink: 'postgres', pending: 0, attempts: '15/0/2' });
    expect(monitor.check().ok).toBe(true);
  });
});

describe('Watchdog', () => {
  function setup(watchdogMs: number | undefined) {
    const w = world();
    const sent: NotifyState[] = [];
    const notifier: Notifier = { notify: (s) => (sent.push(s), Promise.resolve()) };
    const { logger, lines } = recordingLogger();
    const dog = new Watchdog({ monitor: w.monitor, notifier, watchdogMs, clock: w.clock, logger, describe: () => 'polling 1 device; no sink' });
    return { ...w, sent, lines, dog };
  }

  it('says READY=1 first, pings every WatchdogSec/2 while polls progress, withholds pings while one hangs, and says STOPPING=1', async () => {
    const { fake, polls, sent, lines, dog } = setup(30_000);
    dog.ready();
    expect(sent).toEqual([{ READY: '1', STATUS: 'polling 1 device; no sink' }]);
    await fake.tickAsync(15_000);
    await fake.tickAsync(15_000);
    expect(sent.slice(1)).toEqual([{ WATCHDOG: '1' }, { WATCHDOG: '1' }]);

    // A poll that never ends: stalled once it has been in flight for pollStallMs (10 s).
    sent.length = 0;
    polls.set('pump-1', { device: 'pump-1', inFlight: '9@30000' });
    await fake.tickAsync(15_000); // first seen: not yet a stall → ping
    await fake.tickAsync(15_000); // 15 s in flight → stalled
    await fake.tickAsync(15_000);
    expect(sent).toEqual([{ WATCHDOG: '1' }, { STATUS: 'not making progress: poll of pump-1 in flight for 15 s' }, { STATUS: 'not making progress: poll of pump-1 in flight for 30 s' }]);
    expect(lines.filter((l) => l.code === 'EDGE_AGENT_STALLED')).toHaveLength(1);

    // The poll ends: pings resume, the status says so.
    sent.length = 0;
    polls.set('pump-1', { device: 'pump-1', inFlight: null });
    await fake.tickAsync(15_000);
    expect(sent).toEqual([{ STATUS: 'polling 1 device; no sink' }, { WATCHDOG: '1' }]);

    sent.length = 0;
    await dog.stop();
    await fake.tickAsync(60_000);
    expect(sent).toEqual([{ STOPPING: '1', STATUS: 'stopping' }]);
  });

  it('without a systemd watchdog still checks, logs stalls and keeps STATUS, but never pings', async () => {
    const { fake, polls, sent, lines, dog } = setup(undefined);
    dog.ready();
    polls.set('pump-1', { device: 'pump-1', inFlight: '1@0' });
    await fake.tickAsync(30_000);
    expect(sent.some((s) => s.WATCHDOG !== undefined)).toBe(false);
    expect(lines.some((l) => l.code === 'EDGE_AGENT_STALLED')).toBe(true);
    await dog.stop();
  });
});

describe('systemd environment', () => {
  const { logger } = recordingLogger();

  it('is absent without NOTIFY_SOCKET, and reads WatchdogSec from WATCHDOG_USEC for our pid only', () => {
    expect(systemdFromEnv({}, 42, logger)).toBeUndefined();
    expect(systemdFromEnv({ NOTIFY_SOCKET: '/run/systemd/notify' }, 42, logger)?.watchdogMs).toBeUndefined();
    expect(systemdFromEnv({ NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '60000000' }, 42, logger)?.watchdogMs).toBe(60_000);
    expect(systemdFromEnv({ NOTIFY_SOCKET: '@sd', WATCHDOG_USEC: '60000000', WATCHDOG_PID: '42' }, 42, logger)?.watchdogMs).toBe(60_000);
    expect(systemdFromEnv({ NOTIFY_SOCKET: '@sd', WATCHDOG_USEC: '60000000', WATCHDOG_PID: '7' }, 42, logger)?.watchdogMs).toBeUndefined();
    expect(systemdFromEnv({ NOTIFY_SOCKET: '@sd', WATCHDOG_USEC: 'soon' }, 42, logger)?.watchdogMs).toBeUndefined();
  });

  it('logs a missing systemd-notify as an error with a stable code, and never rejects', async () => {
    const { logger: l, lines } = recordingLogger();
    const n = new SystemdNotifier({ socket: '/nonexistent/notify', pid: process.pid, logger: l, command: '/nonexistent/systemd-notify' });
    await n.notify({ READY: '1' });
    await n.notify({ WATCHDOG: '1' });
    const errors = lines.filter((x) => x.code === 'EDGE_NOTIFY_FAILED');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.msg).toMatch(/systemd-notify is not installed/);
  });
});
