/**
 * The flood (issue 17): the agent as its own process, a Modbus meter polled every second and a
 * well-behaved MQTT sensor publishing every 100 ms, while hostile local clients take turns at
 * its doors — 40 MB publishes (MQTT.js and mosquitto_pub), payloads over the driver's bound and
 * nested too deep, a subscriber that stops reading, a retained-message flood, a connection flood,
 * a subscription flood, a publish-rate flood and a QoS 2 flood from one client — and then a
 * slowloris on HTTP while /status and /history are asked for every 100 ms.
 *
 * Measured: the agent's RSS (VmRSS, every 50 ms) idle and at its peak, the poll schedule of the
 * meter (from the points' timestamps in its buffer), the sensor's readings that arrived, what
 * /metrics counted, and how /status and /history answered during the slowloris.
 * test/integration/hostile-clients.test.ts asserts on it; `npm run bench -- --only flood` prints it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { connectAsync } from 'mqtt';
import { percentile, pollSlips } from './figures.js';
import { connectionFlood, oversized, rateFlood, retainedFlood, slowloris, subscriptionFlood } from './flood-attacks.js';
import { POLL_EVERY_MS, RssSampler, startFloodAgent, USERS } from './flood-agent.js';

export interface FloodResult {
  idle_rss_mb: number;
  peak_rss_mb: number;
  /** peak / idle */
  rss_ratio: number;
  poll_slip_ms_p99: number;
  poll_slip_ms_max: number;
  poll_ticks_missed: number;
  polls: number;
  poll_overruns: number;
  sensor_sent: number;
  sensor_arrived: number;
  /** Requests to /status and /history during the slowloris: answered 200, and not. */
  http_ok: number;
  http_failed: number;
  http_ms_p99: number;
  http_ms_max: number;
  slow_sockets_opened: number;
  /** What the attacks did. */
  attacks: Record<string, unknown>;
  /** Per attack: the agent's peak RSS and the meter's worst poll slip while it ran. */
  phases: Record<string, { peak_rss_mb: number; poll_slip_ms_max: number; seconds: number }>;
  /** Counters scraped from /metrics at the end: `name{labels}` → value. */
  metrics: Record<string, number>;
  /** The agent's warnings about the doors' limits (broker, HTTP), as logged: who each names. */
  warnings: Array<Record<string, unknown>>;
  seconds: number;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `name{labels} value` lines of the Prometheus text → a map. */
export function parseMetrics(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const at = line.lastIndexOf(' ');
    out[line.slice(0, at)] = Number(line.slice(at + 1));
  }
  return out;
}

const LIMIT_MESSAGES = new Set(['mqtt client held to broker.limits', 'http client held to the http limits']);

/** The log lines (JSON) that say a client was held to a limit. */
export function limitWarnings(output: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (LIMIT_MESSAGES.has(entry.msg as string)) out.push(entry);
    } catch {
      // not a log line
    }
  }
  return out;
}

