/**
 * broker.limits, one at a time, against the embedded broker's real listener with real MQTT.js
 * clients: each bound holds, each refusal is counted by its kind, and a client within the bounds
 * carries on. (The whole agent under all of them at once: hostile-clients.test.ts.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker, type BrokerLogger } from '../../broker/broker.js';
import { brokerSettings } from '../../config/broker.js';
import { selfSignedCert } from '../helpers/mosquitto.js';
import { eventually } from '../helpers/serial-peer.js';

const running: EmbeddedBroker[] = [];
const clients: MqttClient[] = [];
/** The broker's warnings in this test. */
let warnings: Array<Record<string, unknown>> = [];
const logger: BrokerLogger = { debug() {}, info() {}, error() {}, warn: (obj) => warnings.push(obj) };

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => {})));
  await Promise.all(running.splice(0).map((b) => b.stop()));
  warnings = [];
});

/** The warnings about one limit: one a minute however many refusals, each naming who it was. */
const warned = (limit: string) => warnings.filter((w) => w.limitOf === limit);

async function start(limits: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<EmbeddedBroker> {
  const b = new EmbeddedBroker({ settings: brokerSettings.parse({ port: 0, allowAnonymous: true, limits, ...extra }), logger });
  running.push(b);
  await b.start();
  return b;
}

async function client(b: EmbeddedBroker, opts: IClientOptions = {}): Promise<MqttClient> {
  const c = await connectAsync(`mqtt://127.0.0.1:${b.port}`, { reconnectPeriod: 0, connectTimeout: 3000, ...opts });
  clients.push(c);
  return c;
}

/**
 * On a raw (or TLS) socket: CONNECT as "raw", then only the fixed header of a 40 MB PUBLISH and a
 * few bytes of it. Resolves when the broker hangs up; the body is never sent.
 */
async function announceHuge(raw: net.Socket, connectEvent = 'connect'): Promise<void> {
  const hungUp = new Promise<void>((resolve) => raw.once('close', () => resolve()));
  raw.on('error', () => {});
  raw.on('data', () => {}); // flowing, so the broker's FIN is seen
  await new Promise<void>((resolve) => raw.once(connectEvent, () => resolve()));
  // CONNECT (MQTT 3.1.1, clean, keepalive 60, client id "raw")
  raw.write(Buffer.from([0x10, 15, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 60, 0, 3, 0x72, 0x61, 0x77]));
  await new Promise((r) => setTimeout(r, 100));
  // PUBLISH, remaining length 40_000_000 (varint 0x80 0xb4 0x89 0x13)
  raw.write(Buffer.from([0x30, 0x80, 0xb4, 0x89, 0x13, 0, 1, 0x74, 1, 2, 3]));
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the broker kept the connection open, waiting for the 40 MB body')), 2000)));
  try {
    await Promise.race([hungUp, waited]);
  } finally {
    clearTimeout(timer);
    raw.destroy();
  }
}

const closed = (c: MqttClient) => new Promise<void>((resolve) => (c.connected ? c.once('close', () => resolve()) : resolve()));

describe('broker.limits', () => {
  it('closes a connection whose packet header announces more than maxPacketSize, before the payload arrives', async () => {
    const b = await start({ maxPacketSize: '64KiB' });
    const got: Buffer[] = [];
    await b.subscribe('t/#', (_t, p) => got.push(p));
    const c = await client(b);
    await c.publishAsync('t/small', Buffer.alloc(1000, 1));
    // A raw socket sends only the fixed header of a 40 MB PUBLISH and a few bytes: the broker
    // must hang up on the header alone.
    await announceHuge(net.connect(b.port as number, '127.0.0.1'));
    const big = Buffer.alloc(100 * 1024, 2);
    const c2 = await client(b);
    c2.publish('t/big', big);
    await closed(c2);
    expect(b.stats.refused.packetTooLarge).toBe(2);
    expect(warned('packetTooLarge')).toEqual([expect.objectContaining({ code: 'EDGE_BROKER_PACKET_TOO_LARGE', clientId: 'raw', user: 'anonymous', announcedBytes: 40_000_005, limit: 64 * 1024 })]);
    await eventually('the small message', () => got.length === 1);
    expect(got[0]?.length).toBe(1000);
    expect(c.connected).toBe(true);
  });

  it('holds a TLS listener to maxPacketSize the same way (the guard reads the decrypted stream)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-limits-tls-'));
    try {
      const b = await start({ maxPacketSize: '64KiB' }, { tls: selfSignedCert(dir) });
      await announceHuge(tls.connect({ port: b.port as number, host: '127.0.0.1', rejectUnauthorized: false }), 'secureConnect');
      expect(b.stats.refused.packetTooLarge).toBe(1);
      expect(warned('packetTooLarge')).toEqual([expect.objectContaining({ clientId: 'raw', user: 'anonymous' })]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses connections past maxConnections and maxConnectionsPerUser', async () => {
    const b = await start({ maxConnections: 3, maxConnectionsPerUser: 2 }, { allowAnonymous: false, users: [{ username: 'a', password: 'pa' }, { username: 'b', password: 'pb' }] });
    await client(b, { username: 'a', password: 'pa' });
    await client(b, { username: 'a', password: 'pa' });
    await expect(client(b, { username: 'a', password: 'pa', clientId: 'a-3' })).rejects.toThrow(/unavailable|refused/i);
    expect(b.stats.refused.connectionsPerUser).toBe(1);
    expect(warned('connectionsPerUser')).toEqual([expect.objectContaining({ code: 'EDGE_BROKER_TOO_MANY_CONNECTIONS', clientId: 'a-3', user: 'a', limit: 2 })]);
    await client(b, { username: 'b', password: 'pb' });
    // The fourth socket is closed before any MQTT is read.
    const raw = net.connect(b.port as number, '127.0.0.1');
    raw.on('error', () => {});
    raw.on('data', () => {});
    await new Promise<void>((resolve) => raw.once('close', () => resolve()));
    expect(b.stats.refused.connections).toBe(1);
    expect(b.stats.clients).toBe(3);
    // Closed before its CONNECT was read: the address is all there is to name it by.
    expect(warned('connections')).toEqual([expect.objectContaining({ code: 'EDGE_BROKER_TOO_MANY_CONNECTIONS', remote: '127.0.0.1', limit: 3 })]);
  });

  it('grants at most maxSubscriptionsPerClient filters (0x80 for the rest) and keeps the client', async () => {
    const b = await start({ maxSubscriptionsPerClient: 3 });
    const c = await client(b, { clientId: 'subs' });
    // MQTT.js reports a SUBACK with any 0x80 as an error; the codes are in its packet.
    const granted = await new Promise<number[]>((resolve) =>
      c.subscribe(['a/1', 'a/2', 'a/3', 'a/4', 'a/5'], (err) => resolve((err as (Error & { packet?: { granted?: number[] } }) | null)?.packet?.granted ?? [])),
    );
    expect(granted).toEqual([0, 0, 0, 128, 128]);
    expect(b.stats.refused.subscriptions).toBe(2);
    expect(warned('subscriptions')).toEqual([expect.objectContaining({ code: 'EDGE_BROKER_TOO_MANY_SUBSCRIPTIONS', clientId: 'subs', user: 'anonymous', filter: 'a/4', limit: 3 })]);
    await c.unsubscribeAsync('a/1');
    expect((await c.subscribeAsync('a/6'))[0]?.qos).toBe(0);
    expect(c.connected).toBe(true);
  });

  it('keeps at most maxRetained / maxRetainedBytes retained messages; the rest are delivered, not kept', async () => {
    const b = await start({ maxRetained: 5, maxRetainedBytes: 2048 }, { allowAnonymous: false, users: [{ username: 'ret', password: 'pr' }] });
    const live: string[] = [];
    await b.subscribe('r/#', (t) => live.push(t));
    const c = await client(b, { clientId: 'retainer', username: 'ret', password: 'pr' });
    for (let i = 0; i < 10; i++) await c.publishAsync(`r/${i}`, 'x'.repeat(100), { retain: true, qos: 1 });
    await c.publishAsync('r/huge', 'y'.repeat(4000), { retain: true, qos: 1 });
    await eventually('every retained message delivered live', () => live.length === 11);
    expect(b.stats.refused.retained).toBe(6);
    expect(b.stats.retained).toBe(5);
    expect(warned('retained')).toEqual([expect.objectContaining({ code: 'EDGE_BROKER_RETAINED_FULL', clientId: 'retainer', user: 'ret', topic: 'r/5' })]);
    // An update of a kept topic still fits; an empty payload frees a slot.
    await c.publishAsync('r/0', 'z', { retain: true, qos: 1 });
    await c.publishAsync('r/1', '', { retain: true, qos: 1 });
    expect(b.stats.retained).toBe(4);
    const reader = await client(b, { username: 'ret', password: 'pr' });
    const seen: string[] = [];
    reader.on('message', (t) => seen.push(t));
    await reader.subscribeAsync('r/#');
    await eventually('the kept retained messages', () => seen.length >= 4);
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.sort()).toEqual(['r/0', 'r/2', 'r/3', 'r/4']);
  });

  it('disconnects a client publishing faster than maxPublishRate; one within it keeps publishing', async () => {
    const b = await start({ maxPublishRate: 20 });
    const flood = await client(b, { clientId: 'flood' });
    const calm = await client(b);
    const down = closed(flood);
    for (let i = 0; i < 200 && flood.connected; i++) flood.publish('f/x', String(i));
    await down;
    expect(b.stats.refused.publishRate).toBe(1);
    expect(warned('publishRate')).toEqual([expect.objectContaining({ code: 'EDGE_BROKER_PUBLISH_RATE', clientId: 'flood', user: 'anonymous', limit: 20 })]);
    for (let i = 0; i < 5; i++) await calm.publishAsync('f/y', String(i), { qos: 1 });
    expect(calm.connected).toBe(true);
  });

  it('bounds the queue of a persistent session that went away (maxQueued)', async () => {
    const b = await start({ maxQueued: 10 });
    const away = await client(b, { clientId: 'away-1', clean: false });
    await away.subscribeAsync('q/#', { qos: 1 });
    await away.endAsync();
    const pub = await client(b);
    for (let i = 0; i < 30; i++) await pub.publishAsync('q/x', String(i), { qos: 1 });
    await eventually('20 messages not queued', () => b.stats.refused.queued === 20);
    // The session's client is away; the user it connected as is remembered with the session.
    expect(warned('queued')).toEqual([expect.objectContaining({ code: 'EDGE_BROKER_QUEUE_FULL', clientId: 'away-1', user: 'anonymous', limit: 10 })]);
    const back = await connectAsync(`mqtt://127.0.0.1:${b.port}`, { clientId: 'away-1', clean: false, reconnectPeriod: 0, manualConnect: false });
    clients.push(back);
    const got: string[] = [];
    back.on('message', (_t, p) => got.push(p.toString()));
    await eventually('the 10 queued messages', () => got.length === 10);
    expect(got).toEqual(Array.from({ length: 10 }, (_, i) => String(i)));
  });

  it('drops messages for a client that stops reading once maxQueuedBytes wait in its socket; the others get every one', async () => {
    const b = await start({ maxQueuedBytes: '64KiB', maxPublishRate: 10_000 });
    let delivered = 0;
    await b.subscribe('s/#', () => (delivered += 1));
    const slow = await client(b, { clientId: 'slow' });
    await slow.subscribeAsync('s/#');
    // It stops reading: what the broker sends it fills the kernel's buffers, then its socket's.
    (slow.stream as net.Socket).pause();
    const pub = await client(b);
    const chunk = Buffer.alloc(100 * 1024, 0x73);
    for (let i = 0; i < 300; i++) await pub.publishAsync('s/x', chunk);
    await eventually('every message to the in-process subscriber', () => delivered === 300);
    expect(b.stats.refused.queued).toBeGreaterThan(0);
    expect(b.stats.refused.queued).toBeLessThan(300);
    expect(warned('queued')).toEqual([expect.objectContaining({ code: 'EDGE_BROKER_QUEUE_FULL', clientId: 'slow', user: 'anonymous', limitBytes: 64 * 1024 })]);
    expect(pub.connected).toBe(true);
  });

  it('disconnects a client holding more than maxInflight QoS 2 messages without PUBREL', async () => {
    const b = await start({ maxInflight: 5 });
    // A raw client: CONNECT, then QoS 2 PUBLISHes it never releases.
    const raw = net.connect(b.port as number, '127.0.0.1');
    raw.on('error', () => {});
    raw.on('data', () => {});
    const hungUp = new Promise<void>((resolve) => raw.once('close', () => resolve()));
    await new Promise<void>((resolve) => raw.once('connect', () => resolve()));
    raw.write(Buffer.from([0x10, 15, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 60, 0, 3, 0x71, 0x6f, 0x73]));
    await new Promise((r) => setTimeout(r, 100));
    for (let id = 1; id <= 10; id++) raw.write(Buffer.from([0x34, 6, 0, 1, 0x74, 0, id, 0x41]));
    await hungUp;
    expect(b.stats.refused.inflight).toBe(1);
    expect(warned('inflight')).toEqual([expect.objectContaining({ code: 'EDGE_BROKER_INFLIGHT_FULL', clientId: 'qos', user: 'anonymous', limit: 5 })]);
  });
});
