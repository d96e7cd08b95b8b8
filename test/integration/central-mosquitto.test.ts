/**
 * The ops link against a real Mosquitto (a private one on a free port): retained state and info,
 * signed config pushes (applied hot, refused, rolled back), the other commands, and real link
 * outages through a TCP proxy. The agent reads a real Modbus TCP slave and delivers through its
 * SQLite buffer to a recording sink, so "no point lost" is checked end to end.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../agent/agent.js';
import type { Point } from '../../buffer/types.js';
import { ConfigState, loadBootConfig } from '../../config/config-state.js';
import { generateSigningKeys, signContent } from '../../config/signing.js';
import { createPrivateKey } from 'node:crypto';
import type { Sink } from '../../sinks/types.js';
import type { RunningModbusServer } from '../../drivers/modbus/server.js';
import { closedPort, RegisterImage, startImageServer } from '../helpers/modbus-server.js';
import { Mosquitto, mosquittoAvailable } from '../helpers/mosquitto.js';
import { missing } from '../helpers/peers.js';
import { OpsClient } from '../helpers/central.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const keys = generateSigningKeys();
const privateKey = createPrivateKey(keys.privateKeyPem);
const GW = 'gw-central-1';
const PREFIX = `t${process.pid}`;
const BASE = `${PREFIX}/${GW}`;

let broker: Mosquitto;
let proxy: TcpProxy;
let slave: RunningModbusServer;
let dir: string;
let agent: Agent;
let ops: OpsClient;
let configFile: string;
const emitted: Point[] = [];
const delivered: Point[] = [];

const recorder: Sink = {
  name: 'recorder',
  start: async () => {},
  stop: async () => {},
  write: async (batch) => {
    delivered.push(...batch);
  },
};

function device(id: string, port: number, address = 0): Record<string, unknown> {
  return {
    id,
    driver: 'modbus',
    connection: { protocol: 'tcp', host: '127.0.0.1', port, unitId: 1, timeout: '300ms' },
    every: '200ms',
    points: { flow: { register: 'holding', address, type: 'uint16' } },
  };
}

/** The config ops push: no `central` (the gateway keeps its own), every other section in full. */
function pushed(devices: Record<string, unknown>[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { gateway: { id: GW, site: 'well-9' }, buffer: { path: join(dir, 'buffer.db') }, log: { level: 'warn' }, devices, ...extra };
}

function signed(rev: number, config: Record<string, unknown>): Record<string, unknown> {
  return { rev, config, signature: signContent(privateKey, { rev, config }) };
}

const key = (p: Point) => `${p.deviceId}/${p.pointId}/${p.ts}`;

async function waitFor(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const skip = missing('mosquitto', mosquittoAvailable(), 'Debian package mosquitto');

describe.skipIf(skip)('central ops link (Mosquitto)', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edge-central-'));
    writeFileSync(join(dir, 'ops.pub'), keys.publicKeyPem);
    const image = new RegisterImage().setValue('holding', 0, 11, 'uint16').setValue('holding', 1, 22, 'uint16');
    slave = await startImageServer(image);
    broker = await Mosquitto.start();
    proxy = new TcpProxy({ host: '127.0.0.1', port: broker.port });
    await proxy.up();
    ops = await OpsClient.connect(broker.url, `${BASE}/#`);
    const central = { prefix: PREFIX, url: `mqtt://${proxy.url}`, publicKey: join(dir, 'ops.pub'), stateDir: join(dir, 'state'), applyTimeout: '2s', healthEvery: '1s' };
    const file = join(dir, 'config.json');
    configFile = file;
    writeFileSync(file, JSON.stringify({ ...pushed([device('pump-1', slave.port)]), central }));
    const boot = loadBootConfig({ file, env: {} });
    agent = new Agent({
      config: boot.config,
      logger,
      sinks: [recorder],
      forwarder: { idleMs: 50, backoff: { initialMs: 50, maxMs: 200 } },
      central: { boot, env: {}, backoff: { initialMs: 100, maxMs: 400 } },
    });
    agent.pipeline.onPoints((ps) => emitted.push(...ps));
    await agent.start();
  });

  afterAll(async () => {
    await agent?.stop();
    await ops?.end();
    await proxy?.down();
    await broker?.remove();
    await slave?.close();
  });

  it('says online and publishes info and health, all retained where they should be', async () => {
    const state = await ops.wait(`${BASE}/state`, (p) => p === 'online');
    expect(state.retain).toBe(false); // a live subscriber gets it as a fresh publish
    const info = JSON.parse((await ops.wait(`${BASE}/info`)).payload) as { rev: number; origin: string; version: string; config: { settings: { central: { password: string } } } };
    expect(info).toMatchObject({ rev: 0, origin: 'file', version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    const health = JSON.parse((await ops.wait(`${BASE}/health`, (p) => (JSON.parse(p) as { devices: Array<{ state: string }> }).devices[0]?.state === 'ok')).payload) as {
      devices: Array<{ id: string }>;
      sinks: Array<{ name: string }>;
      alerts: unknown[];
    };
    expect(health.devices.map((d) => d.id)).toEqual(['pump-1']);
    expect(health.sinks.map((s) => s.name)).toEqual(['recorder']);
    expect(health.alerts).toEqual([]);
    // A late subscriber gets state and info from the broker (retained).
    const late = await OpsClient.connect(broker.url, `${BASE}/+`);
    expect((await late.wait(`${BASE}/state`)).retain).toBe(true);
    expect((await late.wait(`${BASE}/info`)).retain).toBe(true);
    await late.end();
  });

  it('applies a good signed push hot: only the new device starts, the running one keeps polling, no point lost', async () => {
    const pump1 = agent.runners.get('pump-1');
    await waitFor(() => emitted.some((p) => p.deviceId === 'pump-1'), 'pump-1 points');
    const reply = await ops.request(BASE, 'config/set', signed(1, pushed([device('pump-1', slave.port), device('pump-2', slave.port, 1)], { http: { port: 0 } })));
    expect(reply).toMatchObject({ status: 'ok', code: null, error: null, data: { rev: 1, added: ['pump-2'], removed: [], restarted: [], restartRequired: ['http'] } });
    expect(agent.runners.get('pump-1')).toBe(pump1); // not restarted
    const info = await ops.wait(`${BASE}/info`, (p) => (JSON.parse(p) as { rev: number }).rev === 1);
    expect(JSON.parse(info.payload)).toMatchObject({ origin: 'pushed', lastApply: { rev: 1, outcome: 'applied' } });
    expect(JSON.parse(readFileSync(join(dir, 'state', 'last-known-good.json'), 'utf8'))).toMatchObject({ rev: 1 });
    expect(existsSync(join(dir, 'state', 'pending.json'))).toBe(false);
    // Both devices flow, and everything the pipeline stored reaches the sink exactly once.
    const before = emitted.length;
    await waitFor(() => emitted.slice(before).some((p) => p.deviceId === 'pump-2') && emitted.slice(before).some((p) => p.deviceId === 'pump-1'), 'both devices after the push');
    await waitFor(() => delivered.length >= emitted.length, 'delivery to catch up');
    expect(new Set(delivered.map(key))).toEqual(new Set(emitted.map(key)));
    expect(delivered.length).toBe(new Set(delivered.map(key)).size);
    expect(emitted.find((p) => p.deviceId === 'pump-2')?.value).toBe(22);
  });

  it('refuses an invalid push with every error at its path, and the old config runs on', async () => {
    const bad = pushed([device('pump-1', slave.port), { ...device('pump-2', slave.port), points: { flow: { register: 'holding', address: 0, type: 'float99' } } }, { id: 'x' }]);
    const reply = await ops.request(BASE, 'config/set', signed(2, bad));
    expect(reply.status).toBe('error');
    expect(reply.code).toBe('EDGE_CONFIG_INVALID');
    const paths = (reply.data.issues as Array<{ path: string }>).map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining([expect.stringMatching(/^devices\[1\]\.points\.flow\.type/), expect.stringMatching(/^devices\[2\]/)]));
    expect([...agent.runners.keys()].sort()).toEqual(['pump-1', 'pump-2']);
    expect((await ops.request(BASE, 'config/get', {})).data).toMatchObject({ rev: 1 });
    expect(existsSync(join(dir, 'state', 'pending.json'))).toBe(false);
  });

  it('refuses unsigned, tampered, relabelled, replayed and older pushes; nothing changes', async () => {
    const next = pushed([device('pump-1', slave.port)]);
    const unsigned = await ops.request(BASE, 'config/set', { rev: 3, config: next });
    expect(unsigned.code).toBe('EDGE_CONFIG_UNSIGNED');
    const good = signed(3, next);
    const tampered = await ops.request(BASE, 'config/set', { ...good, config: pushed([device('pump-1', slave.port, 1)]) });
    expect(tampered.code).toBe('EDGE_CONFIG_SIGNATURE_INVALID');
    const relabelled = await ops.request(BASE, 'config/set', { ...signed(1, next), rev: 9 });
    expect(relabelled.code).toBe('EDGE_CONFIG_SIGNATURE_INVALID');
    const forOther = { rev: 4, gateway: 'gw-other', config: next, signature: signContent(privateKey, { rev: 4, config: next, gateway: 'gw-other' }) };
    expect((await ops.request(BASE, 'config/set', forOther)).code).toBe('EDGE_CONFIG_WRONG_GATEWAY');
    const replay = await ops.request(BASE, 'config/set', signed(1, pushed([device('pump-1', slave.port), device('pump-2', slave.port, 1)])));
    expect(replay.code).toBe('EDGE_CONFIG_REV_CURRENT');
    expect([...agent.runners.keys()].sort()).toEqual(['pump-1', 'pump-2']);
    // A newer push removes pump-2; then the old rev 1 replayed is refused as stale.
    const removed = await ops.request(BASE, 'config/set', signed(5, next));
    expect(removed.data).toMatchObject({ rev: 5, removed: ['pump-2'] });
    const stale = await ops.request(BASE, 'config/set', signed(1, pushed([device('pump-1', slave.port), device('pump-2', slave.port, 1)])));
    expect(stale).toMatchObject({ status: 'error', code: 'EDGE_CONFIG_REV_STALE', data: { runningRev: 5 } });
    expect([...agent.runners.keys()]).toEqual(['pump-1']);
  });

  it('rolls back a push that does not come up, and says so in the reply and in info', async () => {
    const dead = await closedPort();
    const pump1 = agent.runners.get('pump-1');
    const reply = await ops.request(BASE, 'config/set', signed(6, pushed([device('pump-1', slave.port, 1), device('pump-3', dead)])));
    expect(reply).toMatchObject({ status: 'error', code: 'EDGE_CONFIG_ROLLED_BACK', data: { rev: 6, runningRev: 5 } });
    expect((reply.data.failures as Array<{ subject: string; code: string }>).map((f) => f.subject)).toEqual(['devices.pump-3']);
    const info = await ops.wait(`${BASE}/info`, (p) => (JSON.parse(p) as { lastApply: { outcome: string } | null }).lastApply?.outcome === 'rolled-back');
    expect(JSON.parse(info.payload)).toMatchObject({ rev: 5, lastApply: { rev: 6, outcome: 'rolled-back' } });
    expect([...agent.runners.keys()]).toEqual(['pump-1']);
    // pump-1 was changed by the push and restored by the rollback: polling address 0 again.
    expect(agent.runners.get('pump-1')).not.toBe(pump1);
    expect(agent.runners.get('pump-1')?.device.points[0]).toMatchObject({ address: 0 });
    expect(JSON.parse(readFileSync(join(dir, 'state', 'last-known-good.json'), 'utf8'))).toMatchObject({ rev: 5 });
    expect(existsSync(join(dir, 'state', 'pending.json'))).toBe(false);
    // Replaying the rolled-back push does not try it again.
    const replay = await ops.request(BASE, 'config/set', signed(6, pushed([device('pump-1', slave.port, 1), device('pump-3', dead)])));
    expect(replay.code).toBe('EDGE_CONFIG_REV_STALE');
    expect(agent.runners.get('pump-1')?.device.points[0]).toMatchObject({ address: 0 });
  });

  it('answers the other commands and validates every request', async () => {
    const read = await ops.request(BASE, 'points/read', { device: 'pump-1' });
    expect(read).toMatchObject({ status: 'ok', data: { device: 'pump-1', source: 'device', points: [{ id: 'flow', value: 11, quality: 'good' }] } });
    expect((await ops.request(BASE, 'points/read', { device: 'nope' })).code).toBe('EDGE_DEVICE_UNKNOWN');
    const stats = await ops.request(BASE, 'buffer/stats', {});
    expect(stats.data).toHaveProperty('sinks.recorder.sent');
    const validate = await ops.request(BASE, 'config/validate', { config: pushed([device('pump-1', slave.port), device('pump-4', slave.port)]) });
    expect(validate).toMatchObject({ status: 'ok', data: { added: ['pump-4'], removed: [] } });
    expect(agent.runners.has('pump-4')).toBe(false);
    const badRequest = await ops.request(BASE, 'config/set', { rev: 'seven', config: 1, extra: true });
    expect(badRequest.code).toBe('EDGE_REQUEST_INVALID');
    expect((badRequest.data.issues as Array<{ path: string }>).map((i) => i.path).sort()).toEqual(['config', 'extra', 'rev']);
    const notJson = await ops.request(BASE, 'buffer/stats', '{"transaction":"raw"');
    expect(notJson).toMatchObject({ status: 'error', code: 'EDGE_REQUEST_INVALID' });
    expect((await ops.request(BASE, 'no/such', {})).code).toBe('EDGE_COMMAND_UNKNOWN');
    const ack = await ops.request(BASE, 'alerts/ack', { id: 'pump-1/flow/high', by: 'ops-anna' });
    // The alert engine's own answer (no such active alert), passed through with its code.
    expect(ack).toMatchObject({ status: 'error', code: 'EDGE_ALERT_NOT_FOUND' });
    expect((await ops.request(BASE, 'restart', {})).status).toBe('error'); // not under the CLI run loop
  });

  it('goes offline (last will) when the link is cut, online again when it is back, offline on a clean stop', async () => {
    const from = ops.seen.length;
    await proxy.down();
    const offline = await ops.wait(`${BASE}/state`, (p) => p === 'offline', 30_000, from);
    expect(offline.payload).toBe('offline');
    expect(agent.running).toBe(true); // the agent runs on without its uplink
    await proxy.up();
    await ops.wait(`${BASE}/state`, (p) => p === 'online', 30_000, ops.seen.indexOf(offline) + 1);
    const info = await ops.wait(`${BASE}/info`, () => true, 15_000, ops.seen.indexOf(offline) + 1);
    expect(JSON.parse(info.payload)).toMatchObject({ rev: 5 });
    const at = ops.seen.length;
    await agent.stop();
    await ops.wait(`${BASE}/state`, (p) => p === 'offline', 15_000, at);
  });

  it('after a restart, the rolled-back rev is still refused and info still says it was rolled back', async () => {
    expect(JSON.parse(readFileSync(join(dir, 'state', 'rolled-back.json'), 'utf8'))).toMatchObject({ rev: 6 });
    const boot = loadBootConfig({ file: configFile, env: {} });
    expect(boot).toMatchObject({ rev: 5, origin: 'pushed' });
    agent = new Agent({ config: boot.config, logger, sinks: [recorder], central: { boot, env: {}, backoff: { initialMs: 100, maxMs: 400 } } });
    const from = ops.seen.length;
    await agent.start();
    const info = await ops.wait(`${BASE}/info`, () => true, 15_000, from);
    expect(JSON.parse(info.payload)).toMatchObject({ rev: 5, lastApply: { rev: 6, outcome: 'rolled-back' } });
    const replay = await ops.request(BASE, 'config/set', signed(6, pushed([device('pump-1', slave.port, 1), device('pump-3', await closedPort())])));
    expect(replay).toMatchObject({ status: 'error', code: 'EDGE_CONFIG_REV_STALE', data: { runningRev: 5 } });
    expect([...agent.runners.keys()]).toEqual(['pump-1']);
    expect(agent.runners.get('pump-1')?.device.points[0]).toMatchObject({ address: 0 });
  });
});

