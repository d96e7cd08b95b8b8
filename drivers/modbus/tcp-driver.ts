/**
 * The Modbus TCP driver: one instance per device, one connection at a time, one request at a
 * time (polls are queued, never interleaved on the socket).
 *
 * A device fault is data: `read` always resolves with one reading per point, in the order given,
 * bad ones carrying a stable code. After a timeout or a connection error the client is thrown
 * away and, until the back-off delay has passed, polls answer at once with EDGE_DEVICE_BACKOFF
 * instead of piling connection attempts on a device (or a radio link) that is already struggling.
 */
import type { ModbusPoint, ModbusTcpDevice } from '../../config/types.js';
import type { BackoffOptions } from './backoff.js';
import { ModbusConnection } from './connection.js';
import type { DriverClock, DriverLogger } from './deps.js';
import { ModbusDriverBase } from './driver-base.js';
import { classifyError, ModbusErrors, type DeviceFault } from './errors.js';
import { abortedFault, notSentAfter, type ReadCycle } from './read-cycle.js';
import { runWrite } from './write-cycle.js';
import type { WriteOrder, WriteResult } from '../types.js';

export interface ModbusTcpDriverOptions {
  device: ModbusTcpDevice;
  clock?: DriverClock;
  /** A child logger already bound to the device. */
  logger?: DriverLogger;
  /** Reconnect back-off; default 1 s doubling to 60 s, with jitter. */
  reconnect?: BackoffOptions;
}

export class ModbusTcpDriver extends ModbusDriverBase<ModbusTcpDevice, DeviceFault> {
  private conn: ModbusConnection | undefined;

  constructor(opts: ModbusTcpDriverOptions) {
    super({ device: opts.device, clock: opts.clock, logger: opts.logger, backoff: opts.reconnect });
  }

  /** Tries to connect once. An unreachable device is logged, not thrown: reads retry. */
  async start(): Promise<void> {
    if (!this.beginStart()) return;
    const signal = this.lifetime.signal;
    // A failed connect is logged (and backed off) inside connection(); reads will retry.
    await this.exclusive(() => this.connection(signal));
  }

  /** Closes the socket and fails a read in flight with EDGE_DEVICE_ABORTED. Idempotent. */
  stop(): Promise<void> {
    if (!this.beginStop()) return this.stopping;
    this.conn?.destroy();
    this.conn = undefined;
    // Resolves once a read in flight has settled, for every caller of stop().
    this.stopping = this.queue.then(() => undefined);
    return this.stopping;
  }

  protected async sendRequests(cycle: ReadCycle, signal: AbortSignal): Promise<void> {
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

  protected async writeNow(order: WriteOrder<ModbusPoint>, signal: AbortSignal): Promise<WriteResult> {
    const gate = this.gate(signal);
    if (gate !== undefined) return { status: 'failed', code: gate.code, detail: gate.detail, sent: false };
    const c = await this.connection(signal);
    if (!(c instanceof ModbusConnection)) return { status: 'failed', code: c.code, detail: c.detail, sent: false };
    return runWrite(order, {
      read: async (request) => {
        const r = await c.read(request, signal);
        this.noteAlive();
        return r;
      },
      write: async (fc, address, data) => {
        await c.write(fc, address, data, signal);
        this.noteAlive();
      },
      fault: (err) => {
        const f = classifyError(err);
        if (f.dropConnection) this.fail(f);
        else this.noteAlive();
        return { code: f.code, detail: f.detail };
      },
    }, this.clock);
  }

  /** Why no request may go out right now, if any. */
  private gate(signal: AbortSignal): DeviceFault | undefined {
    const why = this.gateReason(signal);
    if (why === undefined) return undefined;
    if ('stopped' in why) return abortedFault(why.stopped);
    if ('aborted' in why) return abortedFault(why.aborted);
    return { code: ModbusErrors.backoff, detail: `next connection attempt in ${why.waitMs} ms${this.backoffCause()}`, dropConnection: false, backoff: false };
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
    const { delay, firstOrNew } = this.backOff(f);
    const { host, port } = this.device.connection;
    const fields = { code: f.code, detail: f.detail, host, port, failures: this.backoff.failures, retryInMs: delay };
    if (firstOrNew) this.log.warn(fields, 'modbus device not answering; reconnecting with back-off');
    else this.log.debug(fields, 'modbus device still not answering');
  }
}
