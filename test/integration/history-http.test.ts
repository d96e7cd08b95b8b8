/**
 * GET /history against a real agent polling a Modbus TCP slave every 200 ms, with 1-second fine
 * buckets: the trend follows what the slave holds (min/avg/max per bucket), a value suppressed by
 * report-by-exception is still in it, a sink that is down makes no gap, the token rule of /status
 * holds, bad requests get 400/404 with the reason, and the history survives a restart in the file.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningModbusServer } from '../../drivers/modbus/server.js';
import type { HistoryResponse } from '../../agent/ops/history.js';
import { startHttpAgent, type HttpAgent } from '../helpers/http-agent.js';
import { closedPort, RegisterImage, startImageServer } from '../helpers/modbus-server.js';

const TOKEN = 'history-token-7';
const dir = mkdtempSync(join(tmpdir(), 'edge-history-http-'));
const bufferPath = join(dir, 'buffer.db');
const image = new RegisterImage().setValue('holding', 0, 100, 'uint16').setValue('holding', 1, 50, 'uint16');
let slave: RunningModbusServer;
let running: HttpAgent | undefined;
let yaml: string;

beforeAll(async () => {
  slave = await startImageServer(image);
  const pgPort = await closedPort();
  yaml = `
gateway: { id: gw-history }
buffer: { path: ${bufferPath}, history: { step: 1s, keep: 10m, longStep: 5s, longKeep: 1h } }
sinks:
  postgres: { url: "postgres://edge@127.0.0.1:${pgPort}/telemetry" }
http: { host: 127.0.0.1, port: 0, token: ${TOKEN} }
devices:
  - id: pump-1
    driver: modbus
    connection: { protocol: tcp, host: 127.0.0.1, port: ${slave.port}, unitId: 1, timeout: 500ms }
    every: 200ms
    points:
      flow:  { register: holding, address: 0, type: uint16, scale: 0.1, unit: m3/h }
      level: { register: holding, address: 1, type: uint16, unit: cm, deadband: 1000 }
`;
  writeFileSync(join(dir, 'config.yaml'), yaml);
  running = await startHttpAgent(yaml);
});

afterAll(async () => {
  await running?.stop();
  await slave?.close();
});

async function get(path: string, token: string | null = TOKEN): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${running?.url}${path}`, { headers: token === null ? {} : { Authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
}

async function history(query: string): Promise<HistoryResponse> {
  const r = await get(`/history?${query}`);
  expect(r.status).toBe(200);
  return r.body as HistoryResponse;
}

describe('GET /history', () => {
  it('follows what the device holds, bucket by bucket, independent of delivery', async () => {
    // A few buckets at 10.0 m3/h, then the flow rises to 30.0.
    await expect.poll(async () => (await history('device=pump-1&point=flow&minutes=1&step=1')).buckets.filter((b) => b.n >= 3).length, { timeout: 10_000, interval: 200 }).toBeGreaterThanOrEqual(2);
    image.setValue('holding', 0, 300, 'uint16');
    await expect.poll(async () => (await history('device=pump-1&point=flow&minutes=1&step=1')).buckets.filter((b) => b.min === 30 && b.n >= 3).length, { timeout: 10_000, interval: 200 }).toBeGreaterThanOrEqual(2);

    const h = await history('device=pump-1&point=flow&minutes=1&step=1');
    expect(h).toMatchObject({ device: 'pump-1', point: 'flow', unit: 'm3/h', step: 1 });
    const ts = h.buckets.map((b) => b.ts);
    expect(ts).toEqual([...ts].sort((a, b) => a - b));
    for (const b of h.buckets) {
      expect(b.ts % 1000).toBe(0);
      expect(b.n).toBeGreaterThanOrEqual(1);
      expect(b.n).toBeLessThanOrEqual(7); // one reading per 200 ms, give or take a late poll
      expect([10, 30]).toContain(b.min);
      expect([10, 30]).toContain(b.max);
      expect(b.avg).toBeGreaterThanOrEqual(b.min);
      expect(b.avg).toBeLessThanOrEqual(b.max);
    }
    expect(h.buckets[0]?.avg).toBe(10);
    expect(h.buckets.at(-1)?.avg).toBe(30);

    // Wider steps fold the same fine buckets: n adds up, min and max stay.
    const wide = await history('device=pump-1&point=flow&minutes=1&step=5');
    expect(wide.step).toBe(5);
    expect(wide.buckets.reduce((n, b) => n + b.n, 0)).toBeGreaterThanOrEqual(h.buckets.reduce((n, b) => n + b.n, 0));
    expect(Math.min(...wide.buckets.map((b) => b.min))).toBe(10);
    expect(Math.max(...wide.buckets.map((b) => b.max))).toBe(30);

    // level never leaves its deadband after the first reading, so only one point was reported; the history has them all.
    const level = await history('device=pump-1&point=level&minutes=1&step=1');
    expect(level.unit).toBe('cm');
    expect(level.buckets.reduce((n, b) => n + b.n, 0)).toBeGreaterThan(10);
    expect(level.buckets.every((b) => b.min === 50 && b.max === 50)).toBe(true);
    // …while the sink is down the whole time.
    const status = (await get('/status')).body as { sinks: Array<{ name: string; reachable: boolean | null }> };
    expect(status.sinks).toEqual([expect.objectContaining({ name: 'postgres', reachable: false })]);
  });

  it('asks for the token like /status, and says what is wrong with a request', async () => {
    expect((await get('/history?device=pump-1&point=flow&minutes=5', null)).status).toBe(401);
    expect((await get('/history?device=pump-1&point=flow&minutes=5', 'wrong')).status).toBe(401);
    const cases: Array<[string, number, string]> = [
      ['point=flow&minutes=5', 400, "'device' is required"],
      ['device=pump-1&point=flow&minutes=0', 400, "'minutes' must be a whole number from 1 to 60"],
      ['device=pump-1&point=flow&minutes=30&step=3', 400, 'fits no kept history'],
      ['device=pump-1&point=flow&minutes=5&step=soon', 400, "'step' must be whole seconds"],
      ['device=pump-2&point=flow&minutes=5', 404, "no device 'pump-2'"],
      ['device=pump-1&point=speed&minutes=5', 404, "no point 'speed' (it has: flow, level)"],
    ];
    for (const [q, status, message] of cases) {
      const r = await get(`/history?${q}`);
      expect({ q, status: r.status }).toEqual({ q, status });
      expect((r.body as { error: string }).error).toContain(message);
    }
  });

  it('keeps the history in the buffer file across a restart', async () => {
    const before = await history('device=pump-1&point=flow&minutes=1&step=1');
    await running?.stop();
    running = undefined;
    const db = new Database(bufferPath, { readonly: true });
    const rows = db.prepare("SELECT count(*) FROM history h JOIN history_series s ON s.id = h.series_id WHERE s.point_id = 'flow' AND h.tier = 0").pluck().get() as number;
    db.close();
    expect(rows).toBeGreaterThanOrEqual(before.buckets.length);

    running = await startHttpAgent(yaml);
    const after = await history('device=pump-1&point=flow&minutes=1&step=1');
    // Every bucket of the first run is still there, with at least the readings it had.
    for (const b of before.buckets) {
      const again = after.buckets.find((x) => x.ts === b.ts);
      expect(again?.n ?? 0).toBeGreaterThanOrEqual(b.n);
    }
    expect(after.buckets.find((b) => b.ts === before.buckets[0]?.ts)).toMatchObject({ min: 10, max: 10 });
  });
});
