// Room agent/delivery: forwarding buffered points to the sinks (forwarders, sink wiring, counters, back-off); may import sinks, buffer, config, agent/pipeline and agent/{clock,logger}.
/**
 * Drains the buffer into one sink, at that sink's pace. One forwarder per sink, so a sink that is
 * down never slows the other one or the polls. A batch leaves the buffer only when the sink
 * acknowledged it (at-least-once; the sinks' writes are idempotent, so no duplicates).
 *
 * Error classes (DESIGN.md): network/5xx/408/429 keep the batch and back off; 413 halves the batch
 * size; invalid data is bisected down to the rejected points, which become dead letters while the
 * rest is delivered — one bad point never blocks the queue nor drags 4999 good ones with it.
 */
import type { BufferedPoint, DeadLetterInput } from '../../buffer/types.js';
import { SinkError, type Sink } from '../../sinks/types.js';
import { Backoff } from './backoff.js';
import { sleep, type Clock } from '../clock.js';
import type { Logger } from '../logger.js';

/** What a forwarder needs of the buffer. */
export interface Outbox {
  /** Oldest first: replayed dead letters (alone in their batch), then the sink's queue. */
  read(sink: string, limit: number): BufferedPoint[];
  /** `delivered` and `dead` together are a prefix of what read returned, in order. */
  settle(sink: string, delivered: readonly BufferedPoint[], dead?: readonly DeadLetterInput[]): void;
}

export interface ForwarderOptions {
  sink: Sink;
  outbox: Outbox;
  clock: Clock;
  logger: Logger;
  batchSize?: number;
  /** How long to wait for new rows when the outbox is empty, if nobody calls wake(). */
  idleMs?: number;
  backoff?: { initialMs: number; maxMs: number };
  random?: () => number;
}

interface Next {
  delay: number;
  /** Idle waits end early when rows arrive; back-off waits do not. */
  wakeable: boolean;
  /** Caught up as of the read, but rows may have been committed since: read again before stopping. */
  recheck?: boolean;
}

export interface ForwarderStats {
  /** Points the sink accepted. */
  sent: number;
  /** Points in write attempts that failed (a batch retried three times counts three times). */
  failed: number;
  /** Points the sink rejected as invalid, now dead letters. */
  deadLettered: number;
  /** Successful writes. */
  batches: number;
  /** The batch size in force (halved by 413, grown back after successes). */
  batchSize: number;
  lastDeliveryAt: number | null;
  /** `fix` is set for configuration-class failures (auth, config): what an operator must change. */
  lastError: { code: string; message: string; at: number; fix?: string } | null;
  consecutiveFailures: number;
}

export class Forwarder {
  readonly stats: ForwarderStats;
  private readonly opts: ForwarderOptions;
  private readonly backoff: Backoff;
  private readonly maxBatchSize: number;
  /** Successful writes since the batch size was last halved. */
  private sinceShrink = 0;
  private deadLogged = 0;
  private loop: Promise<void> | undefined;
  private stopping = new AbortController();
  private draining = false;
  /** Ends the current wakeable wait early (wake, stop). */
  private waker: (() => void) | undefined;
  /** Ends the current wait, wakeable or not (stop). */
  private ender: (() => void) | undefined;

  constructor(opts: ForwarderOptions) {
    this.opts = opts;
    this.maxBatchSize = opts.batchSize ?? 5000;
    this.stats = { sent: 0, failed: 0, deadLettered: 0, batches: 0, batchSize: this.maxBatchSize, lastDeliveryAt: null, lastError: null, consecutiveFailures: 0 };
    this.backoff = new Backoff({ ...(opts.backoff ?? { initialMs: 1000, maxMs: 120_000 }), ...(opts.random ? { random: opts.random } : {}) });
  }

  get name(): string {
    return this.opts.sink.name;
  }

  start(): void {
    if (this.loop !== undefined) return;
    this.stopping = new AbortController();
    this.loop = this.run();
  }

  /** New rows were appended: skip the idle wait (not a back-off wait). */
  wake(): void {
    this.waker?.();
  }

