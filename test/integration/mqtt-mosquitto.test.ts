/**
 * The MQTT driver on an external broker: a private Mosquitto with users, sensors publishing with
 * mosquitto_pub. The broker is stopped and started again under the driver, as a real broker
 * restarts; the driver reconnects and subscribes again by itself.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checkDocument } from '../../config/index.js';
import type { MqttDevice } from '../../config/types.js';
import { MqttDriver } from '../../drivers/mqtt/driver.js';
import type { Reading } from '../../drivers/types.js';
import { Mosquitto, mosquittoAvailable, mosquittoPub } from '../helpers/mosquitto.js';
import { eventually } from '../helpers/serial-peer.js';

let mosquitto: Mosquitto;
const drivers: MqttDriver[] = [];

beforeAll(async () => {
  if (!mosquittoAvailable()) throw new Error('mosquitto, mosquitto_pub and mosquitto_passwd are needed (apt-get install mosquitto mosquitto-clients)');
  mosquitto = await Mosquitto.start({ gateway: 'gw-secret', sensor: 'sensor-pw' });
});
afterEach(async () => {
  await Promise.all(drivers.splice(0).map((d) => d.stop()));
});
afterAll(async () => {
  await mosquitto?.remove();
});

function device(over: Record<string, unknown>): MqttDevice {
  const r = checkDocument({ gateway: { id: 'gw-1' }, devices: [{ id: 'tanks', driver: 'mqtt', ...over }] }, { env: {} });
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
  return r.config.devices[0] as MqttDevice;
}

function start(d: MqttDevice): { driver: MqttDriver; got: Reading[][] } {
  const driver = new MqttDriver({ device: d, reconnect: { initialMs: 100, maxMs: 400 } });
  const got: Reading[][] = [];
  driver.onReadings((r) => got.push(r));
  drivers.push(driver);
  return { driver, got };
}

const publish = (topic: string, message: string) => mosquittoPub({ port: mosquitto.port, username: 'sensor', password: 'sensor-pw', topic, message });

describe('MQTT driver on Mosquitto', () => {
  it('subscribes with credentials, captures segments, reads raw and JSON payloads', async () => {
    const { driver, got } = start(
      device({
        connection: { url: mosquitto.url, username: 'gateway', password: 'gw-secret' },
        qos: 1,
        points: {
          level: { topic: 'site/{plant}/tank/{tank}/level', unit: 'm', decimals: 2 },
          pump: { topic: 'site/{plant}/pump/+/state', type: 'string' },
          temp: { topic: 'site/{plant}/tank/{tank}/telemetry/#', path: 'readings[0].temp' },
        },
      }),
    );
    await driver.start();
    await eventually('connected to Mosquitto', () => driver.stats.connected);
    // Subscriptions are made on connect: give the SUBACKs a moment by publishing until one arrives.
    await eventually('the first message', async () => {
      await publish('site/north/tank/T1/level', '2.345');
      return got.length > 0;
    });
    got.length = 0;
    expect((await publish('site/north/pump/P1/state', 'running')).code).toBe(0);
    expect((await publish('site/north/tank/T2/telemetry/v1', '{"readings":[{"temp":11.5}]}')).code).toBe(0);
    expect((await publish('site/north/tank/T2/telemetry/v1', 'garbage')).code).toBe(0);
    await eventually('three messages', () => got.length === 3);
    expect(got.map((b) => b.map((r) => [r.pointId, r.raw, r.quality, r.error, r.tags]))).toEqual([
      [['pump', 'running', 'good', undefined, { plant: 'north' }]],
      [['temp', 11.5, 'good', undefined, { plant: 'north', tank: 'T2' }]],
      [['temp', null, 'bad', 'EDGE_PAYLOAD_NOT_JSON', { plant: 'north', tank: 'T2' }]],
    ]);
    expect(driver.stats.badMessages).toBe(1);
  });

  it('reconnects and subscribes again after the broker restarts', async () => {
    const { driver, got } = start(device({ connection: { url: mosquitto.url, username: 'gateway', password: 'gw-secret' }, topic: 'restart/{n}', points: { v: {} } }));
    await driver.start();
    await eventually('a message before the restart', async () => {
      await publish('restart/1', '1');
      return got.length > 0;
    });
    await mosquitto.stop();
    await eventually('the driver noticed', () => !driver.stats.connected);
    await mosquitto.restart();
    await eventually('connected again', () => driver.stats.connected, 15_000);
    const before = got.length;
    await eventually('a message after the restart', async () => {
      await publish('restart/2', '2');
      return got.length > before;
    });
    expect(got.at(-1)?.[0]).toMatchObject({ pointId: 'v', raw: 2, tags: { n: '2' } });
    expect(driver.stats.connects).toBeGreaterThanOrEqual(2);
  });

  it('with wrong credentials stays unconnected, retrying, and never throws', async () => {
    const { driver } = start(device({ connection: { url: mosquitto.url, username: 'gateway', password: 'wrong' }, topic: 'x/#', points: { v: {} } }));
    await driver.start();
    await eventually('a refused connection', () => driver.stats.lastError === 'EDGE_DEVICE_UNREACHABLE');
    expect(driver.stats.connected).toBe(false);
    await driver.stop();
  });
});
