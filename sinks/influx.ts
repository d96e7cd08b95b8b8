/**
 * InfluxDB v2 write API sink. One HTTP request per batch, gzipped, no client-side buffering.
 *
 * The client library keeps its own retry buffer (about 32k lines, in memory). SQLite is our only
 * buffer, so that one is off: retries 0, no flush timer, a fresh WriteApi per batch whose
 * `writeFailed` hook rejects at once. A failed batch therefore leaves nothing queued in the client
 * to be re-sent behind our back; the forwarder retries it from SQLite.
 */
import http from 'node:http';
import https from 'node:https';
import { HttpError, InfluxDB, Point as LinePoint, RequestTimedOutError } from '@influxdata/influxdb-client';
import type { AlertRecord, CommandRecord, BufferedPoint, Point } from '../buffer/types.js';
import { clip, messageOf, parseRetryAfter, transportError } from './classify.js';
import { SinkError, classifyHttpStatus, silentLogger, type Sink, type SinkLogger } from './types.js';

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
  private client: { influx: InfluxDB; agent: http.Agent } | undefined;

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
    this.name = opts.name ?? 'influx';
    this.log = opts.logger ?? silentLogger;
  }

  /** Makes no request: a gateway boots with its uplink down, and the first write finds out. */
  async start(): Promise<void> {
    if (this.client !== undefined) return;
    const isHttps = this.opts.url.startsWith('https:');
    // Our own agent, so stop() can close its kept-alive sockets and the process can exit.
    const agent = isHttps ? new https.Agent({ keepAlive: true, maxSockets: 2 }) : new http.Agent({ keepAlive: true, maxSockets: 2 });
    const influx = new InfluxDB({
      url: this.opts.url,
      token: this.opts.token,
      timeout: this.opts.timeoutMs ?? 10_000,
      transportOptions: { agent },
    });
    this.client = { influx, agent };
  }

  async stop(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    c?.agent.destroy();
  }

  /**
   * Sends the batch in one request and resolves only when the server accepted it (204). Every
   * failure is a SinkError. Re-sending a batch is harmless: same series and timestamp overwrite.
   */
  async write(batch: readonly (Point | BufferedPoint)[]): Promise<void> {
    const c = this.client;
    if (c === undefined) throw new SinkError('influx sink is not started', { kind: 'config', code: 'EDGE_SINK_NOT_STARTED' });
    const lines = this.toLines(batch);
    if (lines.length === 0) return;
    const writeApi = c.influx.getWriteApi(this.opts.org, this.opts.bucket, 'ms', {
      // Larger than the batch, so nothing is sent before flush() and flush() sends one request.
      batchSize: lines.length + 1,
      maxBatchBytes: Number.MAX_SAFE_INTEGER,
      flushInterval: 0,
      maxRetries: 0,
      maxBufferLines: lines.length + 1,
      gzipThreshold: this.opts.gzipThreshold ?? 1000,
      // Returning a promise makes the client use it as the flush result instead of retrying,
      // buffering or logging: our forwarder does all three.
      writeFailed: (error: Error) => Promise.reject(error),
    });
    try {
      writeApi.writePoints(lines);
      await writeApi.flush();
    } catch (err) {
      throw classifyInfluxError(err);
    } finally {
      // Nothing can be left after a flush; dispose() also makes any late timer a no-op.
      const left = writeApi.dispose();
      if (left > 0) this.log.warn({ lines: left }, 'influx client still held lines after flush; dropped (they stay in the buffer)');
    }
    this.stats.sent += lines.length;
    this.stats.requests += 1;
  }

  private toLines(batch: readonly Point[]): LinePoint[] {
    const out: LinePoint[] = [];
    for (const p of batch) {
      if (p.alert !== undefined) {
        out.push(alertLine(p, p.alert));
        continue;
      }
      if (p.command !== undefined) {
        out.push(commandLine(p, p.command));
        continue;
      }
      const v = p.value;
      if (v === null) {
        this.stats.skippedNull++;
        continue;
      }
      const line = new LinePoint(p.measurement);
      for (const k in p.tags) line.tag(k, p.tags[k] as string);
      if (typeof v === 'number') {
        if (!Number.isFinite(v)) {
          this.stats.skippedNonFinite++;
          continue;
        }
        // Always float, never int: a value that is 3 now and 3.5 later must not be a field type conflict.
        line.floatField('value', v);
      } else if (typeof v === 'boolean') line.booleanField('value', v);
      else line.stringField('value', v);
      out.push(line.timestamp(p.ts));
    }
    return out;
  }
}

