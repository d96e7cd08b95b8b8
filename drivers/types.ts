/** The contract every protocol driver implements. A driver never knows a sink exists. */
import type { ResolvedPoint } from '../config/types.js';

export type Value = number | string | boolean;
export type Quality = 'good' | 'bad' | 'uncertain';

/** A raw value as it came off the wire, before transforms. */
export interface Reading {
  pointId: string;
  /** Epoch milliseconds, UTC. */
  ts: number;
  raw: Value | null;
  quality: Quality;
  /** Stable error code when quality is bad: EDGE_DEVICE_TIMEOUT, EDGE_DEVICE_UNREACHABLE, EDGE_MODBUS_EXCEPTION_2, … */
  error?: string;
  /** Human detail of the error, for logs. */
  detail?: string;
  /**
   * Tags that belong to this reading only, merged over the point's configured tags: an MQTT
   * topic segment captured by `ward/{ward}/bed/{bed}/vitals` gives `{ward: '3', bed: '12'}`, so
   * each bed becomes its own series of the one configured point.
   */
  tags?: Record<string, string>;
}

export interface Component {
  /** Idempotent. Must not throw on an unreachable device: connecting is retried on read. */
  start(): Promise<void>;
  /** Idempotent, safe after a failed start. */
  stop(): Promise<void>;
}

/**
 * A driver the scheduler polls. `read` never rejects for a device fault: a timeout, an exception
 * response or a lost connection become readings with quality `bad` and an error code. Each
 * driver takes its own kind of point (a Modbus register, a serial line field); the agent hands
 * it the points of its own device.
 */
export interface PolledDriver<P extends Pick<ResolvedPoint, 'id'> = Pick<ResolvedPoint, 'id'>> extends Component {
  read(points: readonly P[], signal: AbortSignal): Promise<Reading[]>;
  /** What the last read cost, for the device health (a driver that can count sets it). */
  readonly lastReadStats?: ReadStats | undefined;
}

export interface ReadStats {
  /** Requests sent to the device during the last read (Modbus: after coalescing, splits included). */
  requests: number;
}

export interface PushDriver extends Component {
  onReadings(cb: (readings: Reading[]) => void): void;
}

/** Stable error codes drivers put on bad readings. */
export const DeviceErrors = {
  timeout: 'EDGE_DEVICE_TIMEOUT',
  unreachable: 'EDGE_DEVICE_UNREACHABLE',
  backoff: 'EDGE_DEVICE_BACKOFF',
  aborted: 'EDGE_DEVICE_ABORTED',
  protocol: 'EDGE_DEVICE_PROTOCOL',
  /** Followed by the Modbus exception code, e.g. EDGE_MODBUS_EXCEPTION_2 (illegal data address). */
  modbusException: 'EDGE_MODBUS_EXCEPTION',
} as const;

/**
 * A write to one point, in raw units (the agent has already inverted scale/offset and mapped
 * states). A driver that can write implements WritableDriver; it never knows who asked.
 */
export interface WriteOrder<P = unknown> {
  point: P;
  raw: number | boolean;
  /** auto: the single-item function for one register or coil, else the multiple one. */
  functionCode: 'auto' | 'single' | 'multiple';
}

export type WriteResult =
  /** Sent and acknowledged by the device. `written`: registers (wire order) or coils; `previous`: what the device held before. */
  | { status: 'written'; written: number[] | boolean[]; previous: Reading; fc: number }
  /** Not acknowledged. `sent`: whether a write frame went out (a timeout after sending); `previous` when it was read. */
  | { status: 'failed'; code: string; detail: string; sent: boolean; previous?: Reading; written?: number[] | boolean[]; fc?: number };

export interface WritableDriver<P = unknown> {
  /** Never rejects for a device fault: the result says what happened. Queued like a poll. */
  write(order: WriteOrder<P>, signal: AbortSignal): Promise<WriteResult>;
}

export function isWritable(d: object): d is WritableDriver {
  return typeof (d as Partial<WritableDriver>).write === 'function';
}