describe('boot after an apply was interrupted', () => {
  it('comes back on the last-known-good, discards the pending push and keeps its revision as the floor', () => {
    const d = mkdtempSync(join(tmpdir(), 'edge-central-boot-'));
    const state = join(d, 'state');
    const file = join(d, 'config.yaml');
    writeFileSync(file, `gateway: { id: gw-9 }\nbuffer: { path: ${join(d, 'b.db')} }\ncentral: { url: "mqtt://127.0.0.1:1", allowUnsigned: true, stateDir: ${state} }\n`);
    const lkg = { gateway: { id: 'gw-9' }, devices: [device('pump-7', 502)], central: { url: 'mqtt://evil' } };
    expect(loadBootConfig({ file, env: {} })).toMatchObject({ rev: 0, origin: 'file' });
    // What a crash between "pending written" and "confirmed" leaves behind.
    mkdirSync(state, { recursive: true });
    writeFileSync(join(state, 'last-known-good.json'), JSON.stringify({ rev: 4, config: lkg, at: 1 }));
    writeFileSync(join(state, 'pending.json'), JSON.stringify({ rev: 5, config: { gateway: { id: 'gw-9' } }, at: 2 }));
    const boot = loadBootConfig({ file, env: {} });
    expect(boot).toMatchObject({ rev: 4, origin: 'pushed', interruptedRev: 5 });
    expect(boot.config.devices.map((x) => x.id)).toEqual(['pump-7']);
    // The ops link always comes from the local file.
    expect(boot.config.settings.central.url).toBe('mqtt://127.0.0.1:1');
    expect(existsSync(join(state, 'pending.json'))).toBe(false);
    // Refused from now on, like a rolled-back push: a push that took the agent down is not replayed.
    expect(new ConfigState(state).rolledBack()).toMatchObject({ rev: 5, reason: expect.stringMatching(/^interrupted/) });
  });
});
