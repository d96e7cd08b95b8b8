/**
 * Drains the buffer into one sink, at that sink's pace. One forwarder per sink, so a sink that is
 * down never slows the other one or the polls. A batch leaves the buffer only when the sink
 * acknowledged it (at-least-once; the sinks' writes are idempotent, so no duplicates).
 */
import type { BufferedPoint } from '../buffer/types.js';
import { SinkError, type Sink } from '../sinks/types.js';
import { Backoff } from './backoff.js';
import { sleep, type Clock } from './clock.js';
import type { Logger } from './logger.js';

/** What a forwarder needs of the buffer. */
export interface Outbox {
  read(sink: string, limit: number): BufferedPoint[];
  ack(sink: string, uptoSeq: number): void;
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
}

export interface ForwarderStats {
  sent: number;
  failed: number;
  batches: number;
  lastDeliveryAt: number | null;
  lastError: { code: string; message: string; at: number } | null;
  consecutiveFailures: number;
}

export class Forwarder {
  readonly stats: ForwarderStats = { sent: 0, failed: 0, batches: 0, lastDeliveryAt: null, lastError: null, consecutiveFailures: 0 };
  private readonly opts: ForwarderOptions;
  private readonly backoff: Backoff;
  private batchSize: number;
  private loop: Promise<void> | undefined;
  private stopping = new AbortController();
  private draining = false;
  private waker: AbortController | undefined;

  constructor(opts: ForwarderOptions) {
    this.opts = opts;
    this.batchSize = opts.batchSize ?? 5000;
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
    this.waker?.abort();
  }

  /**
   * Drains what is buffered for up to `graceMs` (stopping at the first failure: no back-off
   * waits during shutdown), then stops. A write cut off by the deadline is simply not
   * acknowledged: its rows stay in the buffer for the next start.
   */
  async stop(graceMs = 5000): Promise<void> {
    if (this.loop === undefined) return;
    this.draining = true;
    this.waker?.abort();
    const loop = this.loop;
    this.loop = undefined;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([loop, deadline]);
    clearTimeout(timer);
    this.stopping.abort();
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
      // Shutting down: go on only while there is a backlog and the sink takes it.
      if (this.draining && next.delay > 0) break;
      if (next.delay > 0) await this.wait(next.delay, next.wakeable);
    }
  }

  private get idle(): Next {
    return { delay: this.opts.idleMs ?? 1000, wakeable: true };
  }

  /** One read → write → ack. Returns how long to wait before the next step. */
  private async step(): Promise<Next> {
    const batch = this.opts.outbox.read(this.name, this.batchSize);
    if (batch.length === 0) return this.idle;
    const last = batch[batch.length - 1] as BufferedPoint;
    try {
      await this.opts.sink.write(batch);
    } catch (err) {
      return this.onFailure(err, batch.length);
    }
    this.opts.outbox.ack(this.name, last.seq);
    this.stats.sent += batch.length;
    this.stats.batches += 1;
    this.stats.lastDeliveryAt = this.opts.clock.now();
    if (this.stats.consecutiveFailures > 0) {
      this.opts.logger.info({ sink: this.name, afterFailures: this.stats.consecutiveFailures }, 'sink delivering again');
    }
    this.stats.consecutiveFailures = 0;
    this.backoff.reset();
    // A full batch means a backlog: go on at once. A short one means we are caught up.
    return batch.length >= this.batchSize ? { delay: 0, wakeable: false } : this.idle;
  }

  private onFailure(err: unknown, size: number): Next {
    const e = err instanceof SinkError ? err : new SinkError(String((err as Error)?.message ?? err), { kind: 'network', cause: err });
    this.stats.failed += size;
    this.stats.consecutiveFailures += 1;
    this.stats.lastError = { code: e.code, message: e.message, at: this.opts.clock.now() };
    if (e.kind === 'too-large' && this.batchSize > 1) {
      // The sink refuses the batch size, not the data: retry at once with smaller batches.
      this.batchSize = Math.max(1, Math.floor(this.batchSize / 2));
      this.opts.logger.warn({ sink: this.name, code: e.code, batchSize: this.batchSize }, 'sink rejected batch as too large; splitting');
      return { delay: 0, wakeable: false };
    }
    const delay = Math.max(this.backoff.next(), e.retryAfterMs ?? 0);
    // WARN: the data is kept and will be retried. Invalid data is an ERROR: an operator must look.
    const level = e.retryable ? 'warn' : 'error';
    if (this.stats.consecutiveFailures === 1 || this.stats.consecutiveFailures % 10 === 0 || level === 'error') {
      this.opts.logger[level](
        { sink: this.name, code: e.code, kind: e.kind, retryInMs: delay, failures: this.stats.consecutiveFailures, err: e.message },
        e.retryable ? 'sink write failed; batch kept, retrying' : 'sink rejected batch as invalid; batch kept, retrying',
      );
    }
    return { delay, wakeable: false };
  }

  private async wait(ms: number, wakeable: boolean): Promise<void> {
    const ctl = new AbortController();
    if (wakeable) this.waker = ctl;
    const onStop = () => ctl.abort();
    this.stopping.signal.addEventListener('abort', onStop, { once: true });
    await sleep(this.opts.clock, ms, ctl.signal);
    this.stopping.signal.removeEventListener('abort', onStop);
    if (this.waker === ctl) this.waker = undefined;
  }
}
