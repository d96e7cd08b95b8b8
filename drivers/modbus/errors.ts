/**
 * Every failure of a Modbus exchange becomes one stable code (see drivers/types.ts DeviceErrors)
 * plus what the driver must do about the connection. modbus-serial reports failures in several
 * shapes: `modbusCode` on exception responses, `errno: 'ETIMEDOUT'` on its own timeout, Node's
 * `code: 'ECONNREFUSED'` from the socket, `errno: 'ECONNREFUSED'` for "Port Not Open", and plain
 * messages ("TCP Connection Timed Out", "CRC error", "Data length error, …").
 */
import { DeviceErrors } from '../types.js';

export const ModbusErrors = {
  ...DeviceErrors,
  /** The point's addressing cannot work (e.g. a 64-bit value starting at address 65534). */
  pointInvalid: 'EDGE_MODBUS_POINT_INVALID',
  /** A float register holds NaN or ±Infinity (many devices send NaN for "no value"). */
  notFinite: 'EDGE_MODBUS_VALUE_NOT_FINITE',
  /** The shared bus already has as many requests waiting as it may hold: refused, not queued. */
  busQueueFull: 'EDGE_BUS_QUEUE_FULL',
} as const;

/** `EDGE_MODBUS_EXCEPTION_2` for exception code 2 (illegal data address), and so on. */
export function exceptionCode(code: number): string {
  return `${DeviceErrors.modbusException}_${code}`;
}

export interface DeviceFault {
  code: string;
  detail: string;
  /** The client can no longer be trusted (modbus-serial clients get stuck): throw it away. */
  dropConnection: boolean;
  /** The device looks unwell: wait (back off) before connecting again. */
  backoff: boolean;
}

/** The socket closed or errored while a request was outstanding. */
export class ConnectionLostError extends Error {
  override name = 'ConnectionLostError';
}

/** Our own deadline fired (a backstop behind modbus-serial's timeout, which should fire first). */
export class DeadlineError extends Error {
  override name = 'DeadlineError';
}

/** The poll's AbortSignal fired, or the driver stopped, while a request was outstanding. */
export class RequestAbortedError extends Error {
  override name = 'RequestAbortedError';
}

/** The device answered something we cannot use (short response, wrong length). */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

/** An exception response (function code | 0x80) from a slave on an RTU bus. */
export class ModbusExceptionError extends Error {
  override name = 'ModbusExceptionError';
  constructor(readonly modbusCode: number) {
    super(`Modbus exception ${modbusCode}: ${EXCEPTION_NAMES[modbusCode] ?? 'unknown exception'}`);
  }
}

/** The bus's link (serial port or TCP socket) could not be opened, or closed under a request. */
export class LinkError extends Error {
  override name = 'LinkError';
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** The bus's link failed recently and waits before it is opened again: nothing was sent. */
export class LinkBackoffError extends Error {
  override name = 'LinkBackoffError';
}

/** The bus's queue is full: the request was refused, not queued. */
export class BusQueueFullError extends Error {
  override name = 'BusQueueFullError';
}

const EXCEPTION_NAMES: Record<number, string> = {
  1: 'Illegal function',
  2: 'Illegal data address',
  3: 'Illegal data value',
  4: 'Slave device failure',
  5: 'Acknowledge',
  6: 'Slave device busy',
  8: 'Memory parity error',
  10: 'Gateway path unavailable',
  11: 'Gateway target device failed to respond',
};

const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

interface ErrorShape {
  message?: unknown;
  code?: unknown;
  errno?: unknown;
  modbusCode?: unknown;
}

export function classifyError(err: unknown): DeviceFault {
  const e: ErrorShape = typeof err === 'object' && err !== null ? (err as ErrorShape) : {};
  const message = typeof e.message === 'string' && e.message !== '' ? e.message : String(err);
  const sysCode = typeof e.code === 'string' ? e.code : typeof e.errno === 'string' ? e.errno : undefined;
  const detail = sysCode !== undefined && !message.includes(sysCode) ? `${sysCode}: ${message}` : message;

  if (err instanceof RequestAbortedError) {
    // The answer may still arrive; a fresh client next poll is simpler than matching it up.
    return { code: DeviceErrors.aborted, detail, dropConnection: true, backoff: false };
  }
  if (typeof e.modbusCode === 'number') {
    // The device answered: the link is fine, only this request's points are bad.
    return { code: exceptionCode(e.modbusCode), detail, dropConnection: false, backoff: false };
  }
  if (err instanceof DeadlineError || sysCode === 'ETIMEDOUT' || /timed out/i.test(message)) {
    return { code: DeviceErrors.timeout, detail, dropConnection: true, backoff: true };
  }
  if (err instanceof ConnectionLostError || (sysCode !== undefined && UNREACHABLE.has(sysCode)) || /port not open/i.test(message)) {
    return { code: DeviceErrors.unreachable, detail, dropConnection: true, backoff: true };
  }
  // CRC or length errors, a garbled frame: the stream may be out of step, start again.
  return { code: DeviceErrors.protocol, detail, dropConnection: true, backoff: true };
}

/** A failure of one request on a shared RTU bus, and what it means for that slave's poll. */
export interface BusFault {
  code: string;
  detail: string;
  /** The rest of this device's poll is not sent (the slave or the link is not usable now). */
  endsPoll: boolean;
  /** The slave itself did not answer: back it off, so it stops costing the bus its timeout. */
  slaveSilent: boolean;
}

/** Bus failures in the same stable codes; the link's own troubles never back off a slave. */
export function classifyBusError(err: unknown): BusFault {
  const { code, detail } = classifyError(err);
  if (err instanceof ModbusExceptionError) return { code, detail, endsPoll: false, slaveSilent: false };
  if (err instanceof BusQueueFullError) return { code: ModbusErrors.busQueueFull, detail: err.message, endsPoll: true, slaveSilent: false };
  if (err instanceof LinkBackoffError) return { code: DeviceErrors.backoff, detail: err.message, endsPoll: true, slaveSilent: false };
  if (err instanceof LinkError) {
    const d = err.code !== undefined && !err.message.includes(err.code) ? `${err.code}: ${err.message}` : err.message;
    return { code: DeviceErrors.unreachable, detail: d, endsPoll: true, slaveSilent: false };
  }
  if (err instanceof ConnectionLostError) return { code: DeviceErrors.unreachable, detail, endsPoll: true, slaveSilent: false };
  if (err instanceof RequestAbortedError) return { code: DeviceErrors.aborted, detail, endsPoll: true, slaveSilent: false };
  if (err instanceof DeadlineError) return { code: DeviceErrors.timeout, detail, endsPoll: true, slaveSilent: true };
  // A garbled answer (CRC, length): the slave is there but the line is noisy or misconfigured.
  return { code: DeviceErrors.protocol, detail, endsPoll: true, slaveSilent: false };
}
