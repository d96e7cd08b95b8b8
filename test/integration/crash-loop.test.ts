/**
 * SIGKILL the real agent (the built CLI) at random moments during heavy ingest and draining, many
 * times, with sink outages in between; then let it drain and check that every point ever
 * committed to the buffer is in PostgreSQL exactly once and in VictoriaMetrics (InfluxDB API).
 *
 * Ground truth: seqs are assigned from a persisted counter, contiguous from 1 and never reused,
 * and committed with the rows, so the file's final seq counter is the number of points ever
 * committed (each has its own device/point/timestamp). On top, every point the agent printed
 * (`--print` prints after the commit) and every row seen in the file between runs must be
 * centrally, by name.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningModbusServer } from '../../drivers/modbus/server.js';
import { pgPointKeys, readBufferFile, seeded, until } from '../helpers/buffer-file.js';
import { collect, runCli, startCli, waitForOutput } from '../helpers/cli.js';
import { RegisterImage } from '../helpers/modbus-server.js';
import { PGURL, type TestSchema } from '../helpers/postgres.js';
import { startRig, type InfluxRig } from '../helpers/rig.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { VictoriaMetrics } from '../helpers/victoria.js';

const POINTS_PER_DEVICE = 40;
const KILLS = 8;
const GATEWAY = 'gw-crash';

let vm: VictoriaMetrics;
let db: TestSchema;
let slave: RunningModbusServer;
let pgProxy: TcpProxy;
let vmProxy: TcpProxy;

/**
 * VictoriaMetrics acknowledges a write before it persists it (in-memory parts are saved every
 * few seconds), so a SIGKILL of the server itself loses what it had acked — its durability, not
 * the agent's (outage-sinks.test.ts kills it and checks what the agent answers for). Here the link
 * is cut and the server stopped, which the agent sees the same way: writes refused, then back.
 */
async function stopVictoria(): Promise<void> {
  await vmProxy.down();
  await vm.stop();
}

let rig: InfluxRig | undefined;

beforeAll(async () => {
  const image = new RegisterImage();
  for (let a = 0; a < POINTS_PER_DEVICE; a++) image.setValue('holding', a, 1000 + a, 'uint16');
  rig = await startRig({ name: 'crash', image, influx: true });
  ({ vm, db, slave, pgProxy, vmProxy } = rig);
});

afterAll(() => rig?.close());

function config(bufferPath: string, every: string, logLevel = 'warn'): string {
  const pgUrl = new URL(PGURL);
  pgUrl.hostname = '127.0.0.1';
  pgUrl.port = String(pgProxy.port);
  const points = Array.from({ length: POINTS_PER_DEVICE }, (_, a) => `      p${a}: { register: holding, address: ${a}, type: uint16 }`).join('\n');
  const device = (id: string) =>
    `  - { id: ${id}, driver: modbus, template: t, every: ${every}, connection: { protocol: tcp, host: 127.0.0.1, port: ${slave.port}, timeout: 500ms } }`;
  return `
gateway: { id: ${GATEWAY}, site: crash }
buffer: { path: ${bufferPath} }
sinks:
  influx: { url: http://127.0.0.1:${vmProxy.port}, org: ops, bucket: telemetry }
  postgres: { url: "${pgUrl.toString()}", schema: ${db.schema} }
http: { port: 0 }
log: { level: ${logLevel} }
templates:
  t:
    measurement: crash
    points:
${points}
devices:
${device('d1')}
${device('d2')}
`;
}

const PRINTED = /^(\d{4}-\d\d-\d\dT[\d:.]+Z) {2}(\S+?)\/(\S+) {2}/gm;

function printedKeys(stdout: string): string[] {
  return [...stdout.matchAll(PRINTED)].map((m) => `${m[2]}/${m[3]}@${Date.parse(m[1] as string)}`);
}