/**
 * An alert event: measurement `alerts`, tagged like its point plus `rule` and `severity`, one line
 * per event at the event's time. Numbers go in float fields and anything else in `_text` fields,
 * so a state alert (`equals: tripped`) never conflicts with the field types of a threshold alert.
 */
function alertLine(p: Point, a: AlertRecord): LinePoint {
  const line = new LinePoint(p.measurement);
  for (const k in p.tags) line.tag(k, p.tags[k] as string);
  line.stringField('alert_id', a.id).stringField('state', a.state).stringField('message', a.message);
  line.booleanField('active', a.state !== 'cleared').booleanField('acknowledged', a.acknowledgedAt !== null);
  for (const [name, v] of [['value', p.value], ['threshold', a.threshold]] as const) {
    if (typeof v === 'number' && Number.isFinite(v)) line.floatField(name, v);
    else if (v !== null && typeof v !== 'number') line.stringField(`${name}_text`, String(v));
  }
  return line.timestamp(p.ts);
}

/**
 * A write's audit event: measurement `commands`, tagged like the point written plus `outcome` and
 * `origin`, at the time of the outcome. Numbers in float fields, anything else in `_text` fields.
 */
function commandLine(p: Point, c: CommandRecord): LinePoint {
  const line = new LinePoint('commands');
  for (const k in p.tags) line.tag(k, p.tags[k] as string);
  line.tag('outcome', c.outcome).tag('origin', c.origin);
  line.stringField('command_id', c.id).stringField('by', c.by).booleanField('verified', c.outcome === 'verified');
  if (c.code !== null) line.stringField('code', c.code);
  for (const [name, v] of [['requested', c.requested], ['previous', c.previous], ['readback', c.readback]] as const) {
    if (typeof v === 'number' && Number.isFinite(v)) line.floatField(name, v);
    else if (typeof v === 'boolean') line.floatField(name, v ? 1 : 0);
    else if (v !== null && typeof v !== 'number') line.stringField(`${name}_text`, String(v));
  }
  return line.timestamp(p.ts);
}

/** Maps whatever the client threw onto our error classes (DESIGN.md "Error classes"). */
export function classifyInfluxError(err: unknown): SinkError {
  if (err instanceof SinkError) return err;
  if (err instanceof HttpError) {
    const kind = classifyHttpStatus(err.statusCode);
    // The client's retryAfter() is the raw header number read as milliseconds; the header is in
    // seconds (or a date), so read the header ourselves.
    const header = err.headers?.['retry-after'];
    const retryAfterMs = parseRetryAfter(header) ?? (err.retryAfter() > 0 ? err.retryAfter() * 1000 : undefined);
    return new SinkError(clip(`influx write failed: HTTP ${err.statusCode} ${err.body ?? err.message}`), {
      kind,
      status: err.statusCode,
      cause: err,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  if (err instanceof RequestTimedOutError) return new SinkError('influx write timed out', { kind: 'timeout', cause: err });
  const transport = transportError(err, 'influx unreachable');
  if (transport !== undefined) return transport;
  // Aborted responses, sockets hung up mid-request and other unknowns: retry rather than lose data.
  return new SinkError(`influx write failed: ${messageOf(err)}`, { kind: 'network', cause: err });
}
