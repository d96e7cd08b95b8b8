/**
 * InfluxSink against a real InfluxDB-v2-write-compatible server (VictoriaMetrics), and against a
 * tiny fault-injecting HTTP server for the error classes VictoriaMetrics does not produce.
 */
import http from 'node:http';
import type net from 'node:net';
import zlib from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AlertRecord, Point } from '../../buffer/types.js';
import { InfluxSink } from '../../sinks/influx.js';
import { SinkError } from '../../sinks/types.js';
import { freePort, VictoriaMetrics } from '../helpers/victoria.js';
import { rejection } from '../helpers/sink-error.js';

const T0 = Date.now() - 60_000 - (Date.now() % 1000) + 123; // recent (inside retention), with milliseconds

function point(measurement: string, i: number, value: Point['value'], extra: Partial<Point> = {}): Point {
  return {
    deviceId: 'pump-1',
    pointId: 'flow',
    measurement,
    tags: { gateway: 'gw-test', site: 'pozo-17', device: 'pump-1', point: 'flow', region: 'maule' },
    value,
    ts: T0 + i * 1000,
    quality: 'good',
    ...extra,
  };
}

/** An alert event as the alert engine puts it in the buffer: measurement `alerts`, rule and severity tags. */
function alertPoint(i: number, value: Point['value'], over: Partial<AlertRecord> = {}): Point {
  const alert: AlertRecord = {
    id: `pump-1/flow/above-120@${T0}`,
    deviceId: 'pump-1',
    pointId: 'flow',
    ruleId: 'above-120',
    severity: 'warning',
    state: 'active',
    message: 'flow above 120',
    value,
    threshold: 120,
    raisedAt: T0,
    clearedAt: null,
    acknowledgedAt: null,
    acknowledgedBy: null,
    latch: false,
    version: 1,
    ...over,
  };
  const tags = { gateway: 'gw-test', site: 'pozo-17', device: 'pump-1', point: 'flow', rule: alert.ruleId, severity: alert.severity };
  return { deviceId: 'pump-1', pointId: 'flow', measurement: 'alerts', tags, value, ts: T0 + i * 1000, quality: 'good', alert };
}

const sinks: InfluxSink[] = [];
function influx(url: string, extra: { timeoutMs?: number } = {}): InfluxSink {
  const s = new InfluxSink({ url, token: 'test-token', org: 'ops', bucket: 'telemetry', ...extra });
  sinks.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.stop()));
});

describe('InfluxSink → VictoriaMetrics', () => {
  let vm: VictoriaMetrics;
  beforeAll(async () => {
    vm = await VictoriaMetrics.start();
  });
  afterAll(async () => {
    await vm?.remove();
  });

  it('writes points with their tags, typed values and millisecond timestamps', async () => {
    const sink = influx(vm.url);
    await sink.start();
    const batch = [
      point('flow', 0, 12.5),
      point('flow', 1, 13),
      point('flow', 2, null, { quality: 'bad', error: 'EDGE_DEVICE_TIMEOUT' }),
      point('pump_on', 0, true, { pointId: 'on', tags: { gateway: 'gw-test', site: 'pozo-17', device: 'pump-1', point: 'on' } }),
      point('state', 0, 'RUNNING', { pointId: 'state' }),
    ];
    await sink.write(batch);
    expect(sink.stats).toMatchObject({ sent: 4, requests: 1, skippedNull: 1 });

    const flow = await vm.query('{__name__="flow_value"}');
    expect(flow).toHaveLength(1);
    expect(flow[0]?.metric).toEqual({ __name__: 'flow_value', gateway: 'gw-test', site: 'pozo-17', device: 'pump-1', point: 'flow', region: 'maule' });
    expect(flow[0]?.values).toEqual([12.5, 13]);
    expect(flow[0]?.timestamps).toEqual([T0, T0 + 1000]);
    // Booleans arrive as 1/0; VictoriaMetrics drops string fields (an InfluxDB keeps them).
    const on = await vm.query('{__name__="pump_on_value"}');
    expect(on[0]?.values).toEqual([1]);
  });

  it('writes alert events as measurement alerts, tagged with rule and severity', async () => {
    const sink = influx(vm.url);
    await sink.start();
    await sink.write([alertPoint(0, 131.5), alertPoint(1, 114, { state: 'cleared', clearedAt: T0 + 1000, version: 2 })]);
    const value = await vm.query('{__name__="alerts_value"}');
    expect(value).toHaveLength(1);
    expect(value[0]?.metric).toEqual({ __name__: 'alerts_value', gateway: 'gw-test', site: 'pozo-17', device: 'pump-1', point: 'flow', rule: 'above-120', severity: 'warning' });
    expect(value[0]?.values).toEqual([131.5, 114]);
    expect(value[0]?.timestamps).toEqual([T0, T0 + 1000]);
    expect((await vm.query('{__name__="alerts_threshold"}'))[0]?.values).toEqual([120, 120]);
    expect((await vm.query('{__name__="alerts_active"}'))[0]?.values).toEqual([1, 0]);
  });

  it('starts with the server down, fails as retryable network, and leaves nothing queued in the client', async () => {
    const sink = influx(vm.url);
    await vm.kill();
    await sink.start(); // a gateway boots offline
    try {
      const err = await rejection(sink.write([point('during', 0, 1), point('during', 1, 2)]));
      expect(err).toMatchObject({ kind: 'network', retryable: true, code: 'EDGE_SINK_NETWORK' });
    } finally {
      await vm.restart();
    }
    await sink.write([point('after', 0, 3)]);
    // Give a client-side retry (if there were one) time to run: it would re-send "during".
    await new Promise((r) => setTimeout(r, 1500));
    expect(await vm.count('{__name__="during_value"}')).toBe(0);
    expect(await vm.count('{__name__="after_value"}')).toBe(1);
  });
});

