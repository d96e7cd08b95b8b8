/**
 * What one shared RTU bus can carry, worked out from the config alone: the bytes each device's
 * read plan puts on the wire at the line's baud rate, and what a bus whose slaves all fall silent
 * (a cut cable) costs in timeouts. Both become hints (warnings) for `validate` and the agent's
 * start: a poll interval shorter than a round of the bus means polls queue up and readings come
 * late; timeouts that add up past the watchdog mean a cut cable restarts the agent.
 *
 * Pure functions over the resolved config; no I/O.
 */
// Only pure modules: `edge-agent validate` loads this, and must not load serialport.
import type { ConfigIssue, ModbusDevice, ResolvedDevice } from '../../config/types.js';
import { formatDuration, formatPath } from '../../config/index.js';
import { planRequests } from './plan.js';
import { charTimeMs, interFrameMs, responseLength, type LineSettings } from './rtu-frame.js';
import type { ModbusRtuDevice } from './rtu-driver.js';

/** A read request's frame: address, function, start (2), count (2), CRC (2). */
const REQUEST_BYTES = 8;

export interface PollWireTime {
  requests: number;
  /** Both frames of every request plus the silence before each (the slave's think time not included). */
  ms: number;
}

/** The wire time of one poll of a device on a serial line (its plan's requests, as the driver sends them). */
export function pollWireTime(device: Pick<ModbusDevice, 'points' | 'maxGap' | 'coalesce'>, line: LineSettings): PollWireTime {
  const { requests } = planRequests(device.points, { maxGap: device.maxGap ?? 0, coalesce: device.coalesce ?? true });
  const charMs = charTimeMs(line);
  const silenceMs = interFrameMs(line);
  let ms = 0;
  for (const r of requests) ms += (REQUEST_BYTES + responseLength(r.register, r.count)) * charMs + 2 * silenceMs;
  return { requests: requests.length, ms };
}

export interface BusTimingOptions {
  /** How long a poll may stay in flight before the watchdog calls the agent stuck (systemd WatchdogSec, else 60 s). */
  watchdogMs: number;
}

export function busTimingHints(devices: readonly ResolvedDevice[], opts: BusTimingOptions): ConfigIssue[] {
  const buses = new Map<string, ModbusRtuDevice[]>();
  for (const d of devices) {
    if (d.driver !== 'modbus' || d.connection.protocol === 'tcp') continue;
    // one bus per serial port, or per device server (as bus-registry.ts keys them)
    const c = d.connection;
    const key = c.protocol === 'rtu' ? `rtu:${c.path}` : `rtu-over-tcp:${c.host}:${c.port}`;
    buses.set(key, [...(buses.get(key) ?? []), d as ModbusRtuDevice]);
  }
  const hints: ConfigIssue[] = [];
  for (const onBus of buses.values()) {
    const first = onBus[0] as ModbusRtuDevice;
    const c = first.connection;
    const name = c.protocol === 'rtu' ? c.path : `${c.host}:${c.port}`;
    const others = onBus.length === 1 ? '' : ` and the ${onBus.length - 1} other device${onBus.length === 2 ? '' : 's'} on the bus`;

    if (c.protocol === 'rtu') {
      // rtu-over-tcp: the device server's baud rate is not in the config
      const round = onBus.reduce((sum, d) => sum + pollWireTime(d, c).ms, 0);
      const requests = onBus.reduce((sum, d) => sum + pollWireTime(d, c).requests, 0);
      for (const d of onBus) {
        if (d.schedule.kind !== 'every' || d.schedule.everyMs >= round) continue;
        hints.push({
          path: formatPath(['devices', d.id, 'every']),
          message: `every ${formatDuration(d.schedule.everyMs)} is shorter than one round of ${name} at ${c.baudRate} baud: this device${others} put ${requests} request${requests === 1 ? '' : 's'} on the wire, about ${Math.ceil(round)} ms before any slave has answered; polls will queue and come late (poll less often, raise baudRate, or join reads with maxGap)`,
        });
      }
    }

    // Every slave silent: each costs its timeout once per poll (drivers/modbus/rtu-driver.ts), in one queue.
    const silent = onBus.reduce((sum, d) => sum + d.connection.timeout, 0);
    if (silent > opts.watchdogMs) {
      hints.push({
        path: formatPath(['devices', first.id, 'connection', 'timeout']),
        message: `the timeouts of the ${onBus.length} devices on ${name} add up to ${formatDuration(silent)}, past the watchdog's ${formatDuration(opts.watchdogMs)}: if the bus goes silent (a cut cable), a poll waits that long in line and the watchdog restarts the agent; shorten the timeouts (a slave answers in well under 1s)`,
      });
    }
  }
  return hints;
}
