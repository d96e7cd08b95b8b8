/** The unit of data that crosses the buffer: a tagged, transformed reading. */
export type Value = number | string | boolean;
export type Quality = 'good' | 'bad' | 'uncertain';

export interface Point {
  deviceId: string;
  pointId: string;
  measurement: string;
  /** Always holds gateway, site, device, point plus inherited custom tags. */
  tags: Record<string, string>;
  /** Null when the reading failed or the value was rejected (e.g. outside min/max). */
  value: Value | null;
  /** The value as it came off the wire, before transforms. */
  raw?: Value | null;
  unit?: string;
  /** Epoch milliseconds, UTC. */
  ts: number;
  quality: Quality;
  /** Stable error code when quality is not good (EDGE_DEVICE_TIMEOUT, EDGE_VALUE_OUT_OF_RANGE, …). */
  error?: string;
}

/** A point as read back from the buffer, with its position in the outbox. */
export interface BufferedPoint extends Point {
  seq: number;
}

/** What the buffer holds, for the status API and metrics. */
export interface BufferStats {
  /** Rows still in the buffer (not yet acknowledged by every enabled sink). */
  rows: number;
  /** Size of the main database file (page_count × page_size); the -wal file comes on top. */
  bytes: number;
  /** Seq of the newest row ever appended. */
  lastSeq: number;
  /** Per enabled sink. */
  sinks: Record<string, SinkBacklog>;
}

export interface SinkBacklog {
  /** Last seq the sink acknowledged. */
  cursor: number;
  /** Rows after the cursor. */
  pending: number;
  /** Timestamp of the oldest row the sink has not acknowledged, null when caught up: the sink's lag. */
  oldestTs: number | null;
}
