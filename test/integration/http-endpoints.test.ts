/**
 * The HTTP endpoints of a running agent: a real Modbus slave and a device that is offline, a sink
 * that works (VictoriaMetrics, which also scrapes /metrics the way Prometheus does) and one that
 * is down (PostgreSQL on a closed port), and a bearer token.
 */
import { mkdtempSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentStatus } from '../../agent/ops/status.js';
import type { RunningModbusServer } from '../../drivers/modbus/server.js';
import { startHttpAgent, type HttpAgent } from '../helpers/http-agent.js';
import { closedPort, RegisterImage, startImageServer } from '../helpers/modbus-server.js';
import { PromScraper } from '../helpers/prom-scraper.js';
import { freePort } from '../helpers/victoria.js';

const TOKEN = 'tech-7f3a';
const auth = { Authorization: `Bearer ${TOKEN}` };
const dir = mkdtempSync(join(tmpdir(), 'edge-http-'));
let slave: RunningModbusServer;
let scraper: PromScraper;
let running: HttpAgent;

function configYaml(opts: { httpPort: number; influxUrl: string; pgPort: number; offlinePort: number; buffer: string }): string {
  return `
gateway: { id: gw-http, site: well-9 }
buffer: { path: ${opts.buffer} }
sinks:
  influx: { url: ${opts.influxUrl}, token: t, org: ops, bucket: telemetry }
  postgres: { url: "postgres://edge@127.0.0.1:${opts.pgPort}/telemetry" }
http: { host: 127.0.0.1, port: ${opts.httpPort}, token: "\${HTTP_TOKEN}" }
devices:
  - id: pump-1
    driver: modbus
    connection: { protocol: tcp, host: 127.0.0.1, port: ${slave.port}, unitId: 1, timeout: 500ms }
    every: 500ms
    points:
      flow:     { register: holding, address: 0, type: uint16, scale: 0.1, unit: m3/h }
      pressure: { register: holding, address: 1, type: float32, decimals: 2, unit: bar }
      running:  { register: coil, address: 0 }
      mode:     { register: holding, address: 10, type: uint16, map: { 1: manual, 2: auto } }
  - id: meter-2
    driver: modbus
    connection: { protocol: tcp, host: 127.0.0.1, port: ${opts.offlinePort}, unitId: 1, timeout: 300ms }
    every: 500ms
    points:
      energy: { register: input, address: 0, type: uint32, unit: kWh }
`;
}

async function status(url: string): Promise<AgentStatus> {
  const res = await fetch(`${url}/status`, { headers: auth });
  expect(res.status).toBe(200);
  return (await res.json()) as AgentStatus;
}

async function until<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  const image = new RegisterImage().setValue('holding', 0, 1234, 'uint16').setValue('holding', 1, 3.25, 'float32').setValue('coil', 0, true, 'bool').setValue('holding', 10, 2, 'uint16');
  slave = await startImageServer(image);
  const httpPort = await freePort();
  scraper = await PromScraper.start(`127.0.0.1:${httpPort}`, TOKEN);
  const [pgPort, offlinePort] = [await closedPort(), await closedPort()];
  running = await startHttpAgent(configYaml({ httpPort, influxUrl: scraper.url, pgPort, offlinePort, buffer: join(dir, 'a', 'buffer.db') }), { env: { HTTP_TOKEN: TOKEN } });
});

afterAll(async () => {
  await running?.stop();
  await scraper?.remove();
  await slave?.close();
});

