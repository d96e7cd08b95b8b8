/**
 * What the Modbus TCP and RTU drivers share: one poll at a time per device, a read that never
 * rejects, the read cycle (plan, coalesced requests, split on illegal-address exceptions, cuts
 * remembered across polls), back-off bookkeeping, and exception responses logged once per request
 * rather than every poll. Each transport says only how requests reach the device (`sendRequests`).
 */
import type { ModbusDevice, ModbusPoint, ResolvedPoint } from '../../config/types.js';
import type { PolledDriver, Reading, WritableDriver, WriteOrder, WriteResult } from '../types.js';
import { ReconnectBackoff, type BackoffOptions } from './backoff.js';
import { CutMemory, modbusPoints } from './cut-memory.js';
import { silentLogger, systemClock, type DriverClock, type DriverLogger } from './deps.js';
import { ModbusErrors } from './errors.js';
import type { ReadRequest } from './plan.js';
import { badReading, linkSignals, PlanCache, ReadCycle, requestKey, type ReadStats } from './read-cycle.js';

/** The fault behind a back-off, as the readings' detail tells it. */
interface Fault {
  code: string;
  detail: string;
}

export abstract class ModbusDriverBase<D extends ModbusDevice, F extends Fault> implements PolledDriver, WritableDriver<ModbusPoint> {
  protected readonly device: D;
  protected readonly clock: DriverClock;
  protected readonly log: DriverLogger;
  protected readonly backoff: ReconnectBackoff;
  /** Where plans must split, learned from illegal-address exceptions. */
  private readonly cuts: CutMemory;
  private readonly plans = new PlanCache();
  /** Epoch ms before which the device is not asked again. */
  protected retryAt = 0;
  /** The fault behind the current back-off, for the readings' detail. */
  protected lastFault: F | undefined;
  protected stopped = false;
  protected stopping: Promise<void> = Promise.resolve();
  protected lifetime = new AbortController();
  /** The poll in flight (and start/stop work): polls are queued, never interleaved. */
  protected queue: Promise<unknown> = Promise.resolve();
  private started = false;
  /** Exception code last logged per request, so a misconfigured point warns once, not every poll. */
  private readonly loggedExceptions = new Map<string, string>();
  private stats: ReadStats | undefined;

  constructor(opts: { device: D; clock?: DriverClock | undefined; logger?: DriverLogger | undefined; backoff?: BackoffOptions | undefined }) {
    this.device = opts.device;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentLogger;
    this.backoff = new ReconnectBackoff(opts.backoff);
    this.cuts = new CutMemory(this.log);
  }

  abstract start(): Promise<void>;
  abstract stop(): Promise<void>;

  /** Requests the last read took (device health). */
  get lastReadStats(): ReadStats | undefined {
    return this.stats;
  }

  read(points: readonly ResolvedPoint[], signal: AbortSignal): Promise<Reading[]> {
    // Belt and braces: `read` must never reject, whatever goes wrong inside.
    return this.exclusive(() => this.readNow(points, signal)).catch((err: unknown) => {
      this.log.error({ err }, 'modbus read failed unexpectedly');
      const now = this.clock.now();
      return points.map((p) => badReading(p, now, ModbusErrors.protocol, String(err)));
    });
  }

  /**
   * Writes one point: queued behind the poll in flight like another poll, never interleaved with
   * one. Never rejects; a fault is the result's code. Nothing here knows who asked.
   */
  write(order: WriteOrder<ModbusPoint>, signal: AbortSignal): Promise<WriteResult> {
    return this.exclusive(async () => {
      const { signal: linked, release } = linkSignals(signal, this.lifetime.signal);
      try {
        return await this.writeNow(order, linked);
      } finally {
        release();
      }
    }).catch((err: unknown): WriteResult => {
      this.log.error({ err }, 'modbus write failed unexpectedly');
      return { status: 'failed', code: ModbusErrors.protocol, detail: String(err), sent: false };
    });
  }

