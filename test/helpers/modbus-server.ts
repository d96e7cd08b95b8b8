/**
 * Real Modbus peers for tests, all on loopback at port 0: a modbus-serial ServerTCP answering
 * from a register image, a "silent slave" that accepts connections and never answers, and
 * builders for the device and point configs the driver takes.
 */
import net from 'node:net';
import type { ByteOrder, ModbusPoint, ModbusTcpDevice, ModbusType, RegisterKind } from '../../config/types.js';
import type { DriverClock } from '../../drivers/modbus/deps.js';
import { RegisterImage } from '../../drivers/modbus/register-image.js';
import { startModbusTcpServer, type RunningModbusServer } from '../../drivers/modbus/server.js';

export { RegisterImage };

/** A ServerTCP answering from `image` (mutate the image to change values while it runs). */
export function startImageServer(image: RegisterImage, opts: { port?: number; unitId?: number } = {}): Promise<RunningModbusServer> {
  return startModbusTcpServer(image, { host: '127.0.0.1', port: opts.port ?? 0, unitId: opts.unitId });
}

export interface SilentServer {
  port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  close(): Promise<void>;
}

/** Accepts TCP connections and never answers: a hung device, or the wrong unit id behind a gateway. */
export async function startSilentServer(): Promise<SilentServer> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    get accepted() {
      return accepted;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on (taken, then released). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export function modbusDevice(
  port: number,
  opts: { id?: string; unitId?: number; timeout?: number; points?: ModbusPoint[]; maxGap?: number; coalesce?: boolean } = {},
): ModbusTcpDevice {
  const id = opts.id ?? 'dev-1';
  return {
    id,
    driver: 'modbus',
    schedule: { kind: 'every', everyMs: 1000 },
    tags: { device: id },
    connection: { protocol: 'tcp', host: '127.0.0.1', port, unitId: opts.unitId ?? 1, timeout: opts.timeout ?? 300 },
    points: opts.points ?? [],
    ...(opts.maxGap === undefined ? {} : { maxGap: opts.maxGap }),
    ...(opts.coalesce === undefined ? {} : { coalesce: opts.coalesce }),
  };
}

export function modbusPoint(id: string, register: RegisterKind, address: number, type: ModbusType, order: ByteOrder = 'ABCD'): ModbusPoint {
  return { id, deviceId: 'dev-1', measurement: 'telemetry', tags: { point: id }, register, address, type, order };
}

/** Real timers (sockets need them), but a `now` the test moves by hand to cross back-off windows. */
export class ManualClock implements DriverClock {
  constructor(public t = 1_700_000_000_000) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    return setTimeout(fn, ms);
  }
  clearTimeout(handle: unknown): void {
    clearTimeout(handle as NodeJS.Timeout);
  }
}

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string;
}

/** Keeps what the driver logs, to check it warns once and says when the device is back. */
export class RecordingLogger {
  readonly entries: LogEntry[] = [];
  debug(obj: Record<string, unknown>, msg: string): void {
    this.entries.push({ level: 'debug', obj, msg });
  }
  info(obj: Record<string, unknown>, msg: string): void {
    this.entries.push({ level: 'info', obj, msg });
  }
  warn(obj: Record<string, unknown>, msg: string): void {
    this.entries.push({ level: 'warn', obj, msg });
  }
  error(obj: Record<string, unknown>, msg: string): void {
    this.entries.push({ level: 'error', obj, msg });
  }
  count(msg: RegExp, level?: LogEntry['level']): number {
    return this.entries.filter((e) => msg.test(e.msg) && (level === undefined || e.level === level)).length;
  }
}
