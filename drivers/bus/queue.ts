/**
 * The queue in front of a shared physical link (an RS-485 pair, a serial device server): one job
 * at a time, a bounded number waiting, and two priorities.
 *
 * - **One in flight.** A half-duplex bus carries one request and its answer at a time.
 * - **Bounded.** When `maxWaiting` jobs already wait, a new one is refused at once
 *   (QueueFullError) rather than queued: a bus that cannot keep up must say so, not build a
 *   backlog of stale requests and memory.
 * - **Priorities.** `low` jobs go only when no `normal` job waits. A bus gives `low` to slaves
 *   that recently failed to answer, so probing a dead slave never holds up a healthy one that is
 *   already waiting (it can still delay one that arrives while the probe is in flight, by at most
 *   that probe's timeout).
 * - **Abortable while waiting.** A job whose signal fires before it started leaves the queue.
 *
 * Generic on purpose: it knows nothing of Modbus, so any driver that shares a line can use it.
 */
export type Priority = 'normal' | 'low';

export class QueueFullError extends Error {
  override name = 'QueueFullError';
}

/** The signal fired while the job waited; it never ran. */
export class QueueAbortedError extends Error {
  override name = 'QueueAbortedError';
}

/** The queue was closed while the job waited; it never ran. */
export class QueueClosedError extends Error {
  override name = 'QueueClosedError';
}

interface Entry {
  start(): void;
  fail(err: Error): void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

export interface BusQueueStats {
  /** Jobs run (started) so far. */
  run: number;
  /** Jobs refused because the queue was full. */
  refused: number;
  /** Jobs that left the queue because their signal fired. */
  abandoned: number;
  /** The most that ever waited at once. */
  maxSeen: number;
}

export class BusQueue {
  private readonly waiting: Record<Priority, Entry[]> = { normal: [], low: [] };
  private busy = false;
  private closedWith: Error | undefined;
  readonly stats: BusQueueStats = { run: 0, refused: 0, abandoned: 0, maxSeen: 0 };

  constructor(readonly maxWaiting: number) {
    if (!Number.isInteger(maxWaiting) || maxWaiting < 0) throw new RangeError(`maxWaiting must be a non-negative integer, got ${maxWaiting}`);
  }

  /** Jobs waiting (not counting the one running). */
  get pending(): number {
    return this.waiting.normal.length + this.waiting.low.length;
  }

  get running(): boolean {
    return this.busy;
  }

  /**
   * Runs `job` when the link is free. Rejects with QueueFullError (refused), QueueAbortedError
   * (signal fired while waiting) or QueueClosedError, or with whatever the job rejects with.
   */
  run<T>(job: () => Promise<T>, opts: { priority?: Priority; signal?: AbortSignal } = {}): Promise<T> {
    if (this.closedWith !== undefined) return Promise.reject(this.closedWith);
    if (opts.signal?.aborted) return Promise.reject(new QueueAbortedError('aborted before it was queued'));
    if (!this.busy && this.pending === 0) return this.execute(job);
    if (this.pending >= this.maxWaiting) {
      this.stats.refused += 1;
      return Promise.reject(new QueueFullError(`${this.pending} requests already wait for the bus (the most it holds)`));
    }
    return new Promise<T>((resolve, reject) => {
      const list = this.waiting[opts.priority ?? 'normal'];
      const entry: Entry = {
        start: () => {
          entry.signal?.removeEventListener('abort', entry.onAbort);
          this.execute(job).then(resolve, reject);
        },
        fail: (err) => {
          entry.signal?.removeEventListener('abort', entry.onAbort);
          reject(err);
        },
        signal: opts.signal,
        onAbort: () => {
          const i = list.indexOf(entry);
          if (i < 0) return;
          list.splice(i, 1);
          this.stats.abandoned += 1;
          entry.fail(new QueueAbortedError('aborted while waiting for the bus'));
        },
      };
      opts.signal?.addEventListener('abort', entry.onAbort, { once: true });
      list.push(entry);
      this.stats.maxSeen = Math.max(this.stats.maxSeen, this.pending);
    });
  }

  /** Refuses new jobs and fails the waiting ones; the running one is the owner's to abort. */
  close(reason: Error = new QueueClosedError('the bus was closed')): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = reason;
    for (const list of [this.waiting.normal, this.waiting.low]) {
      for (const entry of list.splice(0)) entry.fail(reason);
    }
  }

  private execute<T>(job: () => Promise<T>): Promise<T> {
    this.busy = true;
    this.stats.run += 1;
    let result: Promise<T>;
    try {
      result = job();
    } catch (err) {
      result = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    // The next job starts only after this one settled, whatever the outcome.
    return result.finally(() => {
      this.busy = false;
      this.next();
    });
  }

  private next(): void {
    if (this.busy) return;
    const entry = this.waiting.normal.shift() ?? this.waiting.low.shift();
    entry?.start();
  }
}