/** An InfluxDB stand-in that answers what the test says and records what it received. */
class FaultServer {
  readonly requests: Array<{ url: string; headers: http.IncomingHttpHeaders; body: string }> = [];
  reply: { status: number; headers?: Record<string, string>; body?: string; hang?: boolean } = { status: 204 };
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = req.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(raw).toString() : raw.toString();
      this.requests.push({ url: req.url ?? '', headers: req.headers, body });
      if (this.reply.hang) return; // never answer
      res.writeHead(this.reply.status, { 'content-type': 'application/json', ...this.reply.headers });
      res.end(this.reply.body ?? (this.reply.status >= 300 ? JSON.stringify({ code: 'x', message: `status ${this.reply.status}` }) : ''));
    });
  });
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('InfluxSink error classes', () => {
  let fault: FaultServer;
  beforeAll(async () => {
    fault = new FaultServer();
    await fault.start();
  });
  afterAll(async () => {
    await fault.close();
  });
  afterEach(() => {
    fault.requests.length = 0;
    fault.reply = { status: 204 };
  });

  it('writes an alert event as one line: id, state and message as strings, a state value as text', async () => {
    const sink = influx(fault.url);
    await sink.start();
    await sink.write([alertPoint(0, 'tripped', { ruleId: 'equals-tripped', threshold: 'tripped', message: 'fault is "tripped"', acknowledgedAt: T0 + 5, acknowledgedBy: 'ops' })]);
    const line = fault.requests[0]?.body;
    expect(line).toBe(
      `alerts,device=pump-1,gateway=gw-test,point=flow,rule=equals-tripped,severity=warning,site=pozo-17 ` +
        `acknowledged=T,active=T,alert_id="pump-1/flow/above-120@${T0}",message="fault is \\"tripped\\"",state="active",threshold_text="tripped",value_text="tripped" ${T0}`,
    );
  });

  it('sends one gzipped request per batch with the line protocol we expect', async () => {
    const sink = influx(fault.url);
    await sink.start();
    const batch = Array.from({ length: 50 }, (_, i) => point('flow', i, i + 0.5));
    batch.push(point('state', 0, 'say "hi"', { pointId: 'state' }), point('flow', 99, Number.NaN));
    await sink.write(batch);
    expect(fault.requests).toHaveLength(1);
    const req = fault.requests[0]!;
    expect(req.url).toBe('/api/v2/write?org=ops&bucket=telemetry&precision=ms');
    expect(req.headers['content-encoding']).toBe('gzip');
    expect(req.headers.authorization).toBe('Token test-token');
    const lines = req.body.split('\n');
    expect(lines).toHaveLength(51);
    expect(lines[0]).toBe(`flow,device=pump-1,gateway=gw-test,point=flow,region=maule,site=pozo-17 value=0.5 ${T0}`);
    expect(lines[50]).toBe(`state,device=pump-1,gateway=gw-test,point=flow,region=maule,site=pozo-17 value="say \\"hi\\"" ${T0}`);
    expect(sink.stats.skippedNonFinite).toBe(1);
  });

  it('sends nothing for a batch of nulls', async () => {
    const sink = influx(fault.url);
    await sink.start();
    await sink.write([point('flow', 0, null)]);
    expect(fault.requests).toHaveLength(0);
  });

  it.each([
    { status: 400, kind: 'invalid', retryable: false },
    { status: 422, kind: 'invalid', retryable: false },
    { status: 413, kind: 'too-large', retryable: false },
    { status: 401, kind: 'auth', retryable: true },
    { status: 404, kind: 'config', retryable: true }, // bucket or org not found: fix the config, keep the data
    { status: 500, kind: 'server', retryable: true },
    { status: 503, kind: 'server', retryable: true },
  ])('classifies HTTP $status as $kind', async ({ status, kind, retryable }) => {
    fault.reply = { status };
    const sink = influx(fault.url);
    await sink.start();
    const err = await rejection(sink.write([point('flow', 0, 1)]));
    expect(err).toMatchObject({ kind, retryable, status, retryAfterMs: undefined });
    expect(err.message).toContain(String(status));
  });

  it.each([401, 403])('reports HTTP %i with the code PostgreSQL uses for an auth failure, and what to fix', async (status) => {
    fault.reply = { status };
    const sink = influx(fault.url);
    await sink.start();
    const err = await rejection(sink.write([point('flow', 0, 1)]));
    // One code for one meaning across sinks: EDGE_SINK_AUTH_FAILED (InfluxDB used to say EDGE_SINK_AUTH).
    expect(err).toMatchObject({ kind: 'auth', code: 'EDGE_SINK_AUTH_FAILED', retryable: true });
    expect(err.fix).toMatch(/sinks\.influx\.token/);
    expect(err.fix).toContain("bucket 'telemetry'");
  });

  it('says on HTTP 404 which org and bucket the server did not find', async () => {
    fault.reply = { status: 404, body: '{"code":"not found","message":"bucket \\"telemetry\\" not found"}' };
    const sink = influx(fault.url);
    await sink.start();
    const err = await rejection(sink.write([point('flow', 0, 1)]));
    expect(err).toMatchObject({ kind: 'config', code: 'EDGE_SINK_CONFIG', retryable: true, status: 404 });
    expect(err.message).toContain('bucket \\"telemetry\\" not found');
    expect(err.fix).toMatch(/sinks\.influx\.org \('[^']+'\) and sinks\.influx\.bucket \('telemetry'\)/);
  });

  it('honours Retry-After in seconds on 429 and as an HTTP date on 503', async () => {
    const sink = influx(fault.url);
    await sink.start();
    fault.reply = { status: 429, headers: { 'retry-after': '7' } };
    expect(await rejection(sink.write([point('flow', 0, 1)]))).toMatchObject({ kind: 'throttled', retryable: true, retryAfterMs: 7000, code: 'EDGE_SINK_THROTTLED' });

    fault.reply = { status: 503, headers: { 'retry-after': new Date(Date.now() + 30_000).toUTCString() } };
    const err = await rejection(sink.write([point('flow', 0, 1)]));
    expect(err.kind).toBe('server');
    expect(err.retryAfterMs).toBeGreaterThan(25_000);
    expect(err.retryAfterMs).toBeLessThanOrEqual(30_000);
  });

  it('keeps nothing queued after a failure: no retry of its own, the next write sends only its batch', async () => {
    const sink = influx(fault.url);
    await sink.start();
    // The client reads Retry-After as milliseconds: with "1" its own retry (if it had one) would
    // re-send the failed batch within its 200 ms jitter.
    fault.reply = { status: 503, headers: { 'retry-after': '1' } };
    await rejection(sink.write([point('failed', 0, 1), point('failed', 1, 2)]));
    fault.reply = { status: 204 };
    await new Promise((r) => setTimeout(r, 1500));
    expect(fault.requests).toHaveLength(1);
    await sink.write([point('next', 0, 3)]);
    expect(fault.requests).toHaveLength(2);
    expect(fault.requests[1]?.body).toBe(`next,device=pump-1,gateway=gw-test,point=flow,region=maule,site=pozo-17 value=3 ${T0}`);
  });

  it('classifies a server that never answers as timeout', async () => {
    fault.reply = { status: 204, hang: true };
    const sink = influx(fault.url, { timeoutMs: 300 });
    await sink.start();
    expect(await rejection(sink.write([point('flow', 0, 1)]))).toMatchObject({ kind: 'timeout', retryable: true });
  });

  it('classifies a refused connection as retryable network', async () => {
    const sink = influx(`http://127.0.0.1:${await freePort()}`);
    await sink.start();
    expect(await rejection(sink.write([point('flow', 0, 1)]))).toMatchObject({ kind: 'network', retryable: true });
  });

  it('rejects a bad URL at construction, and a write before start', async () => {
    expect(() => new InfluxSink({ url: 'influx.local:8086', token: '', org: 'o', bucket: 'b' })).toThrow(SinkError);
    expect(() => new InfluxSink({ url: 'ftp://influx.local', token: '', org: 'o', bucket: 'b' })).toThrow(expect.objectContaining({ kind: 'config' }));
    const sink = new InfluxSink({ url: fault.url, token: '', org: 'o', bucket: 'b' });
    expect(await rejection(sink.write([point('flow', 0, 1)]))).toMatchObject({ code: 'EDGE_SINK_NOT_STARTED', retryable: true });
  });
});
