/**
 * The whole path of a reading on real components: a Modbus TCP slave → the agent (scheduler,
 * driver, transforms, SQLite buffer, forwarders) → VictoriaMetrics (InfluxDB v2 write API) and
 * PostgreSQL. Outages are real: the sinks sit behind TCP proxies that are taken down and up.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../agent/agent.js';
import type { Point } from '../../buffer/types.js';
import { loadConfig } from '../../config/index.js';
import { createTestSchema, PGURL, type TestSchema } from '../helpers/postgres.js';
import { RegisterImage, startImageServer } from '../helpers/modbus-server.js';
import type { RunningModbusServer } from '../../drivers/modbus/server.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { VictoriaMetrics } from '../helpers/victoria.js';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
let vm: VictoriaMetrics;
let db: TestSchema;
let slave: RunningModbusServer;
const image = new RegisterImage();

beforeAll(async () => {
  [vm, db] = await Promise.all([VictoriaMetrics.start(), createTestSchema('e2e')]);
  image
    .setValue('holding', 0, 1234, 'uint16')
    .setValue('holding', 1, 123.456, 'float32', 'ABCD')
    .setValue('holding', 3, 4_000_000_123, 'uint32', 'CDAB')
    .setValue('input', 0, -250, 'int16')
    .setValue('coil', 0, true, 'bool')
    .setValue('holding', 10, 2, 'uint16');
  slave = await startImageServer(image);
});

afterAll(async () => {
  await slave?.close();
  await vm?.remove();
  await db?.drop();
});

function configText(opts: { influxUrl: string; pgUrl: string; bufferPath: string; gateway: string; every?: string }): string {
  return `
gateway: { id: ${opts.gateway}, site: well-17, tags: { region: maule } }
buffer: { path: ${opts.bufferPath} }
sinks:
  influx: { url: ${opts.influxUrl}, token: "\${INFLUX_TOKEN}", org: ops, bucket: telemetry }
  postgres: { url: "${opts.pgUrl}", schema: ${db.schema} }
log: { level: warn }
templates:
  pump:
    measurement: pump
    tags: { vendor: acme }
    points:
      flow:     { register: holding, address: 0, type: uint16, scale: 0.1, unit: m3/h }
      pressure: { register: holding, address: 1, type: float32, decimals: 2, unit: bar }
      total:    { register: holding, address: 3, type: uint32, order: CDAB, unit: m3 }
      temp:     { register: input, address: 0, type: int16, scale: 0.1, unit: °C }
      running:  { register: coil, address: 0 }
      mode:     { register: holding, address: 10, type: uint16, map: { 1: manual, 2: auto } }
devices:
  - id: pump-1
    driver: modbus
    connection: { protocol: tcp, host: 127.0.0.1, port: ${slave.port}, unitId: 1, timeout: 500ms }
    every: ${opts.every ?? '500ms'}
    template: pump
    tags: { well: W-17 }
    points:
      flow: { tags: { meter: FT-1 } }
`;
}

function makeAgent(text: string): { agent: Agent; emitted: Point[] } {
  const config = loadConfig({ text, format: 'yaml', env: { INFLUX_TOKEN: 'secret-token' } });
  const agent = new Agent({ config, logger, forwarder: { idleMs: 100, backoff: { initialMs: 100, maxMs: 500 } }, stopGraceMs: 3000 });
  const emitted: Point[] = [];
  agent.pipeline.onPoints((ps) => emitted.push(...ps));
  return { agent, emitted };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface PgRow {
  point_id: string;
  ts: string;
  [column: string]: unknown;
}

async function pgRows(gateway: string): Promise<PgRow[]> {
  try {
    const r = await db.pool.query<PgRow>(`SELECT device_id, point_id, (extract(epoch from ts) * 1000)::bigint AS ts, measurement, value, value_text, value_bool, raw, quality, unit, tags
      FROM "${db.schema}".points WHERE gateway_id = $1 ORDER BY ts, point_id`, [gateway]);
    return r.rows;
  } catch (err) {
    if ((err as { code?: string }).code === '42P01') return []; // table not created yet
    throw err;
  }
}

const key = (p: { pointId?: string; point_id?: string; ts: number | string }) => `${p.pointId ?? p.point_id}@${Number(p.ts)}`;

describe('agent end to end', () => {
  it('delivers tagged, transformed values to InfluxDB and PostgreSQL, and mirrors the catalog', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-e2e-'));
    const { agent, emitted } = makeAgent(configText({ influxUrl: vm.url, pgUrl: db.url, bufferPath: join(dir, 'b.db'), gateway: 'gw-a' }));
    await agent.start();
    try {
      await until('two cycles in PostgreSQL', async () => (await pgRows('gw-a')).length >= 12);
    } finally {
      await agent.stop();
    }
    const rows = await pgRows('gw-a');
    const flow = rows.find((r) => r.point_id === 'flow');
    expect(flow).toMatchObject({ device_id: 'pump-1', measurement: 'pump', value: 123.4, raw: 1234, quality: 'good', unit: 'm3/h' });
    expect(flow?.tags).toEqual({ gateway: 'gw-a', site: 'well-17', device: 'pump-1', point: 'flow', region: 'maule', vendor: 'acme', well: 'W-17', meter: 'FT-1' });
    expect(rows.find((r) => r.point_id === 'pressure')?.value).toBe(123.46);
    expect(rows.find((r) => r.point_id === 'total')?.value).toBe(4_000_000_123);
    expect(rows.find((r) => r.point_id === 'temp')?.value).toBe(-25);
    expect(rows.find((r) => r.point_id === 'running')).toMatchObject({ value_bool: true, value: null });
    expect(rows.find((r) => r.point_id === 'mode')).toMatchObject({ value_text: 'auto', raw: 2 });
    // Everything the pipeline emitted arrived, once.
    expect(new Set(rows.map(key))).toEqual(new Set(emitted.map(key)));
    expect(rows.length).toBe(emitted.length);

    const flowPoints = emitted.filter((p) => p.pointId === 'flow');
    await until('every flow sample in VictoriaMetrics', async () => (await vm.count('{__name__="pump_value",gateway="gw-a",point="flow"}')) >= flowPoints.length);
    const series = await vm.query('{__name__="pump_value",gateway="gw-a",point="flow"}');
    expect(series).toHaveLength(1);
    expect(series[0]?.metric).toMatchObject({ gateway: 'gw-a', site: 'well-17', device: 'pump-1', point: 'flow', region: 'maule', well: 'W-17', meter: 'FT-1' });
    expect(series[0]?.timestamps.slice().sort()).toEqual(flowPoints.map((p) => p.ts).sort());
    expect(new Set(series[0]?.values)).toEqual(new Set([123.4]));

    const bindings = await db.pool.query(`SELECT point_id, measurement, unit FROM "${db.schema}".timeseries_binding WHERE gateway_id = 'gw-a' AND active ORDER BY point_id`);
    expect(bindings.rows.map((r) => r.point_id)).toEqual(['flow', 'mode', 'pressure', 'running', 'temp', 'total']);
    const tags = await db.pool.query(`SELECT tag_key, tag_value FROM "${db.schema}".timeseries_binding_tag WHERE gateway_id = 'gw-a' AND point_id = 'flow' ORDER BY tag_key`);
    expect(tags.rows).toContainEqual({ tag_key: 'meter', tag_value: 'FT-1' });
  });

  it('buffers while both sinks are unreachable and delivers everything once they are back', async () => {
    const pg = new URL(PGURL);
    const pgProxy = new TcpProxy({ host: pg.hostname, port: Number(pg.port || 5432) });
    const vmProxy = new TcpProxy({ host: '127.0.0.1', port: Number(new URL(vm.url).port) });
    await Promise.all([pgProxy.up(), vmProxy.up()]);
    await Promise.all([pgProxy.down(), vmProxy.down()]); // ports reserved, nothing listening: an outage
    const pgUrl = new URL(PGURL);
    pgUrl.hostname = '127.0.0.1';
    pgUrl.port = String(pgProxy.port);
    const dir = mkdtempSync(join(tmpdir(), 'edge-e2e-'));
    const { agent, emitted } = makeAgent(
      configText({ influxUrl: `http://127.0.0.1:${vmProxy.port}`, pgUrl: pgUrl.toString(), bufferPath: join(dir, 'b.db'), gateway: 'gw-b' }),
    );
    await agent.start();
    try {
      await until('several cycles read during the outage', async () => emitted.length >= 24);
      expect(await pgRows('gw-b')).toHaveLength(0);
      await Promise.all([pgProxy.up(), vmProxy.up()]);
      await until('the backlog in PostgreSQL', async () => {
        const rows = await pgRows('gw-b');
        return emitted.length > 0 && rows.length >= emitted.length;
      });
    } finally {
      await agent.stop();
      await Promise.all([pgProxy.down(), vmProxy.down()]);
    }
    const rows = await pgRows('gw-b');
    expect(rows.length).toBe(emitted.length);
    expect(new Set(rows.map(key))).toEqual(new Set(emitted.map(key)));
    const numericFlow = emitted.filter((p) => p.pointId === 'flow');
    await until('the backlog in VictoriaMetrics', async () => (await vm.count('{__name__="pump_value",gateway="gw-b",point="flow"}')) === numericFlow.length);
  });

  it('delivers after a restart what a stopped agent could not, with no duplicates', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-e2e-'));
    const bufferPath = join(dir, 'b.db');
    const deadPg = new URL(PGURL);
    deadPg.hostname = '127.0.0.1';
    deadPg.port = '1'; // nothing listens on port 1: refused at once
    // First run: sinks unreachable; points pile up in the buffer, then the agent is stopped.
    const first = makeAgent(configText({ influxUrl: 'http://127.0.0.1:1', pgUrl: deadPg.toString(), bufferPath, gateway: 'gw-c' }));
    await first.agent.start();
    await until('points read', async () => first.emitted.length >= 18);
    await first.agent.stop();
    const undelivered = first.emitted.length;
    expect(undelivered).toBeGreaterThanOrEqual(18);

    // Second run, sinks back: the old points arrive along with the new ones, each once.
    const second = makeAgent(configText({ influxUrl: vm.url, pgUrl: db.url, bufferPath, gateway: 'gw-c', every: '1h' }));
    await second.agent.start();
    try {
      await until('the first run\'s points in PostgreSQL', async () => (await pgRows('gw-c')).length >= undelivered);
    } finally {
      await second.agent.stop();
    }
    const all = [...first.emitted, ...second.emitted];
    const rows = await pgRows('gw-c');
    expect(rows.length).toBe(all.length);
    expect(new Set(rows.map(key))).toEqual(new Set(all.map(key)));
    const flows = all.filter((p) => p.pointId === 'flow').length;
    await until('the first run\'s points in VictoriaMetrics', async () => (await vm.count('{__name__="pump_value",gateway="gw-c",point="flow"}')) === flows);
  });
});
