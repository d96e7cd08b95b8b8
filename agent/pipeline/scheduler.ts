// Room agent/pipeline: the path of a reading (schedule, poll or push, transform, clock guard, into the buffer); may import config, drivers, buffer, broker and agent/{clock,logger}.
/**
 * When each device is polled. `every` ticks on wall-clock multiples (a 10s device polls at :00,
 * :10, :20 …, so readings from many gateways line up); `cron` uses node-schedule. A device's polls
 * never overlap: a tick that arrives while the previous poll still runs is skipped and counted.
 */
import schedule from 'node-schedule';
import type { Schedule } from '../../config/types.js';
import type { Clock } from '../clock.js';

export interface PollTick {
  /** The tick's nominal time (epoch ms): what the poll was scheduled for. */
  scheduledAt: number;
  signal: AbortSignal;
}

export interface DeviceSchedulerOptions {
  schedule: Schedule;
  clock: Clock;
  poll: (tick: PollTick) => Promise<void>;
  onOverrun?: (scheduledAt: number) => void;
  onError?: (err: unknown) => void;
}

/** The next wall-clock multiple of `everyMs` strictly after `now`. */
export function nextAlignedTick(now: number, everyMs: number): number {
  return (Math.floor(now / everyMs) + 1) * everyMs;
}

export class DeviceScheduler {
  private readonly opts: DeviceSchedulerOptions;
  private timer: unknown;
  private cronJob: schedule.Job | undefined;
  private running: Promise<void> | undefined;
  private abort = new AbortController();
  private started = false;
  overruns = 0;
  polls = 0;

  constructor(opts: DeviceSchedulerOptions) {
    this.opts = opts;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.abort = new AbortController();
    const s = this.opts.schedule;
    if (s.kind === 'every') {
      this.armEvery(s.everyMs);
    } else {
      this.cronJob = schedule.scheduleJob(s.cron, (fireDate: Date) => this.tick(fireDate.getTime()));
    }
  }

  /** Stops ticking, aborts the poll in flight and waits for it to settle. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    if (this.timer !== undefined) this.opts.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.cronJob?.cancel();
    this.cronJob = undefined;
    this.abort.abort();
    await this.running;
  }

  /** Resolves when the poll in flight (if any) has finished. */
  async idle(): Promise<void> {
    await this.running;
  }

  private armEvery(everyMs: number, after?: number): void {
    const now = this.opts.clock.now();
    // Timers may fire a millisecond early: the next tick is always after the one that just fired,
    // or an early timer re-arms for the same tick and polls twice.
    const at = nextAlignedTick(Math.max(now, after ?? now), everyMs);
    this.timer = this.opts.clock.setTimeout(() => {
      if (!this.started) return;
      // Re-arm from the clock, not from `at`, so a suspended process does not fire a burst of ticks.
      this.armEvery(everyMs, at);
      this.tick(at);
    }, at - now);
  }

  private tick(scheduledAt: number): void {
    if (!this.started) return;
    if (this.running !== undefined) {
      this.overruns += 1;
      this.opts.onOverrun?.(scheduledAt);
      return;
    }
    this.polls += 1;
    const run = this.opts
      .poll({ scheduledAt, signal: this.abort.signal })
      .catch((err: unknown) => this.opts.onError?.(err))
      .finally(() => {
        this.running = undefined;
      });
    this.running = run;
  }
}
