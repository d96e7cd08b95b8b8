/** Every failure the buffer reports carries a stable code, for logs, the status API and MQTT replies. */
export type BufferErrorCode =
  /** The file could not be opened as our database (permissions, not a database, corrupt, no WAL support). */
  | 'EDGE_BUFFER_OPEN_FAILED'
  /** The file was written by a newer agent: we refuse to guess its layout rather than damage it. */
  | 'EDGE_BUFFER_SCHEMA_TOO_NEW'
  /** read/ack/pending for a sink that is not in the enabled set: a wiring bug, not a data problem. */
  | 'EDGE_BUFFER_UNKNOWN_SINK'
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
