/**
 * The Modbus RTU driver: one instance per device (one slave), sending through the bus its link
 * shares with the other slaves (bus.ts). `protocol: rtu` is a serial port, `protocol:
 * rtu-over-tcp` a TCP socket to a serial device server; both are the same RTU frames.
 *
 * A slave that does not answer costs its own timeout once per poll at most: the requests after
 * the silent one are not sent, and the slave is then skipped (EDGE_DEVICE_BACKOFF, nothing on the
 * wire) for a growing while, 0.5-1 s doubling up to 30-60 s. When its time comes, its retry
 * waits behind the healthy slaves' requests (low priority on the bus). Any answer, even an
 * exception, ends the back-off.
 */
import type { ModbusDevice, ResolvedPoint } from '../../config/types.js';
import type { PolledDriver, Reading } from '../types.js';
import { ReconnectBackoff, type BackoffOptions } from './backoff.js';
import type { BusLease, ModbusBusRegistry, RtuConnection } from './bus-registry.js';
import { CutMemory, modbusPoints } from './cut-memory.js';
import { silentLogger, systemClock, type DriverClock, type DriverLogger } from './deps.js';
import { classifyBusError, ModbusErrors, type BusFault } from './errors.js';
import type { ReadRequest } from './plan.js';
import { abortedFault, badReading, linkSignals, notSentAfter, ReadCycle, requestKey, type ReadStats } from './read-cycle.js';

export type ModbusRtuDevice = ModbusDevice & { connection: RtuConnection };

export interface ModbusRtuDriverOptions {
  device: ModbusRtuDevice;
  /** Where the device's bus comes from: devices on one link must get one registry. */
  buses: ModbusBusRegistry;
  clock?: DriverClock;
  /** A child logger already bound to the device. */
  logger?: DriverLogger;
  /** How long a silent slave is skipped: default 1 s doubling to 60 s, with jitter. */
  backoff?: BackoffOptions;
}

export function isRtuDevice(device: ModbusDevice): device is ModbusRtuDevice {
  return device.connection.protocol === 'rtu' || device.connection.protocol === 'rtu-over-tcp';
}

export class ModbusRtuDriver implements PolledDriver {
  private readonly device: ModbusRtuDevice;
  private readonly buses: ModbusBusRegistry;
  private readonly clock: DriverClock;
  private readonly log: DriverLogger;
  private readonly backoff: ReconnectBackoff;
  private readonly cuts: CutMemory;
  private lease: BusLease | undefined;
  /** Epoch ms before which this slave is not asked again. */
  private retryAt = 0;
  private lastFault: BusFault | undefined;
  private started = false;
  private stopped = false;
  private stopping: Promise<void> = Promise.resolve();
  private lifetime = new AbortController();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly loggedExceptions = new Map<string, string>();
  private stats: ReadStats | undefined;

  constructor(opts: ModbusRtuDriverOptions) {
    this.device = opts.device;
    this.buses = opts.buses;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentLogger;
    this.backoff = new ReconnectBackoff(opts.backoff);
    this.cuts = new CutMemory(this.log);
  }

  /** Requests the last read took (device health). */
  get lastReadStats(): ReadStats | undefined {
    return this.stats;
  }

  /** Joins the bus and opens its link if nobody has yet. Never throws for a missing port. */
  async start(): Promise<void> {
    if (this.started && !this.stopped) return;
    this.started = true;
    this.stopped = false;
    this.lifetime = new AbortController();
    await this.exclusive(async () => {
      await this.joinBus().warmUp();
    });
  }

  /** Fails a read in flight with EDGE_DEVICE_ABORTED and leaves the bus (the last one out closes it). Idempotent. */
  stop(): Promise<void> {
    if (this.stopped) return this.stopping;
    this.stopped = true;
    this.lifetime.abort();
    this.stopping = this.queue.then(async () => {
      const lease = this.lease;
      this.lease = undefined;
      await lease?.release();
    });
    return this.stopping;
  }