export async function runFlood(opts: { progress?: (msg: string) => void; slowlorisMs?: number } = {}): Promise<FloodResult> {
  const progress = opts.progress ?? (() => {});
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-flood-'));
  const t0 = Date.now();
  const { agent, modbus } = await startFloodAgent(dir);
  const attacks: Record<string, unknown> = {};
  let rss: RssSampler | undefined;
  try {
    // The well-behaved sensor: QoS 1 every 100 ms, a sequence number in every reading.
    const sensor = await connectAsync(`mqtt://127.0.0.1:${agent.brokerPort}`, { username: 'sensor', password: USERS.sensor, clientId: 'sensor-1', reconnectPeriod: 500 });
    sensor.on('error', () => {});
    let sent = 0;
    let sensorOn = true;
    const sensorLoop = (async () => {
      while (sensorOn) {
        sent += 1;
        await sensor.publishAsync('site/sensor/temp', JSON.stringify({ seq: sent, t: 20 + (sent % 10) / 10 }), { qos: 1 });
        await pause(100);
      }
    })();

    // Idle: the agent polling and taking the sensor's readings, nobody hostile yet.
    await pause(4000);
    const idle: number[] = [];
    for (let i = 0; i < 10; i++) {
      idle.push(agent.rssKb());
      await pause(100);
    }
    const idleKb = idle.sort((a, b) => a - b)[idle.length >> 1] as number;
    const floodFrom = Date.now();
    rss = new RssSampler(() => agent.rssKb());

    const windows: Array<{ name: string; from: number; to: number; fromSample: number; toSample: number }> = [];
    const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
      progress(name);
      const w = { name, from: Date.now(), to: 0, fromSample: rss?.samplesKb.length ?? 0, toSample: 0 };
      try {
        return await fn();
      } finally {
        w.to = Date.now();
        w.toSample = rss?.samplesKb.length ?? 0;
        windows.push(w);
      }
    };
    attacks.oversized = await phase('oversized', () => oversized(agent.brokerPort, dir));
    attacks.retained = await phase('retained', () => retainedFlood(agent.brokerPort));
    attacks.connections = await phase('connections', () => connectionFlood(agent.brokerPort));
    const granted = await phase('subscriptions', () => subscriptionFlood(agent.brokerPort));
    attacks.subscriptions = { asked: granted.length, granted: granted.filter((g) => g !== 128).length };
    attacks.rate = await phase('rate', () => rateFlood(agent.brokerPort));
    const slowStart = { name: 'slowloris', from: Date.now(), to: 0, fromSample: rss.samplesKb.length, toSample: 0 };
    progress('slowloris');
    const endSlow = slowloris(agent.httpUrl, 200, 500);
    const latencies: number[] = [];
    let failed = 0;
    const until = Date.now() + (opts.slowlorisMs ?? 8000);
    while (Date.now() < until) {
      for (const url of [`${agent.httpUrl}/status`, `${agent.httpUrl}/history?device=meter&point=flow&minutes=5`]) {
        const t = performance.now();
        try {
          const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
          await res.arrayBuffer();
          if (res.status === 200) latencies.push(performance.now() - t);
          else failed += 1;
        } catch {
          failed += 1;
        }
      }
      await pause(100);
    }
    const slowOpened = endSlow();
    const floodTo = Date.now();
    windows.push({ ...slowStart, to: floodTo, toSample: rss.samplesKb.length });
    rss.stop();

    // Let the last readings land, then read what was counted.
    sensorOn = false;
    await sensorLoop;
    await pause(1500);
    const metricsText = await (await fetch(`${agent.httpUrl}/metrics`)).text();
    const status = (await (await fetch(`${agent.httpUrl}/status`)).json()) as { devices: Array<{ id: string; health: { overruns: number } | null }> };
    await sensor.endAsync();
    const code = await agent.stop();
    if (code !== 0) throw new Error(`the agent exited with ${code}:\n${agent.output().slice(-4000)}`);

    const db = new Database(agent.bufferPath, { readonly: true });
    let pollTs: number[];
    let seqs: number[];
    try {
      const rows = (device: string, point: string) =>
        db.prepare('SELECT p.ts AS ts, p.value AS value FROM points p JOIN series s ON s.id = p.series_id WHERE s.device_id = ? AND s.point_id = ? ORDER BY p.ts').all(device, point) as Array<{ ts: number; value: number }>;
      pollTs = rows('meter', 'flow').map((r) => r.ts).filter((ts) => ts >= floodFrom && ts <= floodTo);
      seqs = rows('sensor', 'seq').map((r) => r.value);
    } finally {
      db.close();
    }
    const { slips, missedTicks } = pollSlips(pollTs, POLL_EVERY_MS);
    const phases: FloodResult['phases'] = {};
    for (const w of windows) {
      const mine = pollTs.filter((ts) => ts >= w.from && ts <= w.to);
      phases[w.name] = {
        peak_rss_mb: Math.max(0, ...(rss.samplesKb.slice(w.fromSample, w.toSample + 1))) / 1024,
        // a timer may fire a few ms early: that is no slip
        poll_slip_ms_max: Math.max(0, ...mine.map((ts) => ((ts + 20) % POLL_EVERY_MS) - 20)),
        seconds: (w.to - w.from) / 1000,
      };
    }
    const arrived = new Set(seqs.filter((s) => s >= 1 && s <= sent));
    return {
      idle_rss_mb: idleKb / 1024,
      peak_rss_mb: rss.peakKb / 1024,
      rss_ratio: rss.peakKb / idleKb,
      poll_slip_ms_p99: percentile(slips, 99),
      poll_slip_ms_max: Math.max(...slips),
      poll_ticks_missed: missedTicks,
      polls: pollTs.length,
      poll_overruns: status.devices.find((d) => d.id === 'meter')?.health?.overruns ?? Number.NaN,
      sensor_sent: sent,
      sensor_arrived: arrived.size,
      http_ok: latencies.length,
      http_failed: failed,
      http_ms_p99: percentile(latencies, 99),
      http_ms_max: Math.max(...latencies),
      slow_sockets_opened: slowOpened,
      attacks,
      phases,
      metrics: parseMetrics(metricsText),
      warnings: limitWarnings(agent.output()),
      seconds: (Date.now() - t0) / 1000,
    };
  } finally {
    rss?.stop();
    await agent.stop();
    await modbus.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
