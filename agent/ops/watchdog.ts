// Room agent/ops: the agent's face to a technician and systemd (HTTP, status, metrics, watchdog, notify, page); may import every room but commands, never agent.ts.
/**
 * Is the agent making progress? The systemd watchdog and `/health` ask the same question.
 *
 * A live event loop is not enough: a poll whose promise never settles, or a sink write that never
 * returns, leaves timers ticking while no data moves. So progress is judged on the two loops that
 * matter:
 * - the poll loop: no device's poll stays in flight longer than `pollStallMs` (a slow device is
 *   fine — its poll ends with a timeout — a poll that never ends is not);
 * - the delivery loop: each sink either has nothing to deliver, or its forwarder finished an
 *   attempt (delivered or failed) within `deliveryStallMs`. A sink that is down is progress:
 *   every failed attempt counts, so an uplink outage never restarts the agent. The limit must
 *   outlast the longest back-off wait (2 min by default) plus one write (sink timeouts ~45 s).
 *
 * Time here is monotonic (performance.now): a Pi boots without a real-time clock and NTP may jump
 * the wall clock by months, which must not look like a hung poll. What is watched is identity —
 * the same poll still in flight, the same delivery counters — from one check to the next.
 */
import { performance } from 'node:perf_hooks';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { Notifier } from './notify.js';
import type { BufferStats } from '../../buffer/types.js';
import type { ForwarderStats } from '../delivery/forwarder.js';
import type { DeviceHealth } from '../pipeline/device-runner.js';

export interface PollProgress {
  device: string;
  /** Identifies the poll in flight (changes with every poll); null when none is. */
  inFlight: string | null;
}

export interface DeliveryProgress {
  sink: string;
  /** Rows the sink has not acknowledged. */
  pending: number;
  /** Changes whenever the forwarder finishes an attempt (e.g. its sent/failed/batch counters). */
  attempts: string;
}

export interface ProgressSources {
  polls(): Iterable<PollProgress>;
  deliveries(): Iterable<DeliveryProgress>;
}

/** What the monitor reads of the agent: polls in flight, and each sink's backlog and attempts (the status room's AgentView fits). */
export interface ProgressView {
  readonly runners: ReadonlyMap<string, { readonly health: DeviceHealth }>;
  readonly forwarders: ReadonlyArray<{ readonly name: string; readonly stats: ForwarderStats }>;
  bufferStats(): BufferStats | undefined;
}

/** The agent's loops as the monitor sees them. */
export function progressOf(view: ProgressView): ProgressSources {
  return {
    *polls() {
      for (const [device, r] of view.runners) {
        const since = r.health.pollingSince;
        yield { device, inFlight: since === null ? null : `${r.health.polls}@${since}` };
      }
    },
    *deliveries() {
      const buffer = view.bufferStats();
      if (buffer === undefined) return;
      for (const f of view.forwarders) {
        const { sent, failed, batches } = f.stats;
        yield { sink: f.name, pending: buffer.sinks[f.name]?.pending ?? 0, attempts: `${sent}/${failed}/${batches}` };
      }
    },
  };
}

export interface Stall {
  loop: 'poll' | 'delivery';
  /** The device or the sink. */
  subject: string;
  /** How long it has been stuck, at least (ms). */
  forMs: number;
}

export interface Verdict {
  ok: boolean;
  stalled: Stall[];
}

export interface ProgressMonitorOptions {
  sources: ProgressSources;
  pollStallMs: number;
  deliveryStallMs: number;
  /** Monotonic milliseconds; default performance.now. */
  now?: () => number;
}

export class ProgressMonitor {
  private readonly opts: ProgressMonitorOptions;
  private readonly polls = new Map<string, { token: string; since: number }>();
  private readonly deliveries = new Map<string, { token: string; since: number }>();
  private last: Verdict = { ok: true, stalled: [] };

  constructor(opts: ProgressMonitorOptions) {
    this.opts = opts;
  }

  get limits(): { pollStallMs: number; deliveryStallMs: number } {
    return { pollStallMs: this.opts.pollStallMs, deliveryStallMs: this.opts.deliveryStallMs };
  }

  /** The verdict of the latest check, without checking again. */
  get latest(): Verdict {
    return this.last;
  }

  /** Looks at both loops now. Calling it more often only sharpens the timing. */
  check(): Verdict {
    const now = (this.opts.now ?? performance.now.bind(performance))();
    const stalled: Stall[] = [];
    const pollsSeen = new Set<string>();
    for (const p of this.opts.sources.polls()) {
      if (p.inFlight === null) continue;
      pollsSeen.add(p.device);
      const forMs = this.watch(this.polls, p.device, p.inFlight, now);
      if (forMs > this.opts.pollStallMs) stalled.push({ loop: 'poll', subject: p.device, forMs });
    }
    forgetExcept(this.polls, pollsSeen);
    const sinksSeen = new Set<string>();
    for (const d of this.opts.sources.deliveries()) {
      if (d.pending === 0) continue;
      sinksSeen.add(d.sink);
      const forMs = this.watch(this.deliveries, d.sink, d.attempts, now);
      if (forMs > this.opts.deliveryStallMs) stalled.push({ loop: 'delivery', subject: d.sink, forMs });
    }
    forgetExcept(this.deliveries, sinksSeen);
    this.last = { ok: stalled.length === 0, stalled };
    return this.last;
  }

