/**
 * Dead letters on real components, and the technician's commands. PostgreSQL rejects some points
 * for real (a CHECK constraint a DBA added: SQLSTATE 23514, invalid data); the agent bisects each
 * batch, dead-letters exactly those points for PostgreSQL only, and goes on. `edge-agent buffer
 * stats | dead-letters | replay` (the built CLI, beside the running agent) show and repair it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Agent } from '../../agent/agent.js';
import type { Point } from '../../buffer/types.js';
import { loadConfig } from '../../config/index.js';
import type { RunningModbusServer } from '../../drivers/modbus/server.js';
import { pgPointKeys, until } from '../helpers/buffer-file.js';
import { runCli } from '../helpers/cli.js';
import { RegisterImage, startImageServer } from '../helpers/modbus-server.js';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';
import { VictoriaMetrics } from '../helpers/victoria.js';

let vm: VictoriaMetrics;
let db: TestSchema;
let slave: RunningModbusServer;

beforeAll(async () => {
  [vm, db] = await Promise.all([VictoriaMetrics.start(), createTestSchema('dead')]);
  const image = new RegisterImage();
  image.setValue('holding', 0, 12, 'int16').setValue('holding', 1, -7, 'int16').setValue('holding', 2, 30, 'int16');
  slave = await startImageServer(image);
});

afterAll(async () => {
  await slave?.close();
  await vm?.remove();
  await db?.drop();
});

it('dead-letters only what PostgreSQL rejects, keeps delivering, and replays it once fixed', { timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'edge-dead-'));
  const text = `
gateway: { id: gw-dead }
buffer: { path: ${join(dir, 'b.db')} }
sinks:
  influx: { url: ${vm.url}, org: ops, bucket: telemetry }
  postgres: { url: "${db.url}", schema: ${db.schema} }
http: { port: 0 }
log: { level: warn }
devices:
  - id: tank
    driver: modbus
    connection: { protocol: tcp, host: 127.0.0.1, port: ${slave.port}, timeout: 500ms }
    every: 200ms
    measurement: tank
    points:
      a: { register: holding, address: 0, type: int16 }
      level: { register: holding, address: 1, type: int16 }
      c: { register: holding, address: 2, type: int16 }
`;
  const configFile = join(dir, 'config.yaml');
  writeFileSync(configFile, text);
  const errors: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'warn' }, { write: (l: string) => errors.push(JSON.parse(l) as Record<string, unknown>) });
  const agent = new Agent({ config: loadConfig({ text, format: 'yaml', env: {} }), logger, forwarder: { idleMs: 100, backoff: { initialMs: 100, maxMs: 400 } }, stopGraceMs: 3000 });
  const emitted: Point[] = [];
  agent.pipeline.onPoints((ps) => emitted.push(...ps));
  await agent.start();
  try {
    // The sink creates its tables on the first write; then a DBA adds a constraint: negative values are refused.
    await until('tables created by the sink', async () => {
      try {
        await db.pool.query(`ALTER TABLE "${db.schema}".points ADD CONSTRAINT no_negative CHECK (value IS NULL OR value >= 0) NOT VALID`);
        return true;
      } catch {
        return false;
      }
    });
    const from = emitted.length; // points before the constraint may have gone in
    await until('several cycles with a rejected point', () => (agent.deliveryCounters()?.sinks.postgres?.deadLettered ?? 0) >= 5);
    const c = agent.deliveryCounters();
    expect(c?.sinks.influx?.deadLettered).toBe(0);
    expect(errors.some((e) => e.code === 'EDGE_SINK_INVALID' && e.point === 'level' && e.sink === 'postgres')).toBe(true);

    // What a technician sees, beside the running agent.
    const table = await runCli(['buffer', 'stats', '--config', configFile]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^sink\s+behind \(points\)\s+oldest waiting\s+dropped\s+dead letters/m);
    expect(table.stdout).toMatch(/^postgres\s+\d+\s+.*\s+0\s+\d+/m);
    const stats = JSON.parse((await runCli(['buffer', 'stats', '--json', '--config', configFile])).stdout) as {
      sinks: Record<string, { deadLetters: number; dropped: number; behindPoints: number }>;
    };
    expect(stats.sinks.postgres?.deadLetters).toBeGreaterThanOrEqual(5);
    expect(stats.sinks.influx?.deadLetters).toBe(0);
    const list = await runCli(['buffer', 'dead-letters', '--config', configFile, '--sink', 'postgres']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/postgres\s+tank\/level\s+\S+\s+-7\s+.*EDGE_SINK_INVALID: .*no_negative/);
    const asJson = JSON.parse((await runCli(['buffer', 'dead-letters', '--json', '--config', configFile])).stdout) as Array<{ point: Point; sink: string }>;
    expect(asJson.every((d) => d.sink === 'postgres' && d.point.pointId === 'level' && d.point.value === -7)).toBe(true);

    // Every other point arrived: one bad point never blocks the queue.
    // The points read so far, fixed now: the device goes on being read every 200 ms, and on a loaded
    // machine a target that grows with every cycle can stay one cycle ahead of delivery for ever.
    const good = emitted.slice(from).filter((p) => p.pointId !== 'level');
    expect(good.length).toBeGreaterThan(0);
    await until('the good points in PostgreSQL', async () => {
      const pg = await pgPointKeys(db.pool, db.schema, 'gw-dead');
      return good.every((p) => pg.has(`${p.deviceId}/${p.pointId}@${p.ts}`));
    });

    // The DBA drops the constraint; the technician replays. Only PostgreSQL gets them again.
    await db.pool.query(`ALTER TABLE "${db.schema}".points DROP CONSTRAINT no_negative`);
    const vmBefore = await vm.count('{__name__="tank_value",gateway="gw-dead",point="level"}');
    const replay = await runCli(['buffer', 'replay', '--config', configFile, '--sink', 'postgres']);
    expect(replay.code).toBe(0);
    expect(replay.stdout).toMatch(/^moved \d+ dead letters back for delivery \(postgres \d+\)/);
    await until('replayed dead letters delivered', async () => {
      const s = JSON.parse((await runCli(['buffer', 'stats', '--json', '--config', configFile])).stdout) as { sinks: Record<string, { deadLetters: number }> };
      return s.sinks.postgres?.deadLetters === 0;
    });
    await agent.stop();
    const pg = await pgPointKeys(db.pool, db.schema, 'gw-dead');
    expect(emitted.filter((p) => !pg.has(`${p.deviceId}/${p.pointId}@${p.ts}`))).toEqual([]);
    expect([...pg.values()].every((n) => n === 1)).toBe(true);
    // VictoriaMetrics took every level point the first time; the replay was for PostgreSQL only.
    expect(await vm.count('{__name__="tank_value",gateway="gw-dead",point="level"}')).toBeGreaterThanOrEqual(vmBefore);
    expect(agent.deliveryCounters()).toBeUndefined(); // stopped
    const nothing = await runCli(['buffer', 'replay', '--config', configFile]);
    expect(nothing.stdout.trim()).toBe('no dead letters to replay');
  } finally {
    await agent.stop();
  }
});
