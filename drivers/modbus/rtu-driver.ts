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
import type { ModbusDevice, ModbusPoint } from '../../config/types.js';
import type { WriteOrder, WriteResult } from '../types.js';
import { runWrite } from './write-cycle.js';
import type { BackoffOptions } from './backoff.js';
import type { BusLease, ModbusBusRegistry, RtuConnection } from './bus-registry.js';
import type { DriverClock, DriverLogger } from './deps.js';
import { ModbusDriverBase } from './driver-base.js';
import { classifyBusError, ModbusErrors, type BusFault } from './errors.js';
import { abortedFault, notSentAfter, type ReadCycle } from './read-cycle.js';

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

export class ModbusRtuDriver extends ModbusDriverBase<ModbusRtuDevice, BusFault> {
  private readonly buses: ModbusBusRegistry;
  private lease: BusLease | undefined;

  constructor(opts: ModbusRtuDriverOptions) {
    super(opts);
    this.buses = opts.buses;
  }

  /** Joins the bus and opens its link if nobody has yet. Never throws for a missing port. */
  async start(): Promise<void> {
    if (!this.beginStart()) return;
    await this.exclusive(async () => {
      await this.joinBus().warmUp();
    });
  }

  /** Fails a read in flight with EDGE_DEVICE_ABORTED and leaves the bus (the last one out closes it). Idempotent. */
  stop(): Promise<void> {
    if (!this.beginStop()) return this.stopping;
    this.stopping = this.queue.then(async () => {
      const lease = this.lease;
      this.lease = undefined;
      await lease?.release();
    });
    return this.stopping;
  }

  private joinBus(): BusLease['bus'] {
    this.lease ??= this.buses.acquire(this.device.connection);
    return this.lease.bus;
  }

  protected async sendRequests(cycle: ReadCycle, signal: AbortSignal): Promise<void> {
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
        this.onAnswer(request, { unitId });
        cycle.answered(request, result);
      } catch (err) {
        const f = classifyBusError(err);
        if (wentOnTheWire(f)) cycle.sent += 1;
        if (!f.endsPoll) {
          // An exception response: the slave is alive, only this request's points are bad.
          this.noteAlive({ unitId });
          if (!cycle.exception(request, f)) this.onException(request, f);
          continue;
        }
        cycle.mark(request, f);
        if (f.slaveSilent) this.slaveSilent(f);
        return cycle.failRest(notSentAfter(f));
      }
    }
  }

  protected async writeNow(order: WriteOrder<ModbusPoint>, signal: AbortSignal): Promise<WriteResult> {
    const gate = this.gate(signal);
    if (gate !== undefined) return { status: 'failed', code: gate.code, detail: gate.detail, sent: false };
    const bus = this.joinBus();
    const { unitId, timeout } = this.device.connection;
    const fault = (err: unknown) => {
      const f = classifyBusError(err);
      if (f.slaveSilent) this.slaveSilent(f);
      else if (!f.endsPoll) this.noteAlive({ unitId });
      return { code: f.code, detail: f.detail };
    };
    // One bus slot for the read and the write: a bit's read-modify-write holds the bus lock.
    return bus
      .session(
        (s) =>
          runWrite(order, {
            read: (request) => s.read({ unitId, request, timeoutMs: timeout }),
            write: (fc, address, data) => s.write({ unitId, fc, address, data, timeoutMs: timeout }),
            fault,
          }, this.clock),
        { signal },
      )
      .catch((err: unknown): WriteResult => ({ status: 'failed', ...fault(err), sent: false }));
  }

  /** Why nothing may be sent for this poll, if anything. */
  private gate(signal: AbortSignal): BusFault | undefined {
    const why = this.gateReason(signal);
    if (why === undefined) return undefined;
    if ('stopped' in why) return { ...abortedFault(why.stopped), endsPoll: true, slaveSilent: false };
    if ('aborted' in why) return { ...abortedFault(why.aborted), endsPoll: true, slaveSilent: false };
    const detail = `unit ${this.device.connection.unitId} skipped for ${why.waitMs} ms more${this.backoffCause()}`;
    return { code: ModbusErrors.backoff, detail, endsPoll: true, slaveSilent: false };
  }

  private slaveSilent(f: BusFault): void {
    const { delay, firstOrNew } = this.backOff(f);
    const fields = { code: f.code, detail: f.detail, bus: busName(this.device), unitId: this.device.connection.unitId, failures: this.backoff.failures, retryInMs: delay };
    if (firstOrNew) this.log.warn(fields, 'modbus slave not answering; skipping it with back-off');
    else this.log.debug(fields, 'modbus slave still not answering');
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
