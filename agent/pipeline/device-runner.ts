// Room agent/pipeline: the path of a reading (schedule, poll or push, transform, clock guard, into the buffer); may import config, drivers, buffer, broker and agent/{clock,logger}.
/**
 * One device: its driver, its schedule and its health. A device fault is data (bad readings),
 * never an exception that reaches the rest of the agent.
 */
import type { Point } from '../../buffer/types.js';
import type { PolledDevice } from '../../config/types.js';
import { DeviceErrors, type PolledDriver, type Reading } from '../../drivers/types.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { Pipeline } from './pipeline.js';
import { DeviceScheduler } from './scheduler.js';

export interface DeviceHealth {
  lastPollAt: number | null;
  lastSuccessAt: number | null;
  consecutiveFailures: number;
  lastError: string | null;
  lastLatencyMs: number | null;
  polls: number;
  overruns: number;
  pointsRead: number;
  pointsFailed: number;
  /**
   * When the poll in flight started (clock time); null between polls. The watchdog counts a poll
   * that stays in flight too long as a hung poll loop (agent/ops/watchdog.ts).
   */
  pollingSince: number | null;
  /** Requests the last poll sent (Modbus: after coalescing, splits included); null when the driver does not count. */
  requestsPerCycle: number | null;
}

export class DeviceRunner {
  readonly health: DeviceHealth = {
    lastPollAt: null,
    lastSuccessAt: null,
    consecutiveFailures: 0,
    lastError: null,
    lastLatencyMs: null,
    polls: 0,
    overruns: 0,
    pointsRead: 0,
    pointsFailed: 0,
    pollingSince: null,
    requestsPerCycle: null,
  };
  private readonly scheduler: DeviceScheduler;

  constructor(
    readonly device: PolledDevice,
    readonly driver: PolledDriver,
    private readonly pipeline: Pipeline,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.scheduler = new DeviceScheduler({
      schedule: device.schedule,
      clock,
      poll: async ({ signal }) => {
        await this.pollOnce(signal);
      },
      onOverrun: (at) => {
        this.health.overruns += 1;
        this.log.warn({ scheduledAt: new Date(at).toISOString(), overruns: this.health.overruns }, 'poll still running at next tick; tick skipped');
      },
      onError: (err) => this.log.error({ err }, 'poll failed unexpectedly'),
    });
  }

  async start(): Promise<void> {
    await this.driver.start();
    this.scheduler.start();
  }

  /** Stops the schedule, lets the poll in flight finish (its readings are committed), closes the driver. */
  async stop(): Promise<void> {
    await this.scheduler.stop();
    await this.driver.stop();
  }

  /** Reads every point once and stores what is reported. Also used by `run --once`. */
  async pollOnce(signal: AbortSignal, store = true): Promise<{ readings: Reading[]; points: Point[] }> {
    const started = this.clock.now();
    this.health.pollingSince = started;
    let readings: Reading[];
    try {
      readings = await this.driver.read(this.device.points, signal);
    } finally {
      this.health.pollingSince = null;
    }
    // A poll cut short by our own stop: what the device answered is kept, the points it never got
    // to are not device failures and are not stored (they would show every restart as an outage).
    if (store && signal.aborted) readings = readings.filter((r) => r.error !== DeviceErrors.aborted);
    this.noteHealth(readings, started);
    const points = store ? this.pipeline.process(this.device, readings) : [];
    return { readings, points };
  }

  private noteHealth(readings: readonly Reading[], started: number): void {
    const h = this.health;
    const now = this.clock.now();
    h.polls += 1;
    h.lastPollAt = now;
    h.lastLatencyMs = now - started;
    h.requestsPerCycle = this.driver.lastReadStats?.requests ?? null;
    const bad = readings.filter((r) => r.quality === 'bad');
    this.log.debug({ latencyMs: h.lastLatencyMs, requests: h.requestsPerCycle, points: readings.length, bad: bad.length }, 'poll done');
    h.pointsRead += readings.length - bad.length;
    h.pointsFailed += bad.length;
    if (readings.length > 0 && bad.length === readings.length) {
      const first = bad[0] as Reading;
      h.consecutiveFailures += 1;
      const changed = h.lastError !== first.error;
      h.lastError = first.error ?? 'EDGE_DEVICE_ERROR';
      // Rate-limited: the first failure, a new error, then every 10th — not one line per poll for days.
      if (h.consecutiveFailures === 1 || changed || h.consecutiveFailures % 10 === 0) {
        const lastSuccess = h.lastSuccessAt === null ? null : new Date(h.lastSuccessAt).toISOString();
        this.log.warn(
          { code: h.lastError, detail: first.detail, failures: h.consecutiveFailures, lastSuccess, latencyMs: h.lastLatencyMs, requests: h.requestsPerCycle },
          'device not answering',
        );
      }
      return;
    }
    if (h.consecutiveFailures > 0) {
      this.log.info({ afterFailures: h.consecutiveFailures, lastError: h.lastError, latencyMs: h.lastLatencyMs, requests: h.requestsPerCycle }, 'device answering again');
    }
    h.consecutiveFailures = 0;
    h.lastSuccessAt = now;
    if (bad.length > 0) {
      h.lastError = bad[0]?.error ?? null;
      this.log.debug({ bad: bad.map((r) => `${r.pointId}:${r.error}`) }, 'some points failed');
    }
  }
}