  /**
   * Drains what is buffered for up to `graceMs` (stopping at the first failure: no back-off
   * waits during shutdown), then stops. A write cut off by the deadline is simply not
   * acknowledged: its rows stay in the buffer for the next start.
   */
  async stop(graceMs = 5000): Promise<void> {
    if (this.loop === undefined) return;
    this.draining = true;
    this.waker?.();
    const loop = this.loop;
    this.loop = undefined;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([loop, deadline]);
    clearTimeout(timer);
    this.stopping.abort();
    this.ender?.();
    this.draining = false;
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      let next: Next = { delay: 0, wakeable: false };
      try {
        next = await this.step();
      } catch (err) {
        // A bug in our own code (not a sink failure): log and slow down rather than spin.
        this.opts.logger.error({ err }, 'forwarder step failed unexpectedly');
        next = { delay: this.backoff.next(), wakeable: false };
      }
      if (signal.aborted) break;
      // Shutting down: go on while the sink takes what is buffered. A short batch is not proof of
      // an empty outbox here: the last poll may have committed while that batch was being
      // written, so only an empty read (or a failure) ends the drain.
      if (this.draining && next.delay > 0) {
        if (!next.recheck) break;
        continue;
      }
      if (next.delay > 0) await this.wait(next.delay, next.wakeable);
      // Draining a backlog: let pending I/O (poll answers, the other sink) run before the next
      // batch is read and encoded, or catch-up starves the polls (bench/: poll_slip_ms_p99).
      else await sleep(this.opts.clock, 0);
    }
  }

  private get idle(): Next {
    return { delay: this.opts.idleMs ?? 1000, wakeable: true };
  }

  /** One read → write → settle. Returns how long to wait before the next step. */
  private async step(): Promise<Next> {
    const size = this.stats.batchSize;
    const batch = this.opts.outbox.read(this.name, size);
    if (batch.length === 0) return this.idle;
    const failure = await this.deliver(batch);
    if (failure !== undefined) return failure;
    // A full batch means a backlog: go on at once. A short one means we are caught up.
    return batch.length >= size ? { delay: 0, wakeable: false } : { ...this.idle, recheck: true };
  }

  /**
   * Writes `points` and settles them. On invalid data, splits in halves and goes on left to
   * right, settling as it goes, so whatever was delivered stays delivered if a later half fails.
   * Returns undefined when everything was delivered or dead-lettered, else the wait before the
   * next step (the unsettled rest is read again then).
   */
  private async deliver(points: BufferedPoint[]): Promise<Next | undefined> {
    let err: SinkError;
    try {
      await this.opts.sink.write(points);
      this.delivered(points);
      return undefined;
    } catch (e) {
      err = e instanceof SinkError ? e : new SinkError(String((e as Error)?.message ?? e), { kind: 'network', cause: e });
    }
    this.stats.failed += points.length;
    this.stats.lastError = { code: err.code, message: err.message, at: this.opts.clock.now(), ...(err.fix === undefined ? {} : { fix: err.fix }) };
    if (err.kind === 'invalid' || (err.kind === 'too-large' && points.length === 1)) {
      if (points.length === 1) {
        this.deadLetter(points[0] as BufferedPoint, err);
        return undefined;
      }
      const half = Math.ceil(points.length / 2);
      return (await this.deliver(points.slice(0, half))) ?? (await this.deliver(points.slice(half)));
    }
    this.stats.consecutiveFailures += 1;
    if (err.kind === 'too-large') {
      // The sink refuses the batch size, not the data: retry at once with smaller batches.
      this.stats.batchSize = Math.max(1, Math.min(this.stats.batchSize, Math.floor(points.length / 2)));
      this.sinceShrink = 0;
      this.opts.logger.warn({ sink: this.name, code: err.code, batchSize: this.stats.batchSize }, 'sink rejected batch as too large; splitting');
      return { delay: 0, wakeable: false };
    }
    const delay = Math.max(this.backoff.next(), err.retryAfterMs ?? 0);
    const logNow = this.stats.consecutiveFailures === 1 || this.stats.consecutiveFailures % 10 === 0;
    if (err.needsOperator) {
      // ERROR: the data is kept and retried with the capped back-off (the fix may be made centrally),
      // but nothing gets better until someone changes a setting.
      if (logNow) {
        this.opts.logger.error(
          { sink: this.name, code: err.code, kind: err.kind, fix: err.fix, retryInMs: delay, failures: this.stats.consecutiveFailures, err: err.message },
          `sink refuses the agent's configuration; batch kept, retrying${err.fix === undefined ? '' : `; fix: ${err.fix}`}`,
        );
      }
      return { delay, wakeable: false };
    }
    // WARN: the data is kept and will be retried.
    if (logNow) {
      this.opts.logger.warn(
        { sink: this.name, code: err.code, kind: err.kind, retryInMs: delay, failures: this.stats.consecutiveFailures, err: err.message },
        'sink write failed; batch kept, retrying',
      );
    }
    return { delay, wakeable: false };
  }

  private delivered(points: BufferedPoint[]): void {
    this.opts.outbox.settle(this.name, points);
    this.stats.sent += points.length;
    this.stats.batches += 1;
    this.stats.lastDeliveryAt = this.opts.clock.now();
    if (this.stats.consecutiveFailures > 0) {
      this.opts.logger.info({ sink: this.name, afterFailures: this.stats.consecutiveFailures }, 'sink delivering again');
    }
    this.stats.consecutiveFailures = 0;
    this.backoff.reset();
    // After a 413, grow back step by step: the limit may have been one huge batch, or a proxy since fixed.
    if (this.stats.batchSize < this.maxBatchSize && ++this.sinceShrink >= 20) {
      this.stats.batchSize = Math.min(this.maxBatchSize, this.stats.batchSize * 2);
      this.sinceShrink = 0;
    }
  }

  private deadLetter(point: BufferedPoint, err: SinkError): void {
    this.opts.outbox.settle(this.name, [], [{ point, code: err.code, message: err.message }]);
    this.stats.deadLettered += 1;
    // ERROR: data an operator must look at. Rate-limited: a flood of bad points logs the first ones and then every 100th.
    this.deadLogged += 1;
    if (this.deadLogged <= 5 || this.deadLogged % 100 === 0) {
      this.opts.logger.error(
        {
          sink: this.name,
          code: err.code,
          device: point.deviceId,
          point: point.pointId,
          ts: point.ts,
          seq: point.seq,
          deadLettered: this.stats.deadLettered,
          err: err.message,
        },
        'sink rejected a point as invalid; moved to dead letters (see edge-agent buffer dead-letters)',
      );
    }
  }

  /**
   * Waits `ms`, or less when stopped (or woken, if `wakeable`). A plain timer and resolver rather
   * than an AbortController per wait: the forwarder waits after every batch, and aborting a
   * controller builds a DOMException with a stack trace (GC and CPU on every commit).
   */
  private wait(ms: number, wakeable: boolean): Promise<void> {
    const clock = this.opts.clock;
    return new Promise<void>((resolve) => {
      const end = (): void => {
        clock.clearTimeout(handle);
        if (this.waker === end) this.waker = undefined;
        if (this.ender === end) this.ender = undefined;
        resolve();
      };
      const handle = clock.setTimeout(end, ms);
      if (wakeable) this.waker = end;
      this.ender = end;
    });
  }
}