describe('probes', () => {
  it('/health and /ready answer without the token, with details only for those who have it', async () => {
    const health = await fetch(`${running.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${running.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true });
    const detailed = await fetch(`${running.url}/ready`, { headers: auth });
    expect(await detailed.json()).toEqual({ ready: true, checks: { config: true, buffer: true, drivers: true } });
    expect(ready.headers.get('cache-control')).toBe('no-store');
  });
});

describe('/status', () => {
  it('shows devices with health, the latest value, unit, quality and time of each point, alerts and sinks with their lag', async () => {
    const s = await until(
      'both devices polled, a delivery to influx and a failed one to postgres',
      () => status(running.url),
      (v) =>
        v.devices.every((d) => d.state !== 'waiting') &&
        v.sinks.some((k) => k.name === 'influx' && k.sent > 0) &&
        v.sinks.some((k) => k.name === 'postgres' && k.reachable === false),
    );
    expect(s.gateway).toEqual({ id: 'gw-http', site: 'well-9' });
    expect(s.phase).toBe('running');
    expect(s.progress).toEqual({ ok: true, stalled: [] });
    expect(s.alerts).toEqual([]);

    const pump = s.devices.find((d) => d.id === 'pump-1');
    expect(pump).toMatchObject({ driver: 'modbus', schedule: 'every 500ms', state: 'ok', requestsPerPoll: 3 });
    expect(pump?.health?.polls).toBeGreaterThan(0);
    expect(pump?.health?.lastError).toBeNull();
    const byId = Object.fromEntries((pump?.points ?? []).map((p) => [p.id, p]));
    expect(byId.flow).toMatchObject({ value: 123.4, unit: 'm3/h', quality: 'good' });
    expect(byId.pressure).toMatchObject({ value: 3.25, unit: 'bar', quality: 'good' });
    expect(byId.running).toMatchObject({ value: true, quality: 'good' });
    expect(byId.mode).toMatchObject({ value: 'auto', quality: 'good' });
    expect(byId.flow?.ts).toBeTypeOf('number');
    expect(byId.flow?.ts).toBeLessThanOrEqual(s.now);

    const meter = s.devices.find((d) => d.id === 'meter-2');
    expect(meter?.state).toBe('failing');
    // Unreachable, then skipped while the driver backs off.
    expect(meter?.health?.lastError).toMatch(/^EDGE_DEVICE_(UNREACHABLE|BACKOFF)$/);
    expect(meter?.points[0]).toMatchObject({ id: 'energy', value: null, unit: 'kWh', quality: 'bad' });

    const influx = s.sinks.find((k) => k.name === 'influx');
    expect(influx).toMatchObject({ reachable: true, consecutiveFailures: 0, deadLettered: 0 });
    const pg = s.sinks.find((k) => k.name === 'postgres');
    expect(pg?.reachable).toBe(false);
    expect(pg?.pending).toBeGreaterThan(0);
    expect(pg?.lagSeconds).toBeGreaterThan(0);
    expect(pg?.lastError?.code).toMatch(/^EDGE_SINK_/);
    expect(s.buffer?.rows).toBeGreaterThan(0);
    // No central.url: the ops link is off, and /status says so.
    expect(s.central).toMatchObject({ state: 'disabled', url: null, lastError: null, rev: null, lastApply: null });
  });
});

describe('/metrics', () => {
  it('is valid Prometheus text with the agent, device, buffer, sink, alert and process families', async () => {
    const res = await fetch(`${running.url}/metrics`, { headers: auth });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const families = checkExposition(text);
    for (const name of [
      'edge_device_points_read_total',
      'edge_device_points_failed_total',
      'edge_device_poll_duration_seconds',
      'edge_device_requests_per_poll',
      'edge_buffer_rows',
      'edge_buffer_bytes',
      'edge_buffer_lag_seconds',
      'edge_buffer_sink_dropped_rows_total',
      'edge_buffer_dropped_rows_total',
      'edge_sink_dead_letters',
      'edge_sink_points_sent_total',
      'edge_sink_points_failed_total',
      'edge_sink_points_dead_lettered_total',
      'edge_alerts_active',
      'process_resident_memory_bytes',
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(families.has(name), `family ${name}`).toBe(true);
    }
    expect(text).toMatch(/^edge_device_requests_per_poll\{device="pump-1"\} 3$/m);
    expect(text).toMatch(/^edge_sink_up\{sink="postgres"\} 0$/m);
    expect(text).toMatch(/^edge_alerts_active\{severity="critical"\} 0$/m);
    expect(text).toMatch(/^edge_central_up 0$/m); // no central.url: no link
  });

  it('is scraped by a real scraper (VictoriaMetrics) with the bearer token', async () => {
    expect(await scraper.waitFor('up{job="edge"}', (v) => v === 1)).toBe(1);
    expect(await scraper.waitFor('edge_device_points_read_total{device="pump-1"}', (v) => v > 0)).toBeGreaterThan(0);
    expect(await scraper.waitFor('edge_sink_points_sent_total{sink="influx"}', (v) => v > 0)).toBeGreaterThan(0);
  });
});

describe('bearer token', () => {
  it('guards /metrics and /status; a wrong or missing token is a 401 with WWW-Authenticate', async () => {
    for (const path of ['/metrics', '/status']) {
      const none = await fetch(`${running.url}${path}`);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(((await none.json()) as { code: string }).code).toBe('EDGE_HTTP_UNAUTHORIZED');
      const wrong = await fetch(`${running.url}${path}`, { headers: { Authorization: `Bearer ${TOKEN}x` } });
      expect(wrong.status).toBe(401);
      await wrong.body?.cancel();
    }
    // The page itself holds no data and loads without the token.
    const page = await fetch(`${running.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    await page.body?.cancel();
  });
});

describe('a port that is taken', () => {
  it('does not stop the agent: the error is logged and listening is retried until the port is free', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
    const port = (blocker.address() as AddressInfo).port;
    const second = await startHttpAgent(`gateway: { id: gw-second }\nbuffer: { path: ${join(dir, 'b', 'buffer.db')} }\nhttp: { host: 127.0.0.1, port: ${port} }\n`, {
      http: { retryMs: 100 },
      expectListening: false,
    });
    try {
      expect(second.agent.running).toBe(true);
      expect(second.logs).toContainEqual(expect.objectContaining({ level: 'error', code: 'EDGE_HTTP_LISTEN_FAILED', errno: 'EADDRINUSE', port }));
      expect(second.logs.some((l) => l.msg === 'http listening')).toBe(false);
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
      await until('the retry to listen', () => Promise.resolve(second.logs.some((l) => l.msg === 'http listening')), (v) => v);
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      expect(health.status).toBe(200);
    } finally {
      await second.stop();
      blocker.close();
    }
  });

  it('moves the demo (movablePorts) to a free port, logged with both, and serves there; a user config does not move (above)', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
    const port = (blocker.address() as AddressInfo).port;
    const demo = await startHttpAgent(`gateway: { id: gw-demo-2 }\nbuffer: { path: ${join(dir, 'moved', 'buffer.db')} }\nhttp: { host: 127.0.0.1, port: ${port} }\n`, {
      movablePorts: true,
    });
    try {
      const moved = demo.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith(`http port ${port} is in use`));
      expect(moved).toMatchObject({ level: 'warn', configuredPort: port });
      const actual = Number(new URL(demo.url).port);
      expect(actual).not.toBe(port);
      expect(moved?.port).toBe(actual);
      expect(moved?.msg).toContain(`listen on ${actual} instead`);
      expect(demo.logs.some((l) => l.code === 'EDGE_HTTP_LISTEN_FAILED')).toBe(false);
      const health = await fetch(`${demo.url}/health`);
      expect(health.status).toBe(200);
      await health.body?.cancel();
    } finally {
      await demo.stop();
      blocker.close();
    }
  });
});

