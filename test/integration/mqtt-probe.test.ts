/** `edge-agent probe mqtt` against the embedded broker: messages, captured segments, JSON paths. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeMqtt } from '../../agent/commands/probe-mqtt.js';
import { probeCommand } from '../../agent/commands/probe.js';
import { EmbeddedBroker } from '../../broker/broker.js';
import { brokerSettings } from '../../config/broker.js';
import { mosquittoPub } from '../helpers/mosquitto.js';
import { eventually } from '../helpers/serial-peer.js';
import { freePort } from '../helpers/victoria.js';

let broker: EmbeddedBroker;
let port: number;
const settings = (p: number) => ({ port: p, users: [{ username: 'bed-12', password: 'pw12' }, { username: 'ops', password: 'ops-pw' }], acl: [{ user: 'bed-12', publish: ['ward/+/bed/12/#'] }, { user: 'ops', subscribe: ['ward/#'] }] });

beforeAll(async () => {
  port = await freePort();
  broker = new EmbeddedBroker({ settings: brokerSettings.parse(settings(port)) });
  await broker.start();
});
afterAll(async () => {
  await broker?.stop();
});

function capture() {
  const out = { logs: [] as string[], errors: [] as string[] };
  return { out, sink: { log: (s: string) => out.logs.push(s), error: (s: string) => out.errors.push(s) } };
}

const publish = (message: string) => mosquittoPub({ port, username: 'bed-12', password: 'pw12', topic: 'ward/3/bed/12/vitals', message });

describe('edge-agent probe mqtt', () => {
  it('prints topic, captured segments, payload and the value at a path', async () => {
    const { out, sink } = capture();
    const done = probeCommand(['mqtt', '--url', `mqtt://127.0.0.1:${port}`, '-u', 'ops', '--password', 'ops-pw', '-t', 'ward/{ward}/bed/{bed}/vitals', '--path', 'hr', '-n', '2'], sink);
    await eventually('the probe subscribed', () => out.logs.some((l) => l.includes('subscribed to ward/+/bed/+/vitals')));
    await publish('{"hr": 72}');
    await publish('{"spo2": 98}');
    expect(await done).toBe(0);
    const text = out.logs.join('\n');
    expect(text).toMatch(/ward\/3\/bed\/12\/vitals {2}\{"hr": 72\}\n\s+captured: ward=3 {2}bed=12\n\s+hr=72/);
    expect(text).toMatch(/\{"spo2": 98\}\n\s+captured: ward=3 {2}bed=12\n\s+hr: EDGE_PAYLOAD_PATH_MISSING/);
    expect(out.logs.at(-1)).toBe('2 messages');
  });

  it('takes a configured device on the embedded broker, with the password from the environment', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-probe-'));
    const file = join(dir, 'config.yaml');
    writeFileSync(
      file,
      JSON.stringify({
        gateway: { id: 'gw-1' },
        broker: settings(port),
        devices: [{ id: 'ward-monitors', driver: 'mqtt', topic: 'ward/{ward}/bed/{bed}/vitals', points: { hr: { path: 'hr' }, spo2: { path: 'spo2' } } }],
      }),
    );
    const { out, sink } = capture();
    const done = probeMqtt(['-c', file, '-u', 'ops', '-n', '1'], sink, { EDGE_MQTT_PASSWORD: 'ops-pw' });
    await eventually('the probe subscribed', () => out.logs.some((l) => l.includes('subscribed to')));
    await publish('{"hr": 70, "spo2": 97}');
    expect(await done).toBe(0);
    expect(out.logs.join('\n')).toMatch(/captured: ward=3 {2}bed=12\n\s+hr=70 {2}spo2=97/);
  });

  it('reports a refused login and exits 1 when nothing arrived; usage mistakes exit 2', async () => {
    const { out, sink } = capture();
    expect(await probeCommand(['mqtt', '--url', `mqtt://127.0.0.1:${port}`, '-u', 'ops', '--password', 'wrong', '--duration', '300ms'], sink)).toBe(1);
    expect(out.errors.join('\n')).toMatch(/cannot reach the MQTT broker; retrying: .*(Bad username or password|Not authorized)/i);
    expect(await probeCommand(['mqtt', '--url', 'http://x', '-t', 'a'], sink)).toBe(2);
    expect(await probeCommand(['mqtt', '--url', `mqtt://127.0.0.1:${port}`, '-t', 'a/#/b'], sink)).toBe(2);
    expect(out.errors.at(-1)).toMatch(/--topic a\/#\/b: # must be the last segment/);
    // a client of our own shows the subscribe side of the same broker is fine
    const c = await connectAsync(`mqtt://127.0.0.1:${port}`, { username: 'ops', password: 'ops-pw', reconnectPeriod: 0 });
    await c.endAsync();
  });
});
