/**
 * Real outages under a running agent: PostgreSQL taken away (TCP proxy down) and brought back,
 * VictoriaMetrics SIGKILLed and restarted; and a long outage against a small bound, where the
 * buffer must evict oldest-first, never exceed the bound, and say what it dropped.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Agent } from '../../agent/agent.js';
import type { Point } from '../../buffer/types.js';
import { loadConfig } from '../../config/index.js';
import type { RunningModbusServer } from '../../drivers/modbus/server.js';
import { pgPointKeys, readBufferFile, until } from '../helpers/buffer-file.js';
import { PGURL, type TestSchema } from '../helpers/postgres.js';
import { startRig, type InfluxRig } from '../helpers/rig.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { VictoriaMetrics } from '../helpers/victoria.js';

let vm: VictoriaMetrics;
let db: TestSchema;
let slave: RunningModbusServer;
let pgProxy: TcpProxy;
let vmProxy: TcpProxy;

let rig: InfluxRig | undefined;

beforeAll(async () => {
  rig = await startRig({ name: 'outage', registers: 30, influx: true });
  ({ vm, db, slave, pgProxy, vmProxy } = rig);
});

afterAll(() => rig?.close());

function agentFor(gateway: string, opts: { buffer?: string; influxUrl: string }): { agent: Agent; emitted: Point[]; logs: Array<Record<string, unknown>> } {
  const pgUrl = new URL(PGURL);
  pgUrl.hostname = '127.0.0.1';
  pgUrl.port = String(pgProxy.port);
  const points = Array.from({ length: 30 }, (_, a) => `      p${a}: { register: holding, address: ${a}, type: uint16 }`).join('\n');
  const device = (id: string) =>
    `  - { id: ${id}, driver: modbus, template: t, every: 100ms, connection: { protocol: tcp, host: 127.0.0.1, port: ${slave.port}, timeout: 500ms } }`;
  const text = `
gateway: { id: ${gateway} }
buffer: { path: ${join(mkdtempSync(join(tmpdir(), 'edge-outage-')), 'b.db')}${opts.buffer ?? ''} }
sinks:
  influx: { url: ${opts.influxUrl}, org: ops, bucket: telemetry }
  postgres: { url: "${pgUrl.toString()}", schema: ${db.schema} }
templates:
  t:
    measurement: outage
    points:
${points}
devices:
${device('d1')}
${device('d2')}
`;
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>) });
  const agent = new Agent({ config: loadConfig({ text, format: 'yaml', env: {} }), logger, forwarder: { idleMs: 100, backoff: { initialMs: 100, maxMs: 400 } }, stopGraceMs: 3000 });
  const emitted: Point[] = [];
  agent.pipeline.onPoints((ps) => emitted.push(...ps));
  return { agent, emitted, logs };
}

const key = (p: Point) => `${p.deviceId}/${p.pointId}@${p.ts}`;

it('survives PostgreSQL taken away and VictoriaMetrics SIGKILLed mid-run: PostgreSQL gets every point once, VictoriaMetrics everything it had not acked', { timeout: 90_000 }, async () => {
  const { agent, emitted } = agentFor('gw-outage', { influxUrl: vm.url });
  await agent.start();
  try {
    await until('points delivered', async () => (await pgPointKeys(db.pool, db.schema, 'gw-outage')).size >= 120);
    await pgProxy.down();
    await vm.kill(); // a crashed server: whatever it had not persisted is its loss, not ours
    const downFrom = emitted.length;
    await until('points read during the outage', () => emitted.length >= downFrom + 600);
    const counters = agent.deliveryCounters();
    expect(counters?.sinks.postgres?.lagRows).toBeGreaterThanOrEqual(600);
    expect(counters?.sinks.influx?.lagRows).toBeGreaterThanOrEqual(600);
    await Promise.all([pgProxy.up(), vm.restart()]);
    // Caught up: behind by less than a couple of poll cycles (60 points each) while polls go on.
    await until('both sinks caught up', () => {
      const c = agent.deliveryCounters();
      return (c?.sinks.postgres?.lagRows ?? Infinity) < 150 && (c?.sinks.influx?.lagRows ?? Infinity) < 150;
    }, 30_000);
    const after = agent.deliveryCounters();
    expect(after?.sinks.postgres).toMatchObject({ dropped: 0, deadLettered: 0, consecutiveFailures: 0 });
    expect(after?.sinks.postgres?.failed).toBeGreaterThan(0);
    expect(after?.sinks.influx?.failed).toBeGreaterThan(0);

    await agent.stop();
    const pg = await pgPointKeys(db.pool, db.schema, 'gw-outage');
    expect(pg.size).toBe(emitted.length);
    expect([...pg.values()].every((n) => n === 1)).toBe(true);
    expect(emitted.filter((p) => !pg.has(key(p)))).toEqual([]);
    // Everything read while VictoriaMetrics was dead was delivered after its restart.
    const missing = async () => {
      const series = await vm.query('{__name__="outage_value",gateway="gw-outage"}');
      const inVm = new Set(series.flatMap((s) => s.timestamps.map((t) => `${s.metric.device}/${s.metric.point}@${t}`)));
      // Points without a value (a failed read) never go to InfluxDB: a line needs a field.
      return emitted.slice(downFrom).filter((p) => p.value !== null && !inVm.has(key(p)));
    };
    // What a sink had not taken when the agent stopped (it may have been in a back-off wait) is
    // still in the buffer for the next start: nothing is lost.
    const buffered = new Set(readBufferFile(agent.config.settings.buffer.path).rows.map((r) => r.key));
    await until('the outage backlog in VictoriaMetrics', async () => (await missing()).every((p) => buffered.has(key(p))), 5_000).catch(() => {});
    expect((await missing()).filter((p) => !buffered.has(key(p)))).toEqual([]);
  } finally {
    await agent.stop();
    await Promise.all([pgProxy.up(), vm.restart()]);
  }
});

it('holds a long outage within the bound: evicts oldest first, never exceeds it, counts and reports what it dropped', { timeout: 90_000 }, async () => {
  await Promise.all([pgProxy.down(), vmProxy.down()]);
  const { agent, emitted, logs } = agentFor('gw-bound', { buffer: ', maxRows: 600', influxUrl: `http://127.0.0.1:${vmProxy.port}` });
  await agent.start();
  let maxRows = 0;
  const sampler = setInterval(() => {
    maxRows = Math.max(maxRows, agent.bufferStats()?.rows ?? 0);
  }, 20);
  try {
    await until('a long outage: many times the bound read', () => emitted.length >= 3000, 60_000);
    const during = agent.deliveryCounters();
    expect(during?.buffer.rows).toBe(600);
    expect(during?.buffer.dropped).toBe(emitted.length - 600);
    expect(during?.sinks.postgres?.dropped).toBe(emitted.length - 600);
    expect(during?.sinks.influx?.dropped).toBe(emitted.length - 600);
    // One warning (rate-limited: a line a minute), saying how many and for whom.
    const warnings = logs.filter((l) => l.code === 'EDGE_BUFFER_POINTS_DROPPED');
    expect(warnings.length).toBeGreaterThanOrEqual(1);
    expect(warnings.length).toBeLessThanOrEqual(2);
    expect(warnings[0]).toMatchObject({ level: 40, bySink: { influx: expect.any(Number), postgres: expect.any(Number) } });

    await agent.stop(); // stop polling: what is buffered now is what must arrive
    clearInterval(sampler);
    expect(maxRows).toBeLessThanOrEqual(600);
    const file = readBufferFile(agent.config.settings.buffer.path);
    const kept = file.rows.length;
    expect(file.lastSeq).toBe(emitted.length);
    await Promise.all([pgProxy.up(), vmProxy.up()]);
    const { agent: again } = agentFor('gw-bound', { buffer: ', maxRows: 600', influxUrl: `http://127.0.0.1:${vmProxy.port}` });
    // Same buffer file: reuse the first agent's path.
    (again.config.settings.buffer as { path: string }).path = agent.config.settings.buffer.path;
    await again.start();
    await until('the kept points delivered', async () => (await pgPointKeys(db.pool, db.schema, 'gw-bound')).size >= kept, 30_000);
    await again.stop();
    const pg = await pgPointKeys(db.pool, db.schema, 'gw-bound');
    // The newest points survived, oldest first out: of the outage's points, exactly the last `kept` arrived.
    expect(kept).toBe(600);
    const outage = new Set(emitted.map(key));
    expect(new Set([...pg.keys()].filter((k) => outage.has(k)))).toEqual(new Set(emitted.slice(emitted.length - kept).map(key)));
  } finally {
    clearInterval(sampler);
    await agent.stop();
    await Promise.all([pgProxy.up(), vmProxy.up()]);
  }
});
