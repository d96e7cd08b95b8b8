/**
 * One TCP connection to one Modbus device, over one modbus-serial client that is used once and
 * thrown away: after a timeout or a socket error the client can stay stuck ("Port Not Open",
 * modbus-serial #92, #547), so the driver builds a new `ModbusConnection` instead of repairing one.
 *
 * Every operation is raced against three things modbus-serial does not resolve on its own:
 * the socket closing under a pending request (it would wait for its timeout), `destroy()` (it
 * cancels the timeout timers and leaves the promise pending forever), and the caller's abort.
 */
import Modbus from 'modbus-serial';
import { ConnectionLostError, DeadlineError, ProtocolError, RequestAbortedError } from './errors.js';
import type { DriverClock } from './deps.js';
import { isBitRegister, type ReadRequest } from './plan.js';

type Client = InstanceType<typeof Modbus.default>;

/** Slack given to modbus-serial's own timer before our backstop deadline fires. */
const DEADLINE_GRACE_MS = 250;

export interface ConnectionOptions {
  host: string;
  port: number;
  unitId: number;
  timeoutMs: number;
  clock: DriverClock;
}

export type { RequestResult } from './read-cycle.js';
import type { RequestResult } from './read-cycle.js';

export class ModbusConnection {
  private readonly client: Client;
  private lostError: Error | undefined;
  private readonly lostListeners = new Set<(err: Error) => void>();

  constructor(private readonly opts: ConnectionOptions) {
    this.client = new Modbus.default();
    // modbus-serial has no request timeout by default: without this a silent slave hangs a poll.
    // Set before connectTCP, it also bounds the TCP connect.
    this.client.setTimeout(opts.timeoutMs);
    this.client.setID(opts.unitId);
    // The client re-emits socket errors as 'error': unheard, that event would crash the process.
    this.client.on('error', (err) => this.markLost(err instanceof Error ? err : new ConnectionLostError(String(err))));
    this.client.on('close', () => this.markLost(new ConnectionLostError('connection closed by the device')));
  }

  /** False once the socket closed, errored or was destroyed. */
  get usable(): boolean {
    return this.lostError === undefined && this.client.isOpen;
  }

  async open(signal: AbortSignal): Promise<void> {
    const { host, port } = this.opts;
    await this.guard(() => this.client.connectTCP(host, { port }), signal);
  }

  async read(request: ReadRequest, signal: AbortSignal): Promise<RequestResult> {
    const { register, address, count } = request;
    if (isBitRegister(register)) {
      const res = await this.guard(() => (register === 'coil' ? this.client.readCoils(address, count) : this.client.readDiscreteInputs(address, count)), signal);
      if (!Array.isArray(res.data) || res.data.length < count) throw new ProtocolError(`asked ${count} bits, got ${String(res.data?.length)}`);
      return { kind: 'bits', bits: res.data };
    }
    const res = await this.guard(() => (register === 'holding' ? this.client.readHoldingRegisters(address, count) : this.client.readInputRegisters(address, count)), signal);
    if (!Array.isArray(res.data) || res.data.length < count) throw new ProtocolError(`asked ${count} registers, got ${String(res.data?.length)}`);
    return { kind: 'registers', words: res.data };
  }

  /** FC5/FC6/FC15/FC16; an exception response rejects with modbus-serial's error (its `modbusCode`). */
  async write(fc: 5 | 6 | 15 | 16, address: number, data: readonly number[] | readonly boolean[], signal: AbortSignal): Promise<void> {
    const c = this.client;
    await this.guard<unknown>(() => {
      switch (fc) {
        case 5:
          return c.writeCoil(address, data[0] === true);
        case 15:
          return c.writeCoils(address, data.map((b) => b === true));
        case 6:
          return c.writeRegister(address, Number(data[0]));
        case 16:
          return c.writeRegisters(address, data.map(Number));
      }
    }, signal);
  }

  /** Closes the socket at once and fails anything outstanding. Idempotent. */
  destroy(): void {
    this.markLost(new ConnectionLostError('connection closed by the driver'));
    try {
      this.client.destroy(() => {});
    } catch {
      // Already torn down: nothing left to close.
    }
  }

  private markLost(err: Error): void {
    if (this.lostError !== undefined) return;
    this.lostError = err;
    for (const listener of [...this.lostListeners]) listener(err);
    this.lostListeners.clear();
  }

  private guard<T>(op: () => Promise<T>, signal: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.lostError !== undefined) return reject(this.lostError);
      if (signal.aborted) return reject(new RequestAbortedError('aborted before the request was sent'));
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        this.lostListeners.delete(onLost);
        signal.removeEventListener('abort', onAbort);
        this.opts.clock.clearTimeout(deadline);
        fn();
      };
      const onLost = (err: Error) => settle(() => reject(err));
      const onAbort = () => settle(() => reject(new RequestAbortedError('aborted while waiting for the device')));
      const deadline = this.opts.clock.setTimeout(
        () => settle(() => reject(new DeadlineError(`no answer within ${this.opts.timeoutMs} ms`))),
        this.opts.timeoutMs + DEADLINE_GRACE_MS,
      );
      this.lostListeners.add(onLost);
      signal.addEventListener('abort', onAbort, { once: true });
      let pending: Promise<T>;
      try {
        pending = op();
      } catch (err) {
        pending = Promise.reject(err);
      }
      pending.then(
        (value) => settle(() => resolve(value)),
        (err: unknown) => settle(() => reject(err)),
      );
    });
  }
}