  read(points: readonly ResolvedPoint[], signal: AbortSignal): Promise<Reading[]> {
    return this.exclusive(() => this.readNow(points, signal)).catch((err: unknown) => {
      this.log.error({ err }, 'modbus read failed unexpectedly');
      const now = this.clock.now();
      return points.map((p) => badReading(p, now, ModbusErrors.protocol, String(err)));
    });
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private joinBus(): BusLease['bus'] {
    this.lease ??= this.buses.acquire(this.device.connection);
    return this.lease.bus;
  }

  private async readNow(points: readonly ResolvedPoint[], callerSignal: AbortSignal): Promise<Reading[]> {
    const cycle = new ReadCycle(modbusPoints(points), { maxGap: this.device.maxGap, coalesce: this.device.coalesce, cuts: this.cuts.keys }, this.clock);
    const { signal, release } = linkSignals(callerSignal, this.lifetime.signal);
    try {
      if (cycle.remaining > 0) await this.sendAll(cycle, signal);
    } finally {
      release();
    }
    this.cuts.learn(cycle.learnedCuts());
    this.stats = cycle.stats;
    return cycle.finish();
  }

  private async sendAll(cycle: ReadCycle, signal: AbortSignal): Promise<void> {
    const gate = this.gate(signal);
    if (gate !== undefined) return cycle.failRest(gate);
    const bus = this.joinBus();
    const { unitId, timeout } = this.device.connection;
    for (let request = cycle.next(); request !== undefined; request = cycle.next()) {
      if (signal.aborted) {
        const f = abortedFault('aborted before the request was sent');
        cycle.mark(request, f);
        return cycle.failRest(f);
      }
      // A slave that failed lately goes behind the healthy ones until it answers again.
      const priority = this.backoff.failures > 0 ? 'low' : 'normal';
      try {
        const result = await bus.read({ unitId, request, timeoutMs: timeout, priority }, signal);
        cycle.sent += 1;
        this.loggedExceptions.delete(requestKey(request));
        this.noteAlive();
        cycle.answered(request, result);
      } catch (err) {
        const f = classifyBusError(err);
        if (wentOnTheWire(f)) cycle.sent += 1;
        if (!f.endsPoll) {
          // An exception response: the slave is alive, only this request's points are bad.
          this.noteAlive();
          if (!cycle.exception(request, f)) this.onException(request, f);
          continue;
        }
        cycle.mark(request, f);
        if (f.slaveSilent) this.slaveSilent(f);
        return cycle.failRest(notSentAfter(f));
      }
    }
  }

  /** Why nothing may be sent for this poll, if anything. */
  private gate(signal: AbortSignal): BusFault | undefined {
    if (this.stopped) return { ...abortedFault('driver stopped'), endsPoll: true, slaveSilent: false };
    if (signal.aborted) return { ...abortedFault('aborted before the poll started'), endsPoll: true, slaveSilent: false };
    const wait = this.retryAt - this.clock.now();
    if (wait > 0) {
      const cause = this.lastFault ? ` after ${this.lastFault.code}: ${this.lastFault.detail}` : '';
      return { code: ModbusErrors.backoff, detail: `unit ${this.device.connection.unitId} skipped for ${wait} ms more${cause}`, endsPoll: true, slaveSilent: false };
    }
    return undefined;
  }

  private slaveSilent(f: BusFault): void {
    const delay = this.backoff.next();
    this.retryAt = this.clock.now() + delay;
    const firstOrNew = this.backoff.failures === 1 || this.lastFault?.code !== f.code;
    this.lastFault = f;
    const fields = { code: f.code, detail: f.detail, bus: busName(this.device), unitId: this.device.connection.unitId, failures: this.backoff.failures, retryInMs: delay };
    if (firstOrNew) this.log.warn(fields, 'modbus slave not answering; skipping it with back-off');
    else this.log.debug(fields, 'modbus slave still not answering');
  }

  /** Any answer, even an exception response, proves the slave is there. */
  private noteAlive(): void {
    if (this.backoff.failures > 0) {
      this.log.info({ failures: this.backoff.failures, lastCode: this.lastFault?.code, unitId: this.device.connection.unitId }, 'modbus slave answering again');
    }
    this.backoff.reset();
    this.lastFault = undefined;
    this.retryAt = 0;
  }

  private onException(request: ReadRequest, f: BusFault): void {
    const key = requestKey(request);
    if (this.loggedExceptions.get(key) === f.code) return;
    this.loggedExceptions.set(key, f.code);
    this.log.warn({ code: f.code, detail: f.detail, request: key, points: request.points.map((p) => p.point.id) }, 'modbus exception response');
  }
}

/** Whether a failed request was actually sent (for the requests-per-poll count). */
function wentOnTheWire(f: BusFault): boolean {
  return !f.endsPoll || f.slaveSilent || f.code === ModbusErrors.protocol;
}

function busName(device: ModbusRtuDevice): string {
  const c = device.connection;
  return c.protocol === 'rtu' ? c.path : `${c.host}:${c.port}`;
}
