/** Every failure the buffer reports carries a stable code, for logs, the status API and MQTT replies. */
export type BufferErrorCode =
  /** The file could not be opened as our database (permissions, not a database, corrupt, no WAL support). */
  | 'EDGE_BUFFER_OPEN_FAILED'
  /** The file was written by a newer agent: we refuse to guess its layout rather than damage it. */
  | 'EDGE_BUFFER_SCHEMA_TOO_NEW'
  /** read/ack/pending for a sink that is not in the enabled set: a wiring bug, not a data problem. */
  | 'EDGE_BUFFER_UNKNOWN_SINK'
  /** The file failed its integrity check at open: it was moved aside and a new one started. */
  | 'EDGE_BUFFER_CORRUPT'
  /** Points were evicted or refused because the bound was reached (counted per sink). */
  | 'EDGE_BUFFER_POINTS_DROPPED'
  /** The file system is full (SQLITE_FULL below the bound): points were evicted or refused. */
  | 'EDGE_BUFFER_DISK_FULL'
  /** A write failed for another storage reason (I/O error): the points were not stored. */
  | 'EDGE_BUFFER_WRITE_FAILED'
  /** Another agent process writes this buffer file (its lock is held): one writer per file. */
  | 'EDGE_BUFFER_IN_USE'
  | 'EDGE_BUFFER_CLOSED'
  | 'EDGE_BUFFER_INVALID_ARGUMENT';

export class BufferError extends Error {
  readonly code: BufferErrorCode;

  constructor(code: BufferErrorCode, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'BufferError';
    this.code = code;
  }
}
