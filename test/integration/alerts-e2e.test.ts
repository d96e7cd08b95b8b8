/**
 * Local alerts end to end on real peers: a Modbus TCP slave → the running agent → a retained
 * message on the embedded broker (read with an MQTT client) and, through the buffer, a row in
 * PostgreSQL's alerts table; an agent restart in the middle; a device that stops answering; the
 * `edge-agent alerts` commands against the running agent's file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../agent/agent.js';
import { alertsCommand } from '../../agent/commands/alerts.js';
import { loadConfig } from '../../config/index.js';
import type { RunningModbusServer } from '../../drivers/modbus/server.js';
import { closedPort, RegisterImage, startImageServer } from '../helpers/modbus-server.js';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';
import { eventually } from '../helpers/serial-peer.js';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'edge-alerts-'));
const image = new RegisterImage().setValue('holding', 0, 50, 'uint16');
let slave: RunningModbusServer;
let db: TestSchema;
let configFile: string;

beforeAll(async () => {
  [slave, db] = await Promise.all([startImageServer(image), createTestSchema('alerts')]);
  const offline = await closedPort();
  configFile = join(dir, 'gw.yaml');
  writeFileSync(
    configFile,
    `
gateway: { id: gw-alerts, site: well-9 }
buffer: { path: ${join(dir, 'buffer.db')} }
sinks:
  postgres: { url: "${db.url}", schema: ${db.schema} }
log: { level: warn }
broker: { host: 127.0.0.1, port: 0, allowAnonymous: true }
templates:
  pump:
    points:
      flow: { register: holding, address: 0, type: uint16, unit: m3/h, alerts: [ { above: 100, for: 300ms, clearBelow: 90, severity: critical } ] }
devices:
  - id: pump-1
    driver: modbus
    connection: { protocol: tcp, host: 127.0.0.1, port: ${slave.port}, timeout: 300ms }
    every: 100ms
    template: pump
  - id: meter-2
    driver: modbus
    connection: { protocol: tcp, host: 127.0.0.1, port: ${offline}, timeout: 300ms }
    every: 200ms
    points:
      energy: { register: input, address: 0, type: uint32, alerts: [ { badQuality: true, for: 500ms }, { stale: 1s, severity: info } ] }
`,
  );
});

afterAll(async () => {
  await slave?.close();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function startAgent(): Promise<Agent> {
  const config = loadConfig({ file: configFile, env: {} });
  const agent = new Agent({ config, logger, forwarder: { idleMs: 100, backoff: { initialMs: 100, maxMs: 500 } }, stopGraceMs: 3000 });
  await agent.start();
  return agent;
}

/** The retained alert messages on the agent's embedded broker, by topic ('' once cleared). */
async function watch(agent: Agent): Promise<{ client: MqttClient; retained: Map<string, string> }> {
  const client = await connectAsync(`mqtt://127.0.0.1:${agent.push.embeddedBroker?.port}`, { reconnectPeriod: 0, connectTimeout: 3000 });
  const retained = new Map<string, string>();
  client.on('message', (topic, payload) => retained.set(topic, payload.toString()));
  await client.subscribeAsync('edge/gw-alerts/alerts/#', { qos: 1 });
  return { client, retained };
}

async function pgAlerts(): Promise<Array<{ alert_id: string; rule_id: string; state: string; value: number | null; threshold: number | null; severity: string; cleared_at: Date | null; acknowledged_by: string | null; tags: Record<string, string> }>> {
  const { rows } = await db.pool.query(`SELECT * FROM "${db.schema}".alerts ORDER BY raised_at, alert_id`).catch(() => ({ rows: [] }));
  return rows;
}

const FLOW_TOPIC = 'edge/gw-alerts/alerts/pump-1/flow/above-100';

