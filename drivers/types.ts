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
}

export interface Component {
  /** Idempotent. Must not throw on an unreachable device: connecting is retried on read. */
  start(): Promise<void>;
  /** Idempotent, safe after a failed start. */
  stop(): Promise<void>;
}

/**
 * A driver the scheduler polls. `read` never rejects for a device fault: a timeout, an exception
 * response or a lost connection become readings with quality `bad` and an error code.
 */
export interface PolledDriver extends Component {
  read(points: readonly ResolvedPoint[], signal: AbortSignal): Promise<Reading[]>;
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
