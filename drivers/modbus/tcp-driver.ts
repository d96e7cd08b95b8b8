/**
 * The Modbus TCP driver: one instance per device, one connection at a time, one request at a
 * time (polls are queued, never interleaved on the socket).
 *
 * A device fault is data: `read` always resolves with one reading per point, in the order given,
 * bad ones carrying a stable code. After a timeout or a connection error the client is thrown
 * away and, until the back-off delay has passed, polls answer at once with EDGE_DEVICE_BACKOFF
 * instead of piling connection attempts on a device (or a radio link) that is already struggling.
 */
import type { ModbusTcpDevice, ResolvedPoint } from '../../config/types.js';
import type { PolledDriver, Reading } from '../types.js';
import { ReconnectBackoff, type BackoffOptions } from './backoff.js';
import { ModbusConnection } from './connection.js';
import { silentLogger, systemClock, type DriverClock, type DriverLogger } from './deps.js';
import { classifyError, ModbusErrors, type DeviceFault } from './errors.js';
import { CutMemory, modbusPoints } from './cut-memory.js';
import { abortedFault, badReading, linkSignals, notSentAfter, ReadCycle, requestKey, type ReadStats } from './read-cycle.js';
import type { ReadRequest } from './plan.js';

export interface ModbusTcpDriverOptions {
  device: ModbusTcpDevice;
  clock?: DriverClock;
  /** A child logger already bound to the device. */
  logger?: DriverLogger;
  /** Reconnect back-off; default 1 s doubling to 60 s, with jitter. */
  reconnect?: BackoffOptions;
}

export class ModbusTcpDriver implements PolledDriver {
  private readonly device: ModbusTcpDevice;
  private readonly clock: DriverClock;
  private readonly log: DriverLogger;
  private readonly backoff: ReconnectBackoff;
  private conn: ModbusConnection | undefined;
  /** Epoch ms before which no connection is attempted. */
  private retryAt = 0;
  /** The connection-level fault behind the current back-off, for the readings' detail. */
  private lastFault: DeviceFault | undefined;
  private started = false;
  private stopped = false;
  private stopping: Promise<void> = Promise.resolve();
  private lifetime = new AbortController();
  private queue: Promise<unknown> = Promise.resolve();
  /** Exception code last logged per request, so a misconfigured point warns once, not every poll. */
  private readonly loggedExceptions = new Map<string, string>();
  /** Where plans must split, learned from illegal-address exceptions. */
  private readonly cuts: CutMemory;
  private stats: ReadStats | undefined;

  constructor(opts: ModbusTcpDriverOptions) {
    this.device = opts.device;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentLogger;
    this.backoff = new ReconnectBackoff(opts.reconnect);
    this.cuts = new CutMemory(this.log);
  }

  /** Requests the last read took (device health). */
  get lastReadStats(): ReadStats | undefined {
    return this.stats;
  }

  /** Tries to connect once. An unreachable device is logged, not thrown: reads retry. */
  async start(): Promise<void> {
    if (this.started && !this.stopped) return;
    this.started = true;
    this.stopped = false;
    this.lifetime = new AbortController();
    const signal = this.lifetime.signal;
    // A failed connect is logged (and backed off) inside connection(); reads will retry.
    await this.exclusive(() => this.connection(signal));
  }

  /** Closes the socket and fails a read in flight with EDGE_DEVICE_ABORTED. Idempotent. */
  stop(): Promise<void> {
    if (this.stopped) return this.stopping;
    this.stopped = true;
    this.lifetime.abort();
    this.conn?.destroy();
    this.conn = undefined;
    // Resolves once a read in flight has settled, for every caller of stop().
    this.stopping = this.queue.then(() => undefined);
    return this.stopping;
  }

