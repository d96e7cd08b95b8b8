/**
 * Serial and MQTT sensors end to end, on real components: a bedside monitor streaming lines on a
 * pty, a scale polled over another pty, monitors publishing to the embedded broker over TCP →
 * the agent (push and polled drivers, transforms, SQLite buffer, forwarders) → VictoriaMetrics
 * (InfluxDB v2 write API) and PostgreSQL. Captured topic segments arrive as tags; garbage
 * lines and bad payloads are counted and never stop anything.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../agent/agent.js';
import type { PushHealth } from '../../agent/pipeline/push-runner.js';
import type { Point } from '../../buffer/types.js';
import { loadConfig } from '../../config/index.js';
import type { SerialStats } from '../../drivers/serial/driver.js';
import type { MqttStats } from '../../drivers/mqtt/driver.js';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';
import { openPtyPair, type PtyPair } from '../helpers/pty.js';
import { eventually, SerialPeer } from '../helpers/serial-peer.js';
import { VictoriaMetrics } from '../helpers/victoria.js';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
let vm: VictoriaMetrics;
let db: TestSchema;
let monitorPty: PtyPair;
let scalePty: PtyPair;

beforeAll(async () => {
  [vm, db, monitorPty, scalePty] = await Promise.all([VictoriaMetrics.start(), createTestSchema('e2e_push'), openPtyPair(), openPtyPair()]);
});

afterAll(async () => {
  await Promise.all([monitorPty?.close(), scalePty?.close()]);
  await vm?.remove();
  await db?.drop();
});

function configText(bufferPath: string): string {
  return `
gateway: { id: gw-ward, site: hospital-3, tags: { region: maule } }
buffer: { path: ${bufferPath} }
sinks:
  influx: { url: ${vm.url}, token: t, org: ops, bucket: telemetry }
  postgres: { url: "${db.url}", schema: ${db.schema} }
broker:
  host: 127.0.0.1
  port: 0
  users:
    - { username: "12", password: "\${BED12_PASSWORD}" }
    - { username: "13", password: "pw-13" }
  acl:
    - { user: "12", publish: ["ward/+/bed/%u/vitals"] }
    - { user: "13", publish: ["ward/+/bed/%u/vitals"] }
templates:
  vitals:
    measurement: vitals
    points:
      hr:   { unit: bpm }
      spo2: { unit: "%", min: 50, max: 100 }
devices:
  - id: monitor-7
    driver: serial
    connection: { path: ${monitorPty.master}, baudRate: 9600 }
    parse: { regex: '^HR=(?<hr>\\d+) SPO2=(?<spo2>\\d+)$' }
    template: vitals
    tags: { ward: "3", bed: "7" }
  - id: ward-monitors
    driver: mqtt
    topic: ward/{ward}/bed/{bed}/vitals
    template: vitals
    points:
      hr:   { path: hr }
      spo2: { path: spo2 }
  - id: scale-1
    driver: serial
    connection: { path: ${scalePty.master}, timeout: 300ms, delimiter: "\\r\\n" }
    command: "W\\r\\n"
    every: 300ms
    parse: { csv: { columns: [gross, unit] } }
    measurement: weight
    points:
      gross: { unit: kg, decimals: 1 }
`;
}

interface PgRow {
  device_id: string;
  point_id: string;
  ts: string;
  value: number | null;
  quality: string;
  error: string | null;
  tags: Record<string, string>;
}

async function pgRows(): Promise<PgRow[]> {
  try {
    const r = await db.pool.query<PgRow>(
      `SELECT device_id, point_id, (extract(epoch from ts) * 1000)::bigint AS ts, value, quality, error, tags FROM "${db.schema}".points WHERE gateway_id = 'gw-ward' ORDER BY ts, device_id, point_id`,
    );
    return r.rows;
  } catch (err) {
    if ((err as { code?: string }).code === '42P01') return [];
    throw err;
  }
}

const key = (p: { deviceId?: string; device_id?: string; pointId?: string; point_id?: string; ts: number | string }) => `${p.deviceId ?? p.device_id}/${p.pointId ?? p.point_id}@${Number(p.ts)}`;

describe('serial and MQTT sensors end to end', () => {
  it('deliver tagged points to PostgreSQL and VictoriaMetrics; bad lines and payloads are counted, not fatal', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-e2e-push-'));
    const config = loadConfig({ text: configText(join(dir, 'b.db')), format: 'yaml', env: { BED12_PASSWORD: 'pw-12' } });
    const agent = new Agent({ config, logger, forwarder: { idleMs: 100, backoff: { initialMs: 100, maxMs: 500 } }, stopGraceMs: 3000 });
    const emitted: Point[] = [];
    agent.pipeline.onPoints((ps) => emitted.push(...ps));

    const scale = await SerialPeer.open(scalePty.slave);
    let reply = '12.34,kg\r\n';
    scale.onCommand(() => reply);
    const clients: MqttClient[] = [];
    let monitorStats: SerialStats | undefined;
    let wardStats: MqttStats | undefined;
    let wardHealth: PushHealth | undefined;
    await agent.start();
    const monitor = await SerialPeer.open(monitorPty.slave);
    try {
      const port = agent.push.embeddedBroker?.port;
      expect(port).toBeGreaterThan(0);
      const bed = async (n: string, password: string) => {
        const c = await connectAsync(`mqtt://127.0.0.1:${port}`, { username: n, password, reconnectPeriod: 0 });
        clients.push(c);
        return c;
      };
      const [bed12, bed13] = await Promise.all([bed('12', 'pw-12'), bed('13', 'pw-13')]);

      // The serial monitor: two good lines around garbage.
      await monitor.write('HR=72 SPO2=98\r\n#### LEAD OFF ####\r\nHR=74 SPO2=97\r\n');
      // Two beds publish at the same moment under one device: both must arrive, as their own series.
      await Promise.all([
        bed12.publishAsync('ward/3/bed/12/vitals', '{"hr": 81, "spo2": 96}', { qos: 1 }),
        bed13.publishAsync('ward/3/bed/13/vitals', '{"hr": 64, "spo2": 99}', { qos: 1 }),
      ]);
      // A broken payload (bad readings) and an out-of-range value.
      await bed12.publishAsync('ward/3/bed/12/vitals', 'HR:81', { qos: 1 });
      await bed13.publishAsync('ward/3/bed/13/vitals', '{"hr": 65, "spo2": 140}', { qos: 1 });
      await eventually('the scale polled a few times', () => emitted.filter((p) => p.deviceId === 'scale-1').length >= 2);
      reply = 'ERR 7\r\n';
      await eventually('a failed scale poll', () => emitted.some((p) => p.deviceId === 'scale-1' && p.quality === 'bad'));

      await eventually('every emitted point in PostgreSQL', async () => {
        const rows = await pgRows();
        return emitted.length >= 14 && rows.length >= emitted.length;
      }, 20_000);
      monitorStats = agent.push.runners.get('monitor-7')?.snapshot().driver as SerialStats;
      const ward = agent.push.runners.get('ward-monitors')?.snapshot();
      wardStats = ward?.driver as MqttStats;
      wardHealth = ward?.health;
    } finally {
      await Promise.all(clients.map((c) => c.endAsync(true)));
      await monitor.close();
      await scale.close();
      await agent.stop();
    }

    const rows = await pgRows();
    expect(rows.length).toBe(emitted.length);
    expect(new Set(rows.map(key))).toEqual(new Set(emitted.map(key)));

    const pick = (device: string, point: string, pred: (r: PgRow) => boolean = () => true) => rows.filter((r) => r.device_id === device && r.point_id === point && pred(r));
    // Streaming serial: both good lines, the device's static tags.
    expect(pick('monitor-7', 'hr').map((r) => r.value)).toEqual([72, 74]);
    expect(pick('monitor-7', 'hr')[0]?.tags).toEqual({ gateway: 'gw-ward', site: 'hospital-3', device: 'monitor-7', point: 'hr', region: 'maule', ward: '3', bed: '7' });
    // MQTT: the captured ward and bed on every point, each bed its own rows.
    const hr12 = pick('ward-monitors', 'hr', (r) => r.tags.bed === '12');
    const hr13 = pick('ward-monitors', 'hr', (r) => r.tags.bed === '13');
    expect(hr12.map((r) => [r.value, r.quality, r.error])).toEqual([[81, 'good', null], [null, 'bad', 'EDGE_PAYLOAD_NOT_JSON']]);
    expect(hr13.map((r) => r.value)).toEqual([64, 65]);
    expect(hr13[0]?.tags).toEqual({ gateway: 'gw-ward', site: 'hospital-3', device: 'ward-monitors', point: 'hr', region: 'maule', ward: '3', bed: '13' });
    expect(pick('ward-monitors', 'spo2', (r) => r.tags.bed === '13').map((r) => [r.value, r.error])).toEqual([[99, null], [null, 'EDGE_VALUE_OUT_OF_RANGE']]);
    // Polled serial: good polls, then the unparsed reply as a bad point.
    const gross = pick('scale-1', 'gross');
    expect(gross.filter((r) => r.quality === 'good').every((r) => r.value === 12.3)).toBe(true);
    // The first bad point is the unparsed reply (polls after the test closed the scale may time out).
    const firstBad = gross.findIndex((r) => r.quality === 'bad');
    expect(firstBad).toBeGreaterThanOrEqual(2);
    expect(gross[firstBad]).toMatchObject({ quality: 'bad', error: 'EDGE_LINE_UNPARSED' });
    expect(gross.slice(firstBad).every((r) => r.quality === 'bad')).toBe(true);

    // Counted, not fatal.
    expect(monitorStats).toMatchObject({ lines: 3, garbageLines: 1, readings: 4, badReadings: 0 });
    expect(wardStats).toMatchObject({ messages: 4, badMessages: 1, badReadings: 2 });
    expect(wardHealth).toMatchObject({ batches: 4, consecutiveFailures: 0, lastError: 'EDGE_PAYLOAD_NOT_JSON' });

    // VictoriaMetrics: one series per bed, the captured tags as labels.
    await eventually('the MQTT heart rates in VictoriaMetrics', async () => (await vm.count('{__name__="vitals_value",gateway="gw-ward",device="ward-monitors",point="hr"}')) === 3, 20_000);
    const series = await vm.query('{__name__="vitals_value",gateway="gw-ward",device="ward-monitors",point="hr"}');
    expect(series.map((s) => [s.metric.bed, s.metric.ward, s.values]).sort()).toEqual([['12', '3', [81]], ['13', '3', [64, 65]]]);
    await eventually('the serial monitor in VictoriaMetrics', async () => (await vm.count('{__name__="vitals_value",device="monitor-7",point="hr",bed="7"}')) === 2);
  });
});