  /** How long `key` has shown `token` (0 when it just changed). */
  private watch(seen: Map<string, { token: string; since: number }>, key: string, token: string, now: number): number {
    const s = seen.get(key);
    if (s === undefined || s.token !== token) {
      seen.set(key, { token, since: now });
      return 0;
    }
    return now - s.since;
  }
}

function forgetExcept(map: Map<string, unknown>, keep: ReadonlySet<string>): void {
  for (const key of [...map.keys()]) if (!keep.has(key)) map.delete(key);
}

/** One line for `systemctl status`, the logs and /health. */
export function describeStalls(stalled: readonly Stall[]): string {
  return stalled
    .map((s) =>
      s.loop === 'poll'
        ? `poll of ${s.subject} in flight for ${Math.round(s.forMs / 1000)} s`
        : `sink ${s.subject}: no delivery attempt for ${Math.round(s.forMs / 1000)} s with rows waiting`,
    )
    .join('; ');
}

export interface WatchdogOptions {
  monitor: ProgressMonitor;
  notifier: Notifier;
  /** systemd's WatchdogSec (ms): WATCHDOG=1 every half of it while the agent progresses. Undefined: no pings. */
  watchdogMs?: number;
  /** How often to check when there is no systemd watchdog (stalls are still logged and reported). */
  checkEveryMs?: number;
  clock: Clock;
  logger: Logger;
  /** The STATUS= line while all is well, e.g. "polling 3 devices; sinks: influx". */
  describe: () => string;
}

/**
 * Sends READY=1 once the agent runs, then on every tick checks progress: WATCHDOG=1 only when
 * both loops progress. A stall is logged as an ERROR once (systemd will kill and restart the
 * agent WatchdogSec after the last ping) and shown in STATUS= on every tick it lasts.
 */
export class Watchdog {
  private readonly opts: WatchdogOptions;
  private timer: unknown;
  private running = false;
  private stalledSince: number | null = null;
  private inFlight: Promise<void> | undefined;

  constructor(opts: WatchdogOptions) {
    this.opts = opts;
  }

  get intervalMs(): number {
    return this.opts.watchdogMs !== undefined ? Math.max(1, Math.floor(this.opts.watchdogMs / 2)) : (this.opts.checkEveryMs ?? 10_000);
  }

  /** The agent is up: READY=1, and the pings begin. */
  ready(): void {
    if (this.running) return;
    this.running = true;
    this.send({ READY: '1', STATUS: this.opts.describe() });
    this.arm();
  }

  /** The agent is stopping: no more pings, STOPPING=1. Resolves once systemd was told. */
  async stop(): Promise<void> {
    const wasRunning = this.running;
    this.running = false;
    if (this.timer !== undefined) this.opts.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (wasRunning) await this.opts.notifier.notify({ STOPPING: '1', STATUS: 'stopping' });
  }

  private arm(): void {
    this.timer = this.opts.clock.setTimeout(() => {
      if (!this.running) return;
      this.tick();
      this.arm();
    }, this.intervalMs);
  }

  private tick(): void {
    const verdict = this.opts.monitor.check();
    const log = this.opts.logger;
    if (verdict.ok) {
      if (this.stalledSince !== null) {
        log.info('watchdog: the agent is making progress again');
        this.stalledSince = null;
        this.send({ STATUS: this.opts.describe() });
      }
      if (this.opts.watchdogMs !== undefined) this.sendUnlessBusy({ WATCHDOG: '1' });
      return;
    }
    const what = describeStalls(verdict.stalled);
    if (this.stalledSince === null) {
      this.stalledSince = this.opts.clock.now();
      log.error(
        { code: 'EDGE_AGENT_STALLED', stalled: verdict.stalled, watchdog: this.opts.watchdogMs !== undefined },
        this.opts.watchdogMs !== undefined
          ? `agent is not making progress (${what}); withholding watchdog pings so systemd restarts it`
          : `agent is not making progress (${what})`,
      );
    }
    this.sendUnlessBusy({ STATUS: `not making progress: ${what}` });
  }

  private send(state: Record<string, string>): void {
    void this.opts.notifier.notify(state);
  }

  /** For what is repeated every tick: a message is a process, so never queue one behind another. */
  private sendUnlessBusy(state: Record<string, string>): void {
    if (this.inFlight !== undefined) return;
    const p = this.opts.notifier.notify(state);
    this.inFlight = p;
    void p.finally(() => {
      if (this.inFlight === p) this.inFlight = undefined;
    });
  }
}
