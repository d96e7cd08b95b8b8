/**
 * Hostile and broken local clients, each a real client: MQTT.js, Mosquitto's mosquitto_pub, and
 * raw TCP sockets for what no well-behaved library would send (a QoS 2 flood that never releases,
 * HTTP headers dribbled a byte at a time). Each attack returns what it did, never throws for a
 * refusal: being refused is the point.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { USERS } from './flood-agent.js';

const hostile: IClientOptions = { username: 'hostile', password: USERS.hostile, reconnectPeriod: 0, connectTimeout: 5000 };
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A hostile client, or undefined when refused. `retries`: for the attacks after a flood, whose
 * closed connections the broker may not have seen go yet (limits.maxConnectionsPerUser).
 */
async function tryConnect(port: number, retries = 0): Promise<MqttClient | undefined> {
  for (let attempt = 0; ; attempt++) {
    try {
      const c = await connectAsync(`mqtt://127.0.0.1:${port}`, hostile);
      c.on('error', () => {});
      return c;
    } catch {
      if (attempt >= retries) return undefined;
      await pause(100);
    }
  }
}

async function endAll(clients: ReadonlyArray<MqttClient | undefined>): Promise<void> {
  await Promise.all(clients.map((c) => (c === undefined ? Promise.resolve() : c.endAsync(true).catch(() => {}))));
}

/** Resolves when the socket closes, or after `ms`. */
function closedWithin(c: MqttClient, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (!c.connected) return resolve(true);
    const t = setTimeout(() => resolve(false), ms);
    c.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/**
 * 40 MB publishes: eight MQTT.js clients at once and two mosquitto_pub; plus payloads the broker
 * lets through (under its packet bound) but the MQTT driver refuses (over maxPayload, nested too
 * deep), and a subscriber that stops reading while they go by (limits.maxQueuedBytes).
 */
export async function oversized(port: number, dir: string): Promise<{ huge: number; tooLarge: number; tooDeep: number }> {
  const huge = Buffer.alloc(40 * 1024 * 1024, 0x61);
  // A subscriber that never reads: what the broker sends it piles up in its socket.
  const stalled = await tryConnect(port, 20);
  await stalled?.subscribeAsync('site/flood/#');
  (stalled?.stream as net.Socket | undefined)?.pause();
  const big = await Promise.all(Array.from({ length: 8 }, () => tryConnect(port)));
  for (const c of big) c?.publish('site/flood/huge', huge);
  const file = path.join(dir, 'huge.bin');
  fs.writeFileSync(file, huge);
  const pubs = [0, 1].map(
    () =>
      new Promise<void>((resolve) => {
        const child = spawn('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-u', 'hostile', '-P', USERS.hostile, '-V', 'mqttv311', '-t', 'site/flood/huge', '-f', file], { stdio: 'ignore' });
        child.once('error', () => resolve());
        child.once('exit', () => resolve());
      }),
  );
  await Promise.all([...big.map((c) => (c === undefined ? Promise.resolve(true) : closedWithin(c, 10_000))), ...pubs]);
  await endAll(big);
  fs.rmSync(file);
  // Through the broker (under 256 KiB), refused by the driver (over 64 KiB, or deeper than 32).
  const sender = await tryConnect(port, 20);
  let tooLarge = 0;
  let tooDeep = 0;
  const large = Buffer.from(JSON.stringify({ v: 1, pad: 'x'.repeat(200 * 1024) }));
  const deep = `{"v":${'['.repeat(5000)}1${']'.repeat(5000)}}`;
  for (let i = 0; i < 40 && sender?.connected === true; i++) {
    await sender.publishAsync(`site/flood/${i}`, large, { qos: 1 });
    tooLarge += 1;
    if (i % 4 === 0) {
      await sender.publishAsync(`site/flood/${i}`, deep, { qos: 1 });
      tooDeep += 1;
    }
    await pause(15); // under limits.maxPublishRate: these are refused by size, not by rate
  }
  await endAll([sender, stalled]);
  return { huge: big.length + pubs.length, tooLarge, tooDeep };
}