  /** Runs write-cycle.ts's runWrite over the transport, inside the driver's queue. */
  protected abstract writeNow(order: WriteOrder<ModbusPoint>, signal: AbortSignal): Promise<WriteResult>;

  /** Sends the cycle's requests (cycle.next() until done), marking each answer or fault. */
  protected abstract sendRequests(cycle: ReadCycle, signal: AbortSignal): Promise<void>;

  /** False when already started (start is idempotent); else resets the lifetime for a new run. */
  protected beginStart(): boolean {
    if (this.started && !this.stopped) return false;
    this.started = true;
    this.stopped = false;
    this.lifetime = new AbortController();
    return true;
  }

  /** False when already stopped; else aborts the lifetime (a read in flight ends at once). */
  protected beginStop(): boolean {
    if (this.stopped) return false;
    this.stopped = true;
    this.lifetime.abort();
    return true;
  }

  protected exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Why nothing may be sent now, if anything: stopped, aborted, or backed off. */
  protected gateReason(signal: AbortSignal): { stopped: string } | { aborted: string } | { waitMs: number } | undefined {
    if (this.stopped) return { stopped: 'driver stopped' };
    if (signal.aborted) return { aborted: 'aborted before the poll started' };
    const wait = this.retryAt - this.clock.now();
    return wait > 0 ? { waitMs: wait } : undefined;
  }

  /** ` after CODE: detail` of the fault behind the back-off, or ''. */
  protected backoffCause(): string {
    return this.lastFault ? ` after ${this.lastFault.code}: ${this.lastFault.detail}` : '';
  }

  /** Backs off after `f`; returns the delay and whether it is the first failure or a new kind. */
  protected backOff(f: F): { delay: number; firstOrNew: boolean } {
    const delay = this.backoff.next();
    this.retryAt = this.clock.now() + delay;
    const firstOrNew = this.backoff.failures === 1 || this.lastFault?.code !== f.code;
    this.lastFault = f;
    return { delay, firstOrNew };
  }

  /** A request was answered: the device is alive, and the request's exception (if any) is over. */
  protected onAnswer(request: ReadRequest, fields: Record<string, unknown> = {}): void {
    this.loggedExceptions.delete(requestKey(request));
    this.noteAlive(fields);
  }

  /** Any answer (even an exception response) proves the device and the link are alive. */
  protected noteAlive(fields: Record<string, unknown> = {}): void {
    if (this.backoff.failures > 0) {
      this.log.info({ failures: this.backoff.failures, lastCode: this.lastFault?.code, ...fields }, 'modbus device answering again');
    }
    this.backoff.reset();
    this.lastFault = undefined;
    this.retryAt = 0;
  }

  protected onException(request: ReadRequest, f: Fault): void {
    const key = requestKey(request);
    if (this.loggedExceptions.get(key) === f.code) return;
    this.loggedExceptions.set(key, f.code);
    this.log.warn({ code: f.code, detail: f.detail, request: key, points: request.points.map((p) => p.point.id) }, 'modbus exception response');
  }

  private async readNow(points: readonly ResolvedPoint[], callerSignal: AbortSignal): Promise<Reading[]> {
    const cycle = new ReadCycle(modbusPoints(points), { maxGap: this.device.maxGap, coalesce: this.device.coalesce, cuts: this.cuts.keys }, this.clock, this.plans);
    // Linked by hand rather than AbortSignal.any: the lifetime signal outlives millions of
    // polls, and listeners must not pile up on it.
    const { signal, release } = linkSignals(callerSignal, this.lifetime.signal);
    try {
      if (cycle.remaining > 0) await this.sendRequests(cycle, signal);
    } finally {
      release();
    }
    this.cuts.learn(cycle.learnedCuts());
    this.stats = cycle.stats;
    return cycle.finish();
  }
}
