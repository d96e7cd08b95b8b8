/**
 * MQTT sensors through the embedded broker (aedes, in-process subscription) with real MQTT
 * clients on its listener: MQTT.js and Mosquitto's own mosquitto_pub. Authentication, the ACL and
 * TLS are checked from the client's side, as a sensor would see them.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { localBroker } from '../../agent/pipeline/push-runner.js';
import { EmbeddedBroker } from '../../broker/broker.js';
import { hashPassword } from '../../broker/passwords.js';
import { checkDocument } from '../../config/index.js';
import type { MqttDevice } from '../../config/types.js';
import { MqttDriver } from '../../drivers/mqtt/driver.js';
import type { Reading } from '../../drivers/types.js';
import { mosquittoAvailable, mosquittoPub, selfSignedCert } from '../helpers/mosquitto.js';
import { eventually } from '../helpers/serial-peer.js';

const BROKER = {
  port: 0,
  users: [
    { username: 'bed-12', password: 'pw12' },
    { username: 'bed-13', passwordHash: hashPassword('pw13') },
    { username: 'ops', password: 'ops-pw' },
  ],
  acl: [
    { user: 'bed-12', publish: ['ward/+/bed/12/#'] },
    { user: 'bed-13', publish: ['ward/+/bed/13/#'] },
    { user: 'ops', subscribe: ['ward/#'] },
  ],
};

function configure(broker: Record<string, unknown>, device: Record<string, unknown>): { device: MqttDevice; broker: NonNullable<ReturnType<typeof load>['broker']> } {
  const config = load({ broker, devices: [{ id: 'ward-monitors', driver: 'mqtt', ...device }] });
  if (config.broker === undefined) throw new Error('no broker');
  return { device: config.devices[0] as MqttDevice, broker: config.broker };
}
function load(doc: Record<string, unknown>) {
  const r = checkDocument({ gateway: { id: 'gw-1' }, ...doc }, { env: {} });
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
  return r.config;
}

const vitals = { topic: 'ward/{ward}/bed/{bed}/vitals', points: { hr: { path: 'hr', unit: 'bpm' }, spo2: { path: 'spo2' }, alarm: { path: 'alarm.active', type: 'bool' } } };

let broker: EmbeddedBroker;
let driver: MqttDriver;
const got: Reading[][] = [];
const clients: MqttClient[] = [];

async function client(opts: IClientOptions & { url?: string }): Promise<MqttClient> {
  const c = await connectAsync(opts.url ?? `mqtt://127.0.0.1:${broker.port}`, { reconnectPeriod: 0, connectTimeout: 3000, ...opts });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  const cfg = configure(BROKER, vitals);
  broker = new EmbeddedBroker({ settings: cfg.broker });
  await broker.prepare();
  driver = new MqttDriver({ device: cfg.device, local: localBroker(broker) });
  driver.onReadings((r) => got.push(r));
  // The agent's order: drivers subscribe in-process, then the broker listens.
  await driver.start();
  await broker.start();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  got.length = 0;
});

afterAll(async () => {
  await driver?.stop();
  await broker?.stop();
});

const byPoint = (batch: Reading[] | undefined) => Object.fromEntries((batch ?? []).map((r) => [r.pointId, r.quality === 'good' ? r.raw : r.error]));

describe('MQTT sensors on the embedded broker', () => {
  it('delivers readings with the captured topic segments as tags', async () => {
    const bed12 = await client({ username: 'bed-12', password: 'pw12', clientId: 'bed-12' });
    await bed12.publishAsync('ward/3/bed/12/vitals', JSON.stringify({ hr: 72, spo2: 98, alarm: { active: false } }), { qos: 1 });
    expect(mosquittoAvailable()).toBe(true);
    const pub = await mosquittoPub({ port: broker.port as number, username: 'bed-13', password: 'pw13', topic: 'ward/3/bed/13/vitals', message: '{"hr": 88.5, "spo2": 95, "alarm": {"active": true}}' });
    expect(pub).toEqual({ code: 0, stderr: '' });
    await eventually('two messages', () => got.length === 2);
    const sorted = [...got].sort((a, b) => String(a[0]?.tags?.bed).localeCompare(String(b[0]?.tags?.bed)));
    expect(sorted.map(byPoint)).toEqual([{ hr: 72, spo2: 98, alarm: false }, { hr: 88.5, spo2: 95, alarm: true }]);
    expect(sorted.map((b) => b[0]?.tags)).toEqual([{ ward: '3', bed: '12' }, { ward: '3', bed: '13' }]);
    expect(broker.stats.messagesIn).toBeGreaterThanOrEqual(2);
  });

  it('counts non-JSON, a missing path and a wrong type as bad readings and carries on', async () => {
    const bed12 = await client({ username: 'bed-12', password: 'pw12' });
    const before = driver.stats.badMessages;
    for (const payload of ['HR 72', '{"hr": 70}', '{"hr": "--", "spo2": 97, "alarm": {"active": "maybe"}}', '{"hr": 71, "spo2": 97, "alarm": {"active": 0}}']) {
      await bed12.publishAsync('ward/3/bed/12/vitals', payload, { qos: 1 });
    }
    await eventually('four messages', () => got.length === 4);
    expect(got.map(byPoint)).toEqual([
      { hr: 'EDGE_PAYLOAD_NOT_JSON', spo2: 'EDGE_PAYLOAD_NOT_JSON', alarm: 'EDGE_PAYLOAD_NOT_JSON' },
      { hr: 70, spo2: 'EDGE_PAYLOAD_PATH_MISSING', alarm: 'EDGE_PAYLOAD_PATH_MISSING' },
      { hr: 'EDGE_VALUE_NOT_NUMERIC', spo2: 97, alarm: 'EDGE_VALUE_NOT_BOOLEAN' },
      { hr: 71, spo2: 97, alarm: false },
    ]);
    expect(driver.stats.badMessages - before).toBe(3);
    expect(bed12.connected).toBe(true);
  });

  it('refuses wrong passwords and anonymous clients', async () => {
    const before = broker.stats.authFailures;
    await expect(client({ username: 'bed-12', password: 'nope' })).rejects.toThrow(/Bad username or password/i);
    await expect(client({ username: 'stranger', password: 'x' })).rejects.toThrow(/Bad username or password/i);
    await expect(client({})).rejects.toThrow(/Not authorized/i);
    const pub = await mosquittoPub({ port: broker.port as number, topic: 'ward/3/bed/12/vitals', message: '{}', username: 'bed-13', password: 'pw12' });
    expect(pub.code).not.toBe(0);
    expect(broker.stats.authFailures - before).toBe(4);
  });

  it('applies the ACL: a sensor publishing for another bed is cut off; subscriptions only where allowed', async () => {
    const bed12 = await client({ username: 'bed-12', password: 'pw12' });
    const closed = new Promise<void>((resolve) => bed12.once('close', () => resolve()));
    bed12.publish('ward/3/bed/13/vitals', '{"hr": 1}', { qos: 1 });
    await closed;
    expect(broker.stats.publishDenied).toBeGreaterThanOrEqual(1);

    const ops = await client({ username: 'ops', password: 'ops-pw' });
    expect(await ops.subscribeAsync('ward/3/#', { qos: 0 })).toEqual([{ topic: 'ward/3/#', qos: 0 }]);
    await expect(ops.subscribeAsync('$SYS/#', { qos: 0 })).rejects.toThrow(/Subscribe error/);
    const seen = new Promise<string>((resolve) => ops.once('message', (topic) => resolve(topic)));
    const bed12again = await client({ username: 'bed-12', password: 'pw12' });
    await expect(bed12again.subscribeAsync('ward/#')).rejects.toThrow(/Subscribe error/);
    expect(bed12again.connected).toBe(true);
    expect(broker.stats.subscribeDenied).toBeGreaterThanOrEqual(2);
    await bed12again.publishAsync('ward/3/bed/12/vitals', '{"hr": 60}', { qos: 1 });
    expect(await seen).toBe('ward/3/bed/12/vitals');
    await eventually('no reading was lost to the refusals', () => got.length === 1 && byPoint(got[0]).hr === 60);
    expect(driver.stats.unmatched).toBe(0);
  });

  it('ignores a topic whose captured segment is empty', async () => {
    const bed12 = await client({ username: 'bed-12', password: 'pw12' });
    await expect(bed12.publishAsync('ward//bed/12/vitals', '{"hr": 1}', { qos: 1 })).resolves.toBeDefined();
    await eventually('the message was seen and ignored', () => driver.stats.unmatched === 1);
    expect(got).toEqual([]);
  });
});

describe('the embedded broker listener', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edge-broker-tls-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves TLS with the configured certificate', async () => {
    const { cert, key } = selfSignedCert(dir);
    const tlsBroker = new EmbeddedBroker({ settings: configure({ ...BROKER, tls: { cert, key } }, vitals).broker });
    const received: string[] = [];
    await tlsBroker.prepare();
    await tlsBroker.subscribe('ward/#', (topic) => received.push(topic));
    await tlsBroker.start();
    try {
      const url = `mqtts://127.0.0.1:${tlsBroker.port}`;
      const c = await client({ url, username: 'bed-12', password: 'pw12', ca: [readFileSync(cert)], rejectUnauthorized: true });
      await c.publishAsync('ward/1/bed/12/vitals', '{"hr": 1}', { qos: 1 });
      const pub = await mosquittoPub({ port: tlsBroker.port as number, host: 'localhost', cafile: cert, username: 'bed-13', password: 'pw13', topic: 'ward/1/bed/13/vitals', message: '{}' });
      expect(pub).toEqual({ code: 0, stderr: '' });
      await eventually('both TLS messages', () => received.length === 2);
      // A plain client does not get through.
      const plain = connect(`mqtt://127.0.0.1:${tlsBroker.port}`, { username: 'bed-12', password: 'pw12', reconnectPeriod: 0 });
      const outcome = await new Promise<string>((resolve) => {
        plain.once('connect', () => resolve('connected'));
        plain.once('close', () => resolve('closed'));
      });
      plain.end(true);
      expect(outcome).toBe('closed');
    } finally {
      await tlsBroker.stop();
    }
  });

  it('keeps retrying a port that is taken, and listens once it is free', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
    const port = (blocker.address() as net.AddressInfo).port;
    const b = new EmbeddedBroker({ settings: configure({ ...BROKER, port }, vitals).broker, retry: { initialMs: 50, maxMs: 100 } });
    try {
      await b.start(); // does not throw
      expect(b.stats).toMatchObject({ listening: false, lastError: 'EDGE_BROKER_LISTEN' });
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
      await eventually('the broker listening', () => b.stats.listening);
      expect(b.port).toBe(port);
      const c = await client({ url: `mqtt://127.0.0.1:${port}`, username: 'ops', password: 'ops-pw' });
      expect(c.connected).toBe(true);
    } finally {
      await b.stop();
    }
  });
});
