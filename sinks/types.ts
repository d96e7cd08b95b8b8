import type { BufferedPoint, Point } from '../buffer/types.js';

/**
 * The slice of a logger the sinks use (pino's Logger fits). Sinks log little: the forwarder owns
 * the failure logs, so a sink only adds what the forwarder cannot see.
 */
export interface SinkLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: SinkLogger = { debug() {}, info() {}, warn() {}, error() {} };

export interface Component {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A central destination. `write` resolves only when the whole batch is durably accepted:
 * a resolved write is what lets rows leave the buffer. Writes must be idempotent, because
 * delivery from the buffer is at-least-once.
 */
export interface Sink extends Component {
  readonly name: string;
  write(batch: readonly (Point | BufferedPoint)[]): Promise<void>;
  /** Optional: mirror the gateway's device catalog centrally (PostgreSQL does, InfluxDB does not). */
  syncCatalog?(catalog: SinkCatalog): Promise<void>;
}

export interface SinkCatalog {
  gateway: { id: string; site: string; tags: Record<string, string> };
  devices: Array<{
    id: string;
    driver: string;
    tags: Record<string, string>;
    points: Array<{ id: string; measurement: string; unit?: string; tags: Record<string, string> }>;
  }>;
}

export type SinkErrorKind = 'network' | 'server' | 'throttled' | 'timeout' | 'too-large' | 'invalid' | 'auth' | 'config';

/** A sink refused the credentials (InfluxDB 401/403, PostgreSQL SQLSTATE 28xxx): one code for every sink. */
export const SINK_AUTH_FAILED = 'EDGE_SINK_AUTH_FAILED';

/** Kinds whose default code is not `EDGE_SINK_<KIND>`. */
const KIND_CODES: Partial<Record<SinkErrorKind, string>> = { auth: SINK_AUTH_FAILED };

/** Every failure a sink reports is classified, so the forwarder knows whether to retry, split or dead-letter. */
export class SinkError extends Error {
  readonly code: string;
  readonly kind: SinkErrorKind;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly status: number | undefined;
  /** For configuration-class failures (auth, config): what an operator changes to fix it. */
  readonly fix: string | undefined;

  constructor(
    message: string,
    opts: { kind: SinkErrorKind; code?: string; retryAfterMs?: number; status?: number; fix?: string; cause?: unknown },
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'SinkError';
    this.kind = opts.kind;
    this.code = opts.code ?? KIND_CODES[opts.kind] ?? `EDGE_SINK_${opts.kind.toUpperCase().replace('-', '_')}`;
    // Auth and config failures keep the data: a wrong token is an operator's fix, not bad points.
    this.retryable = opts.kind !== 'invalid' && opts.kind !== 'too-large';
    this.retryAfterMs = opts.retryAfterMs;
    this.status = opts.status;
    this.fix = opts.fix;
  }

  /** Auth and config failures: no retry fixes them by itself, someone must change a setting (here or centrally). */
  get needsOperator(): boolean {
    return this.kind === 'auth' || this.kind === 'config';
  }
}

/**
 * The HTTP status classes of DESIGN.md: 4xx except 408/413/429 is invalid data; 413 splits; the rest
 * retries. 401/403 are kept apart as `auth`, and 404 as `config` (InfluxDB answers 404 for an org
 * or bucket that does not exist): they say nothing about the batch, so the batch is kept.
 */
export function classifyHttpStatus(status: number): SinkErrorKind {
  if (status === 408) return 'timeout';
  if (status === 413) return 'too-large';
  if (status === 429) return 'throttled';
  if (status === 401 || status === 403) return 'auth';
  if (status === 404) return 'config';
  if (status >= 400 && status < 500) return 'invalid';
  return 'server';
}
