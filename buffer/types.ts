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
  /**
   * Set on an alert event (agent/alerts): the alert as it stands after the event. Such a point
   * travels the same outbox as readings, so alerts reach central exactly as reliably; sinks write
   * it to their alert table / measurement instead of the point series.
   */
  alert?: AlertRecord;
  /** Set on a write's audit event (agent/commands): sinks write it to their commands table / measurement. */
  command?: CommandRecord;
}

/** One write attempt to a field device, as the audit and the sinks keep it. */
export interface CommandRecord {
  id: string;
  device: string;
  point: string;
  requested: Value;
  /** Registers (wire order) or coils written; null when nothing was. */
  raw: number[] | boolean[] | null;
  previous: Value | null;
  readback: Value | null;
  outcome: 'pending' | 'verified' | 'mismatch' | 'device-exception' | 'timeout' | 'refused' | 'interrupted';
  code: string | null;
  message: string | null;
  by: string;
  origin: 'local' | 'central';
  keyFingerprint: string | null;
  requestId: string | null;
  requestedAt: number;
  doneAt: number | null;
}

/**
 * One alert occurrence, as the sinks store it. `version` grows with every event of the occurrence
 * (raised, acknowledged, returned to normal, cleared), so a sink keeps the newest whatever order
 * at-least-once delivery brings them in.
 */
export interface AlertRecord {
  /** Occurrence id: `<device>/<point>/<rule>@<raisedAt>`; one row per occurrence centrally. */
  id: string;
  deviceId: string;
  pointId: string;
  ruleId: string;
  severity: string;
  /** `active`; `returned` (condition gone, latched until acknowledged); `cleared` (over). */
  state: 'active' | 'returned' | 'cleared';
  message: string;
  /** The value that raised it. */
  value: Value | null;
  threshold: Value | null;
  raisedAt: number;
  clearedAt: number | null;
  acknowledgedAt: number | null;
  acknowledgedBy: string | null;
  latch: boolean;
  version: number;
  /**
   * Which of the times above were stamped while the wall clock was not trusted, each with the
   * clock's frame then (agent/pipeline/clock-sanity.ts: the boot and wall − monotonic offset). They are
   * corrected by the same shift as the points of that time (alert-times.ts), and the mark goes.
   * The time inside `id` is never corrected: it is an identifier, not a time.
   */
  unconfirmedTimes?: Partial<Record<AlertTimeField, ClockFrame>>;
}

/** The times of an alert record. */
export type AlertTimeField = 'raisedAt' | 'clearedAt' | 'acknowledgedAt';

/** A wall clock not trusted yet, as its readings can later be corrected: wall − monotonic (ms) on a boot. */
export interface ClockFrame {
  bootId: string;
  offsetMs: number;
}

/** A point as read back from the buffer, with its position in the outbox. */
export interface BufferedPoint extends Point {
  seq: number;
  /** Set on a dead letter an operator moved back for delivery: its id in the dead-letter table. */
  replayId?: number;
}

/** What `whenFull` does when an append would break the bound (or the disk is full). */
export type WhenFull = 'dropOldest' | 'rejectNew';

/** A point a sink rejected as invalid, with the sink's reason. */
export interface DeadLetterInput {
  point: BufferedPoint;
  code: string;
  message: string;
}

export interface DeadLetter {
  id: number;
  sink: string;
  /** The row's seq when it was rejected. */
  seq: number;
  point: Point;
  code: string;
  message: string;
  /** Epoch ms of the (last) rejection. */
  at: number;
  attempts: number;
  /** Moved back by `edge-agent buffer replay`, waiting for delivery. */
  replay: boolean;
}

/** Rows appended while the wall clock was not trusted; they wait until re-stamped or flagged. */
export interface Hold {
  firstSeq: number;
  lastSeq: number;
  bootId: string;
  /** Wall clock minus monotonic clock (ms) when the rows were read. */
  offsetMs: number;
  /** Monotonic time (ms) the hold began. */
  sinceMono: number;
}

/** The slice of a logger the buffer uses (pino's Logger fits). */
export interface BufferLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** What the buffer holds, for the status API, metrics and `edge-agent buffer stats`. */
export interface BufferStats {
  /** Rows still in the buffer (not yet acknowledged by every enabled sink). */
  rows: number;
  /** Size of the database (page_count × page_size), the quantity `maxBytes` bounds; the -wal file comes on top. */
  bytes: number;
  /** Bytes in use: `bytes` less the free pages SQLite reuses before it grows the file. */
  usedBytes: number;
  /** Seq of the newest row ever appended. */
  lastSeq: number;
  /** Rows waiting for a trusted clock (not delivered yet). */
  held: number;
  /** Rows dropped over the file's life (evicted by the bound or refused), counted once per row. */
  dropped: number;
  /** Per sink: the enabled ones, and any other the file has a cursor or dead letters for. */
  sinks: Record<string, SinkBacklog>;
}

export interface SinkBacklog {
  /** Last seq the sink acknowledged. */
  cursor: number;
  /** Rows after the cursor. */
  pending: number;
  /** Timestamp of the oldest row the sink has not acknowledged, null when caught up: the sink's lag. */
  oldestTs: number | null;
  /** Rows dropped (evicted or refused) before this sink had them, over the file's life. */
  dropped: number;
  /** Points this sink rejected as invalid, over the file's life. */
  deadLettered: number;
  /** Dead letters stored now for this sink (replaying ones included). */
  deadLetters: number;
  /** Of those, moved back and waiting for delivery. */
  replaying: number;
  /** False for a sink the file knows but the buffer was not opened with. */
  enabled: boolean;
}
