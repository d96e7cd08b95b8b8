/**
 * Issue 17: the agent's doors against broken and hostile local clients, on the real process
 * (`edge-agent run`) with the shipped default limits and real clients (MQTT.js, mosquitto_pub,
 * raw sockets) — the flood of bench/flood.ts. Through all of it:
 *
 * - the agent's RSS stays at most 2× its idle RSS (before the fix one 40 MB publish took it from
 *   88 to 145 MB, eight at once to 610 MB);
 * - the Modbus meter polled every second misses no tick and never overruns;
 * - every reading of the well-behaved sensor arrives in the buffer;
 * - /status and /history answer every request during the slowloris;
 * - every kind of refusal is counted on /metrics.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { runFlood, type FloodResult } from '../../bench/flood.js';

const haveMosquittoPub = spawnSync('mosquitto_pub', ['--help'], { stdio: 'ignore' }).error === undefined;

describe('hostile local clients against the real agent', () => {
  it.runIf(haveMosquittoPub)('hold the agent to its bounds while the meter, the sensor and the status page carry on', async () => {
    const r: FloodResult = await runFlood({ slowlorisMs: 6000 });
    const m = r.metrics;
    const refused = (reason: string) => m[`edge_broker_refused_total{reason="${reason}"}`] ?? 0;
    // The figures go to the log of the run, so a regression shows how far it moved.
    console.log(JSON.stringify({ ...r, metrics: Object.fromEntries(Object.entries(m).filter(([k]) => /^edge_(broker|mqtt|http)_/.test(k))) }, null, 1));

    expect(r.peak_rss_mb).toBeLessThanOrEqual(2 * r.idle_rss_mb);

    expect(r.polls).toBeGreaterThanOrEqual(8);
    expect(r.poll_ticks_missed).toBe(0);
    expect(r.poll_overruns).toBe(0);

    expect(r.sensor_sent).toBeGreaterThan(100);
    expect(r.sensor_arrived).toBe(r.sensor_sent);

    expect(r.http_failed).toBe(0);
    expect(r.http_ok).toBeGreaterThan(10);

    // Ten 40 MB publishes (8 MQTT.js, 2 mosquitto_pub), each closed on its header.
    expect(refused('packetTooLarge')).toBe(10);
    expect(refused('connectionsPerUser')).toBeGreaterThan(0);
    expect(refused('connections')).toBeGreaterThan(0);
    expect(refused('subscriptions')).toBe(500 - 32);
    expect(refused('retained')).toBeGreaterThan(0);
    expect(refused('publishRate')).toBeGreaterThan(0);
    expect(refused('inflight')).toBe(1);
    expect(refused('queued')).toBeGreaterThan(0);
    expect(m['edge_broker_retained_messages']).toBeLessThanOrEqual(1000);
    expect(m['edge_broker_retained_bytes']).toBeLessThanOrEqual(4 * 1024 * 1024);
    const attacks = r.attacks as { oversized: { tooLarge: number; tooDeep: number } };
    expect(m['edge_mqtt_messages_refused_total{device="flood-sink",reason="too_large"}']).toBe(attacks.oversized.tooLarge);
    expect(m['edge_mqtt_messages_refused_total{device="flood-sink",reason="too_deep"}']).toBe(attacks.oversized.tooDeep);
    expect(m['edge_http_refused_total{reason="evicted"}']).toBeGreaterThan(0);
  }, 90_000);
});