/** 1500 retained messages of 4 KB on distinct topics, from ten clients (each under the publish rate). */
export async function retainedFlood(port: number): Promise<number> {
  const clients = await Promise.all(Array.from({ length: 10 }, () => tryConnect(port, 20)));
  const payload = Buffer.alloc(4096, 0x72);
  let sent = 0;
  await Promise.all(
    clients.map(async (c, k) => {
      for (let i = 0; i < 150 && c?.connected === true; i++) {
        await c.publishAsync(`site/retained/${k}/${i}`, payload, { retain: true, qos: 1 });
        sent += 1;
        if (i % 50 === 49) await pause(600);
      }
    }),
  );
  await endAll(clients);
  return sent;
}

/** 40 MQTT connections as one user, then 100 raw sockets that never send CONNECT. */
export async function connectionFlood(port: number): Promise<{ accepted: number; refused: number; sockets: number }> {
  const clients = await Promise.all(Array.from({ length: 40 }, () => tryConnect(port)));
  const accepted = clients.filter((c) => c !== undefined).length;
  const sockets = await Promise.all(
    Array.from(
      { length: 100 },
      () =>
        new Promise<net.Socket>((resolve) => {
          const s = net.connect(port, '127.0.0.1', () => resolve(s));
          s.on('error', () => resolve(s));
          s.on('data', () => {});
        }),
    ),
  );
  await pause(500);
  for (const s of sockets) s.destroy();
  await endAll(clients);
  return { accepted, refused: clients.length - accepted, sockets: sockets.length };
}

/** One client asks for 500 filters in one SUBSCRIBE. */
export async function subscriptionFlood(port: number): Promise<number[]> {
  const c = await tryConnect(port, 20);
  if (c === undefined) return [];
  const filters = Array.from({ length: 500 }, (_, i) => `site/sub/${i}/#`);
  const granted = await new Promise<number[]>((resolve) =>
    c.subscribe(filters, (err, g) => resolve((err as (Error & { packet?: { granted?: number[] } }) | null)?.packet?.granted ?? (g ?? []).map((x) => x.qos))),
  );
  await endAll([c]);
  return granted;
}

/** One client publishes as fast as it can until it is cut off; then one sends QoS 2 PUBLISHes and never PUBREL. */
export async function rateFlood(port: number): Promise<{ sent: number; disconnected: boolean }> {
  const c = await tryConnect(port, 20);
  if (c === undefined) return { sent: 0, disconnected: false };
  let sent = 0;
  const down = closedWithin(c, 10_000);
  while (c.connected && sent < 5000) {
    c.publish('site/flood/rate', '{"v":1}');
    sent += 1;
    if (sent % 200 === 0) await pause(1);
  }
  const disconnected = await down;
  await endAll([c]);
  // QoS 2 PUBLISHes whose PUBREC is never answered with PUBREL (limits.maxInflight).
  const q = await tryConnect(port, 20);
  if (q !== undefined) {
    const stream = q.stream as net.Socket;
    stream.removeAllListeners('data');
    stream.on('data', () => {});
    // Paced under limits.maxPublishRate, so it is the in-flight bound (100) that ends it.
    for (let id = 1; id <= 150 && q.connected; id++) {
      stream.write(Buffer.from([0x34, 11, 0, 6, ...Buffer.from('site/q'), id >> 8, id & 0xff, 0x31]));
      await pause(12);
    }
    await closedWithin(q, 5000);
    await endAll([q]);
  }
  return { sent, disconnected };
}

/**
 * Slowloris: `count` sockets each send a request line and then one header byte every `dribbleMs`,
 * never finishing; returns a function that ends them all.
 */
export function slowloris(httpUrl: string, count: number, dribbleMs: number): () => number {
  const { hostname, port } = new URL(httpUrl);
  const sockets = new Set<net.Socket>();
  let opened = 0;
  let stopped = false;
  const open = () => {
    if (stopped) return;
    opened += 1;
    const s = net.connect(Number(port), hostname, () => s.write('GET /status HTTP/1.1\r\nHost: agent\r\nX-Slow: '));
    sockets.add(s);
    s.on('error', () => {});
    s.on('data', () => {});
    const t = setInterval(() => s.writable && s.write('a'), dribbleMs);
    // A slow client that is cut off comes back (that is what an attacker does).
    s.once('close', () => {
      clearInterval(t);
      sockets.delete(s);
      setTimeout(open, 100);
    });
  };
  for (let i = 0; i < count; i++) open();
  return () => {
    stopped = true;
    for (const s of sockets) s.destroy();
    return opened;
  };
}