it('loses no committed point and duplicates none across random SIGKILLs, outages and restarts', { timeout: 180_000 }, async () => {
  const seed = Number(process.env.CRASH_SEED ?? Date.now() % 100_000);
  const random = seeded(seed);
  console.log(`crash loop seed ${seed} (CRASH_SEED=${seed} replays it)`);
  const dir = mkdtempSync(join(tmpdir(), 'edge-crash-'));
  const bufferPath = join(dir, 'buffer.db');
  const file = join(dir, 'config.yaml');
  writeFileSync(file, config(bufferPath, '100ms'));
  const truth = new Set<string>();
  let lastSeq = 0;

  for (let i = 0; i < KILLS; i++) {
    // Outages between runs: PostgreSQL taken away, or VictoriaMetrics stopped; back mid-run.
    const outage = i % 3 === 1 ? 'postgres' : i % 3 === 2 ? 'influx' : 'none';
    if (outage === 'postgres') await pgProxy.down();
    if (outage === 'influx') await stopVictoria();
    const child = startCli(['run', '--config', file, '--print']);
    const result = collect(child, 60_000);
    await waitForOutput(child, new RegExp(PRINTED.source, 'm'), 20_000);
    await new Promise((r) => setTimeout(r, 200 + random() * 600));
    if (outage === 'postgres') await pgProxy.up();
    if (outage === 'influx') await vm.restart().then(() => vmProxy.up());
    await new Promise((r) => setTimeout(r, random() * 1200));
    child.kill('SIGKILL');
    const { stdout, signal } = await result;
    expect(signal).toBe('SIGKILL');
    for (const k of printedKeys(stdout)) truth.add(k);
    const snapshot = readBufferFile(bufferPath);
    for (const r of snapshot.rows) truth.add(r.key);
    expect(snapshot.lastSeq).toBeGreaterThanOrEqual(lastSeq); // committed rows never vanish
    lastSeq = snapshot.lastSeq;
  }

  // A last, clean run that polls no more (the next 1h tick is far) and drains the backlog.
  await Promise.all([pgProxy.up(), vm.restart().then(() => vmProxy.up())]);
  writeFileSync(file, config(bufferPath, '1h', 'info'));
  const child = startCli(['run', '--config', file, '--print']);
  const result = collect(child, 90_000);
  // The backlog may already be drained: wait for the agent to be up, so the SIGTERM below is its
  // clean stop and not a kill while node is still loading.
  await waitForOutput(child, /"msg":"agent started"/, 20_000);
  await until(
    'the backlog drained to both sinks',
    async () => {
      const r = await runCli(['buffer', 'stats', '--json', '--config', file]);
      if (r.code !== 0) return false;
      const s = JSON.parse(r.stdout) as { rows: number; sinks: Record<string, { behindPoints: number }> };
      return s.sinks.influx?.behindPoints === 0 && s.sinks.postgres?.behindPoints === 0;
    },
    60_000,
  );
  child.kill('SIGTERM');
  const final = await result;
  expect(final.code, `exit signal ${String(final.signal)}; stderr:\n${final.stderr}`).toBe(0);
  for (const k of printedKeys(final.stdout)) truth.add(k);
  const end = readBufferFile(bufferPath);
  expect(end.rows).toHaveLength(0);
  const committed = end.lastSeq;
  expect(committed).toBeGreaterThanOrEqual(lastSeq);
  expect(committed).toBeGreaterThan(KILLS * POINTS_PER_DEVICE);

  // PostgreSQL: exactly the committed points, each once.
  const pg = await pgPointKeys(db.pool, db.schema, GATEWAY);
  expect([...pg.values()].filter((n) => n !== 1)).toEqual([]);
  expect(pg.size).toBe(committed);
  expect([...truth].filter((k) => !pg.has(k))).toEqual([]);

  // VictoriaMetrics: every committed point present (a re-sent batch may repeat a sample; count distinct).
  await until(
    'every point in VictoriaMetrics',
    async () => {
      const series = await vm.query(`{__name__="crash_value",gateway="${GATEWAY}"}`);
      const n = series.reduce((sum, s) => sum + new Set(s.timestamps).size, 0);
      return n >= committed;
    },
    30_000,
  );
  const series = await vm.query(`{__name__="crash_value",gateway="${GATEWAY}"}`);
  const inVm = new Set(series.flatMap((s) => s.timestamps.map((t) => `${s.metric.device}/${s.metric.point}@${t}`)));
  expect(inVm.size).toBe(committed);
  expect([...truth].filter((k) => !inVm.has(k))).toEqual([]);
  console.log(`crash loop: ${KILLS} kills, ${committed} points committed, all delivered once`);
});