/**
 * A strict reading of the text exposition format: every line a HELP, a TYPE or a sample; every
 * sample's family typed before it; no series twice; our counters named `_total`. Returns the
 * family names.
 */
function checkExposition(text: string): Set<string> {
  const name = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const label = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\["\\\\n])*"';
  const sample = new RegExp(`^(${name})(\\{(?:${label}(?:,${label})*)?\\})? (-?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][+-]?\\d+)?|NaN|[+-]Inf)( -?\\d+)?$`);
  const types = new Map<string, string>();
  const seen = new Set<string>();
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue; // the format ignores empty lines (prom-client puts one between families)
    const help = new RegExp(`^# HELP (${name}) .*$`).exec(line);
    if (help) continue;
    const type = new RegExp(`^# TYPE (${name}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
    if (type) {
      expect(types.has(type[1] as string), `TYPE twice for ${type[1]}`).toBe(false);
      types.set(type[1] as string, type[2] as string);
      if ((type[1] as string).startsWith('edge_') && type[2] === 'counter') expect(type[1]).toMatch(/_total$/);
      continue;
    }
    const m = sample.exec(line);
    expect(m, `not a valid exposition line: ${JSON.stringify(line)}`).not.toBeNull();
    const metric = m?.[1] as string;
    const family = [metric, metric.replace(/_(bucket|sum|count)$/, '')].find((f) => types.has(f));
    expect(family, `sample ${metric} without a TYPE`).toBeDefined();
    const series = `${metric}${m?.[2] ?? ''}`;
    expect(seen.has(series), `series twice: ${series}`).toBe(false);
    seen.add(series);
  }
  return new Set(types.keys());
}
