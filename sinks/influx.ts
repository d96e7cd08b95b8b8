/**
 * InfluxDB v2 write API sink. One HTTP request per batch, gzipped, no client-side buffering.
 *
 * SQLite is our only buffer, so nothing here queues or retries: a batch is one request
 * (influx-http.ts) whose 2xx is the acknowledgement that lets the rows leave the buffer, and a
 * failed batch leaves nothing behind to be re-sent behind the forwarder's back. The lines are
 * built by influx-line.ts, in the same format the InfluxDB client library writes, without its
 * Point object per line (the client library was most of this sink's CPU at 100 points a second).
 */
import http from 'node:http';
import https from 'node:https';
import type { BufferedPoint, Point } from '../buffer/types.js';
import { clip, messageOf, parseRetryAfter, transportError } from './classify.js';
import { InfluxTimeoutError, postLines, writePath, type WriteTarget } from './influx-http.js';
import { LineWriter } from './influx-line.js';
import { SinkError, classifyHttpStatus, silentLogger, type Sink, type SinkErrorKind, type SinkLogger } from './types.js';

export interface InfluxSinkOptions {
  /** Base URL, e.g. https://influx.ops.example:8086 (no /api/v2). */
  url: string;
  /** API token; empty for servers without authentication. */
  token: string;
  org: string;
  bucket: string;
  /** Socket inactivity timeout per request. Default 10 s. */
  timeoutMs?: number;
  /** Request bodies larger than this many bytes are gzipped. Default 1000. */
  gzipThreshold?: number;
  /** Sink name, also the buffer cursor name. Default 'influx'. */
  name?: string;
  logger?: SinkLogger;
}

export interface InfluxSinkStats {
  /** Lines accepted by the server. */
  sent: number;
  /** Successful write requests. */
  requests: number;
  /** Points not sent because their value is null: a line protocol line needs a field. */
  skippedNull: number;
  /** Points not sent because their value is NaN or ±Infinity, which line protocol cannot carry. */
  skippedNonFinite: number;
}

export class InfluxSink implements Sink {
  readonly name: string;
  readonly stats: InfluxSinkStats = { sent: 0, requests: 0, skippedNull: 0, skippedNonFinite: 0 };
  private readonly opts: InfluxSinkOptions;
  private readonly log: SinkLogger;
  private target: WriteTarget | undefined;
  private readonly path: string;
  private readonly url: URL;
  private readonly lines = new LineWriter();

  constructor(opts: InfluxSinkOptions) {
    // Validate, never connect: a bad URL is a config error at construction, a dead server is not.
    let url: URL;
    try {
      url = new URL(opts.url);
    } catch (err) {
      throw new SinkError(`influx url is not a URL: ${opts.url}`, { kind: 'config', code: 'EDGE_SINK_CONFIG', cause: err });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new SinkError(`influx url must be http(s), got ${url.protocol}`, { kind: 'config', code: 'EDGE_SINK_CONFIG' });
    }
    if (opts.org === '' || opts.bucket === '') {
      throw new SinkError('influx org and bucket must not be empty', { kind: 'config', code: 'EDGE_SINK_CONFIG' });
    }
    this.opts = opts;
    this.url = url;
    this.path = writePath({ url, org: opts.org, bucket: opts.bucket });
    this.name = opts.name ?? 'influx';
    this.log = opts.logger ?? silentLogger;
  }

  /** Makes no request: a gateway boots with its uplink down, and the first write finds out. */
  async start(): Promise<void> {
    if (this.target !== undefined) return;
    // Our own agent, so stop() can close its kept-alive sockets and the process can exit.
    const agent = this.url.protocol === 'https:' ? new https.Agent({ keepAlive: true, maxSockets: 2 }) : new http.Agent({ keepAlive: true, maxSockets: 2 });
    this.target = {
      url: this.url,
      org: this.opts.org,
      bucket: this.opts.bucket,
      token: this.opts.token,
      agent,
      timeoutMs: this.opts.timeoutMs ?? 10_000,
      gzipThreshold: this.opts.gzipThreshold ?? 1000,
    };
  }

  async stop(): Promise<void> {
    const t = this.target;
    this.target = undefined;
    t?.agent.destroy();
  }

  /**
   * Sends the batch in one request and resolves only when the server accepted it (2xx). Every
   * failure is a SinkError. Re-sending a batch is harmless: same series and timestamp overwrite.
   */
  async write(batch: readonly (Point | BufferedPoint)[]): Promise<void> {
    const t = this.target;
    if (t === undefined) throw new SinkError('influx sink is not started', { kind: 'config', code: 'EDGE_SINK_NOT_STARTED' });
    const { body, lines } = this.lines.build(batch, this.stats);
    if (lines === 0) return;
    try {
      await postLines(t, this.path, body);
    } catch (err) {
      throw classifyInfluxError(err, this.opts);
    }
    this.stats.sent += lines;
    this.stats.requests += 1;
  }
}

interface HttpErrorLike {
  statusCode: number;
  body?: string;
  message: string;
  headers?: Record<string, string | string[] | undefined>;
  retryAfter?: () => number;
}

/** Our InfluxHttpError, or the client library's HttpError (same fields), which callers of the library may still hand us. */
function isHttpError(err: unknown): err is HttpErrorLike {
  return err instanceof Error && typeof (err as { statusCode?: unknown }).statusCode === 'number';
}

/** What an operator changes for a failure no retry mends: the token (401/403), or org, bucket or URL (404). */
function influxFix(kind: SinkErrorKind, where: { org: string; bucket: string }): string | undefined {
  if (kind === 'auth') return `check sinks.influx.token: it must be a token with write access to bucket '${where.bucket}' in org '${where.org}'`;
  if (kind === 'config') {
    return `check sinks.influx.org ('${where.org}') and sinks.influx.bucket ('${where.bucket}'): the server answered 404, so one of them does not exist there, or sinks.influx.url is not an InfluxDB v2 write endpoint`;
  }
  return undefined;
}

/**
 * Maps whatever the client threw onto our error classes (DESIGN.md "Error classes"). With the
 * sink's org and bucket, an auth failure also says what to fix, as the PostgreSQL sink's do.
 */
export function classifyInfluxError(err: unknown, where?: { org: string; bucket: string }): SinkError {
  if (err instanceof SinkError) return err;
  if (isHttpError(err)) {
    const kind = classifyHttpStatus(err.statusCode);
    // The client library's retryAfter() is the raw header number read as milliseconds; the header
    // is in seconds (or a date), so read the header ourselves.
    const header = err.headers?.['retry-after'];
    const fallback = typeof err.retryAfter === 'function' ? err.retryAfter() : 0;
    const retryAfterMs = parseRetryAfter(header) ?? (fallback > 0 ? fallback * 1000 : undefined);
    const body = typeof err.body === 'string' && err.body !== '' ? err.body : err.message;
    const fix = where === undefined ? undefined : influxFix(kind, where);
    return new SinkError(clip(`influx write failed: HTTP ${err.statusCode} ${body}`), {
      kind,
      status: err.statusCode,
      cause: err,
      ...(fix === undefined ? {} : { fix }),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  if (err instanceof InfluxTimeoutError || (err instanceof Error && err.name === 'RequestTimedOutError')) {
    return new SinkError('influx write timed out', { kind: 'timeout', cause: err });
  }
  const transport = transportError(err, 'influx unreachable');
  if (transport !== undefined) return transport;
  // Aborted responses, sockets hung up mid-request and other unknowns: retry rather than lose data.
  return new SinkError(`influx write failed: ${messageOf(err)}`, { kind: 'network', cause: err });
}