  read(points: readonly ResolvedPoint[], signal: AbortSignal): Promise<Reading[]> {
    // Belt and braces: `read` must never reject, whatever goes wrong inside.
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

  private async readNow(points: readonly ResolvedPoint[], callerSignal: AbortSignal): Promise<Reading[]> {
    const cycle = new ReadCycle(modbusPoints(points), { maxGap: this.device.maxGap, coalesce: this.device.coalesce, cuts: this.cuts.keys }, this.clock);
    // Linked by hand rather than AbortSignal.any: the lifetime signal outlives millions of
    // polls, and listeners must not pile up on it.
    const { signal, release } = linkSignals(callerSignal, this.lifetime.signal);
    try {
      await this.readRequests(cycle, signal);
    } finally {
      release();
    }
    this.cuts.learn(cycle.learnedCuts());
    this.stats = cycle.stats;
    return cycle.finish();
  }

  private async readRequests(cycle: ReadCycle, signal: AbortSignal): Promise<void> {
    if (cycle.remaining === 0) return;
    // A connection-level fault ends the poll: the remaining requests get the same code unsent,
    // so a silent device costs one timeout per poll, not one per request.
    let fault = this.gate(signal);
    if (fault === undefined) {
      const c = await this.connection(signal);
      if (c instanceof ModbusConnection) return this.sendAll(cycle, c, signal);
      fault = c;
    }
    cycle.failRest(fault);
  }

  private async sendAll(cycle: ReadCycle, conn: ModbusConnection, signal: AbortSignal): Promise<void> {
    for (let request = cycle.next(); request !== undefined; request = cycle.next()) {
      if (signal.aborted) {
        const f = abortedFault('aborted before the request was sent');
        cycle.mark(request, f);
        cycle.failRest(f);
        return;
      }
      cycle.sent += 1;
      try {
        const result = await conn.read(request, signal);
        this.onAnswer(request);
        cycle.answered(request, result);
      } catch (err) {
        const f = classifyError(err);
        if (f.dropConnection) {
          cycle.mark(request, f);
          this.fail(f);
          cycle.failRest(notSentAfter(f));
          return;
        }
        this.noteAlive();
        if (!cycle.exception(request, f)) this.onException(request, f);
      }
    }
  }

  /** Why no request may go out right now, if any. */
  private gate(signal: AbortSignal): DeviceFault | undefined {
    if (this.stopped) return abortedFault('driver stopped');
    if (signal.aborted) return abortedFault('aborted before the poll started');
    const wait = this.retryAt - this.clock.now();
    if (wait > 0) {
      const cause = this.lastFault ? ` after ${this.lastFault.code}: ${this.lastFault.detail}` : '';
      return { code: ModbusErrors.backoff, detail: `next connection attempt in ${wait} ms${cause}`, dropConnection: false, backoff: false };
    }
    return undefined;
  }

  /** The open connection, or a fresh one; a failed connect returns its fault (and backs off). */
  private async connection(signal: AbortSignal): Promise<ModbusConnection | DeviceFault> {
    if (this.conn?.usable) return this.conn;
    this.conn?.destroy();
    this.conn = undefined;
    const { host, port, unitId, timeout } = this.device.connection;
    const conn = new ModbusConnection({ host, port, unitId, timeoutMs: timeout, clock: this.clock });
    try {
      await conn.open(signal);
      this.conn = conn;
      this.log.debug({ host, port, unitId }, 'modbus connected');
      return conn;
    } catch (err) {
      conn.destroy();
      const f = classifyError(err);
      this.fail(f);
      return f;
    }
  }

  /** A connection-level fault: drop the client, and back off if the device itself looks unwell. */
  private fail(f: DeviceFault): void {
    this.conn?.destroy();
    this.conn = undefined;
    if (!f.backoff) return;
    const delay = this.backoff.next();
    this.retryAt = this.clock.now() + delay;
    const firstOrNew = this.backoff.failures === 1 || this.lastFault?.code !== f.code;
    this.lastFault = f;
    const { host, port } = this.device.connection;
    const fields = { code: f.code, detail: f.detail, host, port, failures: this.backoff.failures, retryInMs: delay };
    if (firstOrNew) this.log.warn(fields, 'modbus device not answering; reconnecting with back-off');
    else this.log.debug(fields, 'modbus device still not answering');
  }

  private onAnswer(request: ReadRequest): void {
    this.noteAlive();
    this.loggedExceptions.delete(requestKey(request));
  }

  /** Any answer (even an exception response) proves the device and the link are alive. */
  private noteAlive(): void {
    if (this.backoff.failures > 0) {
      this.log.info({ failures: this.backoff.failures, lastCode: this.lastFault?.code }, 'modbus device answering again');
    }
    this.backoff.reset();
    this.lastFault = undefined;
    this.retryAt = 0;
  }

  private onException(request: ReadRequest, f: DeviceFault): void {
    const key = requestKey(request);
    if (this.loggedExceptions.get(key) === f.code) return;
    this.loggedExceptions.set(key, f.code);
    this.log.warn({ code: f.code, detail: f.detail, request: key, points: request.points.map((p) => p.point.id) }, 'modbus exception response');
  }
}

