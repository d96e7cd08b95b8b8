/**
 * A gateway that booted offline with its clock in 1970, then NTP steps the clock: the agent holds
 * what it read meanwhile, re-stamps it from the monotonic clock once the time is trusted, and
 * PostgreSQL never sees a 1970 timestamp. (flag mode: sent at once, marked uncertain.)
 * The wall clock is the one thing faked — a test cannot set the machine's clock.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CLOCK_FLOOR_MS } from '../../agent/pipeline/clock-sanity.js';
import type { Point } from '../../buffer/types.js';
import type { RunningModbusServer } from '../../drivers/modbus/server.js';
import { until } from '../helpers/buffer-file.js';
import { SkewedClock, skewedAgent } from '../helpers/clocks.js';
import { type TestSchema } from '../helpers/postgres.js';
import { startRig, type Rig } from '../helpers/rig.js';

let db: TestSchema;
let slave: RunningModbusServer;

let rig: Rig | undefined;

beforeAll(async () => {
  rig = await startRig({ name: 'clock', registers: 10 });
  ({ db, slave } = rig);
});

afterAll(() => rig?.close());

function makeAgent(gateway: string, mode: 'restamp' | 'flag', clock: SkewedClock) {
  const text = `
gateway: { id: ${gateway} }
buffer: { path: ${join(mkdtempSync(join(tmpdir(), 'edge-clock-')), 'b.db')}, untrustedClock: ${mode} }
sinks:
  postgres: { url: "${db.url}", schema: ${db.schema} }
devices:
  - id: d1
    driver: modbus
    connection: { protocol: tcp, host: 127.0.0.1, port: ${slave.port}, timeout: 500ms }
    every: 100ms
    points:
${Array.from({ length: 10 }, (_, a) => `      p${a}: { register: holding, address: ${a}, type: uint16 }`).join('\n')}
`;
  const agent = skewedAgent(text, clock);
  const emitted: Point[] = [];
  agent.pipeline.onPoints((ps) => emitted.push(...ps.map((p) => ({ ...p }))));
  return { agent, emitted };
}

async function pgRows(gateway: string): Promise<Array<{ k: string; ts: number; quality: string; error: string | null }>> {
  try {
    const r = await db.pool.query<{ k: string; ts: string; quality: string; error: string | null }>(
      `SELECT device_id || '/' || point_id AS k, (extract(epoch from ts) * 1000)::bigint AS ts, quality, error FROM "${db.schema}".points WHERE gateway_id = $1`,
      [gateway],
    );
    return r.rows.map((x) => ({ ...x, ts: Number(x.ts) }));
  } catch {
    return [];
  }
}

it('restamp: holds points read on a 1970 clock and re-stamps them once NTP steps the clock', { timeout: 60_000 }, async () => {
  const clock = new SkewedClock();
  const offline = Date.UTC(1970, 0, 1, 0, 0, 1) - Date.now();
  clock.skew = offline;
  const { agent, emitted } = makeAgent('gw-clock', 'restamp', clock);
  await agent.start();
  try {
    await until('points read on the wrong clock', () => emitted.length >= 50);
    expect(agent.bufferStats()?.held).toBeGreaterThanOrEqual(50);
    expect(agent.deliveryCounters()?.clock).toMatchObject({ trusted: false, reason: 'before-floor' });
    expect(await pgRows('gw-clock')).toEqual([]); // nothing sent with a 1970 time
    const before = emitted.length;
    clock.skew = 0; // NTP steps the clock
    await until('the held points delivered', async () => (await pgRows('gw-clock')).length >= before + 20);
    await agent.stop();
    const rows = await pgRows('gw-clock');
    expect(rows.length).toBe(emitted.length);
    expect(rows.filter((r) => r.ts < CLOCK_FLOOR_MS)).toEqual([]);
    // Each held point's time is its wrong time plus the correction (within a few ms of clock reading skew).
    const byKey = new Map<string, number[]>();
    for (const r of rows) byKey.set(r.k, [...(byKey.get(r.k) ?? []), r.ts]);
    for (const p of emitted.slice(0, before)) {
      const right = p.ts - offline;
      expect((byKey.get(`${p.deviceId}/${p.pointId}`) ?? []).some((t) => Math.abs(t - right) < 50)).toBe(true);
    }
    expect(agent.deliveryCounters()).toBeUndefined();
  } finally {
    await agent.stop();
  }
});

it('flag: sends points read on an untrusted clock at once, marked uncertain with EDGE_CLOCK_UNTRUSTED', { timeout: 60_000 }, async () => {
  const clock = new SkewedClock();
  clock.skew = Date.UTC(1970, 0, 2) - Date.now();
  const { agent, emitted } = makeAgent('gw-flag', 'flag', clock);
  await agent.start();
  try {
    await until('flagged points in PostgreSQL', async () => (await pgRows('gw-flag')).length >= 30);
    clock.skew = 0;
    const at = emitted.length;
    await until('good points again', () => emitted.length >= at + 20);
    await agent.stop();
    const rows = await pgRows('gw-flag');
    const early = rows.filter((r) => r.ts < CLOCK_FLOOR_MS);
    expect(early.length).toBeGreaterThanOrEqual(30);
    expect(early.every((r) => r.quality === 'uncertain' && r.error === 'EDGE_CLOCK_UNTRUSTED')).toBe(true);
    expect(rows.filter((r) => r.ts >= CLOCK_FLOOR_MS).every((r) => r.quality === 'good')).toBe(true);
  } finally {
    await agent.stop();
  }
});
