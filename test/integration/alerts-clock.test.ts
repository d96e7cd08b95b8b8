/**
 * An alert raised on a gateway that booted offline with its clock in 1970: the agent holds the
 * alert event like the readings, and once NTP steps the clock PostgreSQL's alerts table gets the
 * alert with its raised time corrected from the monotonic clock — never a 1970 time.
 * The wall clock is the one thing faked (a test cannot set the machine's clock).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CLOCK_FLOOR_MS } from '../../agent/pipeline/clock-sanity.js';
import type { AlertRecord } from '../../buffer/types.js';
import { until } from '../helpers/buffer-file.js';
import { SkewedClock, skewedAgent } from '../helpers/clocks.js';
import { RegisterImage } from '../helpers/modbus-server.js';
import { startRig, type Rig } from '../helpers/rig.js';

let rig: Rig;
const dir = mkdtempSync(join(tmpdir(), 'edge-alerts-clock-'));
const image = new RegisterImage().setValue('holding', 0, 50, 'uint16');

beforeAll(async () => {
  rig = await startRig({ name: 'alerts_clock', image });
});

afterAll(async () => {
  await rig?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface PgAlert {
  alert_id: string;
  state: string;
  raised_at: number;
  cleared_at: number | null;
  event_at: number;
}

async function pgAlerts(): Promise<PgAlert[]> {
  const ms = (c: string) => `(extract(epoch from ${c}) * 1000)::bigint AS ${c}`;
  try {
    const r = await rig.db.pool.query<Record<keyof PgAlert, string | null>>(
      `SELECT alert_id, state, ${ms('raised_at')}, ${ms('cleared_at')}, ${ms('event_at')} FROM "${rig.db.schema}".alerts WHERE gateway_id = 'gw-alerts-clock'`,
    );
    return r.rows.map((x) => ({
      alert_id: String(x.alert_id),
      state: String(x.state),
      raised_at: Number(x.raised_at),
      cleared_at: x.cleared_at === null ? null : Number(x.cleared_at),
      event_at: Number(x.event_at),
    }));
  } catch {
    return [];
  }
}

it('an alert raised before the clock is trusted reaches PostgreSQL with its raised time corrected', { timeout: 60_000 }, async () => {
  const clock = new SkewedClock();
  const offline = Date.UTC(1970, 0, 1, 0, 0, 5) - Date.now();
  clock.skew = offline;
  const text = `
gateway: { id: gw-alerts-clock, site: well-3 }
buffer: { path: ${join(dir, 'b.db')} }
sinks:
  postgres: { url: "${rig.db.url}", schema: ${rig.db.schema} }
devices:
  - id: pump-1
    driver: modbus
    connection: { protocol: tcp, host: 127.0.0.1, port: ${rig.slave.port}, timeout: 500ms }
    every: 100ms
    points:
      flow: { register: holding, address: 0, type: uint16, alerts: [ { above: 100, clearBelow: 90, severity: critical } ] }
`;
  const agent = skewedAgent(text, clock);
  const changes: AlertRecord[] = [];
  agent.alerts.onChange((_view, record) => changes.push(record));
  await agent.start();
  try {
    image.setValue('holding', 0, 120, 'uint16');
    await until('the alert raised on the 1970 clock', () => changes.some((r) => r.state === 'active'));
    const raised = changes.find((r) => r.state === 'active') as AlertRecord;
    expect(raised.raisedAt).toBeLessThan(CLOCK_FLOOR_MS);
    expect(raised.unconfirmedTimes?.raisedAt).toBeDefined();
    // Several forwarder rounds: nothing leaves with the 1970 time.
    const polls = agent.runners.get('pump-1')?.health.polls ?? 0;
    await until('more polls', () => (agent.runners.get('pump-1')?.health.polls ?? 0) >= polls + 5);
    expect(await pgAlerts()).toEqual([]);

    clock.skew = 0; // NTP steps the clock
    await until('the alert in PostgreSQL', async () => (await pgAlerts()).length > 0);
    const [row] = await pgAlerts();
    expect(row?.alert_id).toBe(raised.id);
    // Its wrong time plus the correction (within a few ms of reading the two clocks).
    expect(Math.abs((row?.raised_at ?? 0) - (raised.raisedAt - offline))).toBeLessThan(50);
    expect(Math.abs((row?.event_at ?? 0) - (raised.raisedAt - offline))).toBeLessThan(50);
    // The engine's own view is corrected at its next look at the clock (within its ack poll, 1 s).
    await until('the active alert corrected in the engine', () => (agent.alerts.list()[0]?.since ?? 0) > CLOCK_FLOOR_MS);
    expect(Math.abs((agent.alerts.list()[0]?.since ?? 0) - (raised.raisedAt - offline))).toBeLessThan(50);

    image.setValue('holding', 0, 50, 'uint16');
    await until('the alert cleared in PostgreSQL', async () => (await pgAlerts())[0]?.state === 'cleared');
    const [cleared] = await pgAlerts();
    expect(cleared?.raised_at).toBe(row?.raised_at);
    expect(cleared?.cleared_at).toBeGreaterThan(CLOCK_FLOOR_MS);
  } finally {
    await agent.stop();
  }
});
