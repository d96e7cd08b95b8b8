/**
 * Who owns the buses: one ModbusBus per physical link (a serial path, or host:port for RTU over
 * TCP), shared by every device on it and closed when the last of them lets go. The agent makes
 * one registry and hands it to every RTU driver; tests make their own.
 */
import type { ModbusRtuConnection, ModbusRtuOverTcpConnection } from '../../config/catalog.js';
import type { BackoffOptions } from './backoff.js';
import { ModbusBus, type BusStats } from './bus.js';
import { silentLogger, systemClock, type DriverClock, type DriverLogger } from './deps.js';
import type { LinkSettings } from './link.js';

export type RtuConnection = ModbusRtuConnection | ModbusRtuOverTcpConnection;

export interface ModbusBusRegistryOptions {
  clock?: DriverClock;
  /** A logger for the buses (each bus adds its own `bus` field). */
  logger?: DriverLogger;
  /** Requests that may wait on one bus; default DEFAULT_MAX_QUEUE (bus.ts). */
  maxQueue?: number;
  /** Reopening a failed link; default 1 s doubling to 60 s. */
  reopen?: BackoffOptions;
}

export interface BusLease {
  readonly bus: ModbusBus;
  /** Gives the bus back; the last release closes it. Idempotent. */
  release(): Promise<void>;
}

/** The key that makes two devices share a bus. */
export function busKey(c: RtuConnection): string {
  return c.protocol === 'rtu' ? `rtu:${c.path}` : `rtu-over-tcp:${c.host}:${c.port}`;
}

export function linkSettings(c: RtuConnection): LinkSettings {
  if (c.protocol === 'rtu') {
    return { kind: 'serial', path: c.path, baudRate: c.baudRate, parity: c.parity, dataBits: c.dataBits, stopBits: c.stopBits };
  }
  return { kind: 'tcp', host: c.host, port: c.port, connectTimeoutMs: Math.max(1000, c.timeout) };
}

export class ModbusBusRegistry {
  private readonly buses = new Map<string, { bus: ModbusBus; users: number; settings: string }>();
  private readonly clock: DriverClock;
  private readonly log: DriverLogger;

  constructor(private readonly opts: ModbusBusRegistryOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentLogger;
  }

  /** Buses open now (for status and tests). */
  get size(): number {
    return this.buses.size;
  }

  get(key: string): ModbusBus | undefined {
    return this.buses.get(key)?.bus;
  }

  /** Every open bus with its counters and its number of devices (for the status API). */
  list(): { key: string; devices: number; stats: BusStats }[] {
    return [...this.buses.entries()].map(([key, e]) => ({ key, devices: e.users, stats: e.bus.stats }));
  }

  acquire(connection: RtuConnection): BusLease {
    const key = busKey(connection);
    const settings = linkSettings(connection);
    const signature = JSON.stringify({ ...settings, connectTimeoutMs: undefined });
    let entry = this.buses.get(key);
    if (entry === undefined) {
      const bus = new ModbusBus({ link: settings, clock: this.clock, logger: this.log, ...(this.opts.maxQueue === undefined ? {} : { maxQueue: this.opts.maxQueue }), ...(this.opts.reopen === undefined ? {} : { reopen: this.opts.reopen }) });
      entry = { bus, users: 0, settings: signature };
      this.buses.set(key, entry);
    } else if (entry.settings !== signature) {
      // validate rejects this; a caller that skipped validation gets the first device's settings.
      this.log.warn({ bus: key, kept: entry.settings, ignored: signature }, 'devices on one bus disagree on its line settings; the first one wins');
    }
    entry.users += 1;
    const held = entry;
    let released = false;
    return {
      bus: held.bus,
      release: async () => {
        if (released) return;
        released = true;
        held.users -= 1;
        if (held.users > 0) return;
        if (this.buses.get(key) === held) this.buses.delete(key);
        await held.bus.close();
      },
    };
  }
}
