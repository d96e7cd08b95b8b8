/**
 * An MQTT device's own bounds on what it parses (`maxPayload`, `maxDepth`), on an external broker
 * (a private Mosquitto, which relays messages of any size): a message over either is a counted
 * bad reading for every point, never parsed, and the device carries on with the next one.
 */
import { connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDocument } from '../../config/index.js';
import type { MqttDevice } from '../../config/types.js';
import { MqttDriver } from '../../drivers/mqtt/driver.js';
import type { Reading } from '../../drivers/types.js';
import { Mosquitto, mosquittoAvailable } from '../helpers/mosquitto.js';
import { eventually } from '../helpers/serial-peer.js';

let mosquitto: Mosquitto;

beforeAll(async () => {
  if (mosquittoAvailable()) mosquitto = await Mosquitto.start();
});

afterAll(async () => {
  await mosquitto?.remove();
});

describe.runIf(mosquittoAvailable())('MQTT payload bounds on an external broker', () => {
  it('refuses a message over maxPayload and JSON deeper than maxDepth, then reads the next one', async () => {
    const r = checkDocument(
      {
        gateway: { id: 'gw-1' },
        devices: [{ id: 'probe', driver: 'mqtt', topic: 'lab/{n}', maxPayload: '1KiB', maxDepth: 3, connection: { url: mosquitto.url }, points: { v: { path: 'a.v' }, w: { path: 'w' } } }],
      },
      { env: {} },
    );
    if (!r.ok) throw new Error(r.issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
    const device = r.config.devices[0] as MqttDevice;
    expect(device).toMatchObject({ maxPayload: 1024, maxDepth: 3 });
    const driver = new MqttDriver({ device, reconnect: { initialMs: 100, maxMs: 500 } });
    const got: Reading[][] = [];
    driver.onReadings((rs) => got.push(rs));
    await driver.start();
    try {
      await eventually('connected to mosquitto', () => driver.stats.connected);
      const pub = await connectAsync(mosquitto.url, { reconnectPeriod: 0 });
      // The subscription is made on connect; give its SUBACK a moment by publishing until a reading comes.
      await eventually('the subscription', async () => {
        await pub.publishAsync('lab/0', '{"a":{"v":1},"w":2}', { qos: 1 });
        return got.length > 0;
      });
      await pub.publishAsync('lab/1', JSON.stringify({ a: { v: 1 }, w: 'x'.repeat(5000) }), { qos: 1 });
      await pub.publishAsync('lab/2', '{"a":{"v":[[[[1]]]]},"w":2}', { qos: 1 });
      await pub.publishAsync('lab/3', '{"a":{"v":7},"w":8}', { qos: 1 });
      const of = (n: string) => got.find((rs) => rs[0]?.tags?.n === n);
      await eventually('the three messages', () => ['1', '2', '3'].every((n) => of(n) !== undefined));
      await pub.endAsync();
      const [large, deep, fine] = [of('1'), of('2'), of('3')];
      expect(large?.map((x) => x.error)).toEqual(['EDGE_PAYLOAD_TOO_LARGE', 'EDGE_PAYLOAD_TOO_LARGE']);
      expect(deep?.map((x) => x.error)).toEqual(['EDGE_PAYLOAD_TOO_DEEP', 'EDGE_PAYLOAD_TOO_DEEP']);
      expect(fine?.map((x) => x.raw)).toEqual([7, 8]);
      expect(driver.stats).toMatchObject({ tooLarge: 1, tooDeep: 1 });
    } finally {
      await driver.stop();
    }
  });
});
