// Room agent/writes: writes to field devices (guard, device queue, read-back, audit); may import config, drivers, buffer, agent/pipeline and agent/{clock,logger}.
/**
 * The contract of the write path, for its two ways in: the local CLI (`edge-agent write`, through
 * the buffer's write queue) and the central link (`request/points/write`, agent/central), which
 * checks signatures itself and calls `agent.writes.execute(req)` or `recordRefusal(...)`.
 */
export interface WriteRequest {
  device: string;
  point: string;
  /** Engineering units, or a mapped state (`running`); the CLI gives text, parsed against the point. */
  value: number | string | boolean;
  by: string;
  origin: 'local' | 'central';
  keyFingerprint?: string;
  requestId?: string;
}

export type WriteOutcomeKind = 'verified' | 'mismatch' | 'device-exception' | 'timeout' | 'refused' | 'interrupted';

export interface WriteOutcome {
  id: string;
  outcome: WriteOutcomeKind;
  /** A refusal's reason (EDGE_WRITE_…), the device's (EDGE_MODBUS_EXCEPTION_2, EDGE_DEVICE_TIMEOUT), EDGE_WRITE_MISMATCH, EDGE_WRITE_NO_READBACK. */
  code?: string;
  message?: string;
  /** Registers (wire order) or coils written. */
  raw?: number[] | boolean[];
  previous?: number | string | boolean | null;
  readback?: number | string | boolean | null;
  requestedAt: number;
  doneAt: number;
}

/** What the Agent exposes as `agent.writes`. */
export interface WriteApi {
  execute(req: WriteRequest): Promise<WriteOutcome>;
  /** A refusal decided by the caller (unsigned, bad signature, expired, replayed, writes disabled), audited like any attempt. */
  recordRefusal(req: WriteRequest, code: string, message: string): Promise<WriteOutcome>;
}

/** Stable codes of the refusals decided before anything is sent. */
export const WriteErrors = {
  unknownPoint: 'EDGE_WRITE_UNKNOWN_POINT',
  notWritable: 'EDGE_WRITE_NOT_WRITABLE',
  outOfLimits: 'EDGE_WRITE_OUT_OF_LIMITS',
  rateLimited: 'EDGE_WRITE_RATE_LIMITED',
  deviceFailing: 'EDGE_WRITE_DEVICE_FAILING',
  applyInProgress: 'EDGE_WRITE_APPLY_IN_PROGRESS',
  busy: 'EDGE_WRITE_IN_PROGRESS',
  stopping: 'EDGE_WRITE_AGENT_STOPPING',
  mismatch: 'EDGE_WRITE_MISMATCH',
  noReadback: 'EDGE_WRITE_NO_READBACK',
  interrupted: 'EDGE_WRITE_INTERRUPTED',
  stale: 'EDGE_WRITE_STALE_REQUEST',
  auditUnavailable: 'EDGE_WRITE_AUDIT_UNAVAILABLE',
  auditFailed: 'EDGE_WRITE_AUDIT_FAILED',
} as const;