describe('local alerts, end to end', () => {
  it('raises once, survives a restart, clears past the hysteresis, and flags a silent device', async () => {
    let agent = await startAgent();
    let { client, retained } = await watch(agent);
    try {
      image.setValue('holding', 0, 120, 'uint16');
      await eventually('the flow alert on the local broker', () => (retained.get(FLOW_TOPIC) ?? '') !== '');
      const raised = JSON.parse(retained.get(FLOW_TOPIC) ?? '{}') as { id: string; severity: string; value: number; threshold: number; state: string };
      expect(raised).toMatchObject({ severity: 'critical', value: 120, threshold: 100, state: 'active' });
      expect(raised.id).toMatch(/^pump-1\/flow\/above-100@\d+$/);

      await eventually('the flow alert in PostgreSQL', async () => (await pgAlerts()).some((r) => r.alert_id === raised.id));

      // The device that does not answer: bad quality after its delay, stale after a second without a value.
      await eventually('bad-quality and stale alerts for meter-2', () => agent.alerts.list().filter((a) => a.deviceId === 'meter-2').length === 2);

      // Restart: the alert is still there, republished, with the same id; nothing new is raised.
      await client.endAsync();
      await agent.stop();
      agent = await startAgent();
      ({ client, retained } = await watch(agent));
      await eventually('the flow alert republished after the restart', () => (retained.get(FLOW_TOPIC) ?? '') !== '');
      expect(JSON.parse(retained.get(FLOW_TOPIC) ?? '{}')).toMatchObject({ id: raised.id, state: 'active' });

      // Inside the hysteresis band (below 100, not below 90) it holds, over several polls.
      image.setValue('holding', 0, 95, 'uint16');
      const polls = agent.runners.get('pump-1')?.health.polls ?? 0;
      await eventually('five more polls of pump-1', () => (agent.runners.get('pump-1')?.health.polls ?? 0) >= polls + 5);
      expect(agent.alerts.list().find((a) => a.deviceId === 'pump-1')?.id).toBe(raised.id);

      // The CLI against the running agent's file: list, then ack.
      const out: string[] = [];
      expect(await alertsCommand('list', { file: configFile, env: {}, json: true, out: (l) => out.push(l) })).toBe(0);
      expect((JSON.parse(out.join('\n')) as Array<{ id: string }>).map((a) => a.id)).toContain(raised.id);
      expect(await alertsCommand('ack', { file: configFile, env: {}, json: false, id: 'pump-1/flow/above-100', by: 'tech:ana', out: (l) => out.push(l) })).toBe(0);
      expect(out.at(-1)).toBe(`acknowledged ${raised.id} (by tech:ana)`);
      expect(agent.alerts.list().find((a) => a.id === raised.id)).toMatchObject({ acknowledged: true, acknowledgedBy: 'tech:ana' });
      expect(await alertsCommand('ack', { file: configFile, env: {}, json: false, id: 'pump-1/flow/nope', err: () => {} })).toBe(1);

      image.setValue('holding', 0, 80, 'uint16');
      await eventually('the retained flow alert emptied', () => retained.get(FLOW_TOPIC) === '');
      await eventually('the flow alert cleared in PostgreSQL', async () => (await pgAlerts()).some((r) => r.alert_id === raised.id && r.state === 'cleared'));

      const rows = await pgAlerts();
      const flow = rows.filter((r) => r.rule_id === 'above-100');
      // Exactly one alert for the whole episode, restart included.
      expect(flow).toHaveLength(1);
      expect(flow[0]).toMatchObject({ alert_id: raised.id, severity: 'critical', value: 120, threshold: 100, acknowledged_by: 'tech:ana', tags: { device: 'pump-1', point: 'flow', rule: 'above-100' } });
      expect(flow[0]?.cleared_at).toBeInstanceOf(Date);
      await eventually('meter-2 alerts in PostgreSQL', async () => {
        const meter = (await pgAlerts()).filter((r) => r.alert_id.startsWith('meter-2/'));
        return meter.some((r) => r.rule_id === 'bad-quality' && r.state === 'active') && meter.some((r) => r.rule_id === 'stale');
      });
    } finally {
      await client.endAsync();
      await agent.stop();
    }
  }, 60_000);
});
