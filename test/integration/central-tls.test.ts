/**
 * The ops link to a broker that wants credentials and TLS, as a real central broker does: a
 * private Mosquitto with a password file (mosquitto_passwd) and a TLS listener whose certificate
 * a test CA signed (openssl). Three gateways: one with the right password and CA comes online;
 * one with a wrong password and one that trusts another CA are refused — each logged with its own
 * code, shown in /status, retried with capped back-off — while their readings keep going through
 * the buffer to the sink.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentStatus } from '../../agent/ops/status.js';
import type { Point } from '../../buffer/types.js';
import { loadBootConfig } from '../../config/config-state.js';
import type { RunningModbusServer } from '../../drivers/modbus/server.js';
import type { Sink } from '../../sinks/types.js';
import { OpsClient } from '../helpers/central.js';
import { startHttpAgent, type HttpAgent } from '../helpers/http-agent.js';
import { RegisterImage, startImageServer } from '../helpers/modbus-server.js';
import { caSignedCert, Mosquitto, mosquittoAvailable } from '../helpers/mosquitto.js';
import { hasCommand, missing } from '../helpers/peers.js';

const PREFIX = `tls${process.pid}`;
const BACKOFF = { initialMs: 50, maxMs: 200 };
const PASSWORDS = { 'gw-good': 'pw-good-4411', 'gw-wrongpw': 'pw-right-9902', 'gw-otherca': 'pw-other-1234', ops: 'ops-pw-77' };

const skip = missing('mosquitto, mosquitto_passwd and openssl', mosquittoAvailable() && hasCommand('openssl'), 'apt-get install mosquitto mosquitto-clients openssl');

let dir: string;
let broker: Mosquitto;
let slave: RunningModbusServer;
let ops: OpsClient;
const agents = new Map<string, HttpAgent>();
const delivered = new Map<string, Point[]>();

function recorder(gateway: string): Sink {
  const list: Point[] = [];
  delivered.set(gateway, list);
  return { name: 'recorder', start: async () => {}, stop: async () => {}, write: async (batch) => void list.push(...batch) };
}

async function startGateway(gateway: string, central: Record<string, unknown>): Promise<HttpAgent> {
  const yaml = `
gateway: { id: ${gateway} }
buffer: { path: ${join(dir, gateway, 'buffer.db')} }
http: { host: 127.0.0.1, port: 0 }
central: ${JSON.stringify({ prefix: PREFIX, allowUnsigned: true, stateDir: join(dir, gateway, 'state'), healthEvery: '1s', ...central })}
devices:
  - { id: pump-1, driver: modbus, connection: { protocol: tcp, host: 127.0.0.1, port: ${slave.port}, timeout: 300ms }, every: 200ms, points: { flow: { register: holding, address: 0, type: uint16 } } }
`;
  const file = join(dir, `${gateway}.yaml`);
  writeFileSync(file, yaml);
  const boot = loadBootConfig({ file, env: {} });
  const running = await startHttpAgent(yaml, { sinks: [recorder(gateway)], central: { boot, env: {}, backoff: BACKOFF } });
  agents.set(gateway, running);
  return running;
}

async function status(a: HttpAgent): Promise<AgentStatus> {
  const res = await fetch(`${a.url}/status`);
  expect(res.status).toBe(200);
  return (await res.json()) as AgentStatus;
}

async function until<T>(what: string, get: () => Promise<T> | T, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(skip)('central link with credentials and TLS (Mosquitto)', () => {
  let tlsUrl: string;
  let certs: { ca: string; cert: string; key: string };
  let otherCa: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edge-central-tls-'));
    certs = caSignedCert(dir, 'broker');
    otherCa = caSignedCert(dir, 'other').ca;
    broker = await Mosquitto.start(PASSWORDS, { tls: { cert: certs.cert, key: certs.key } });
    tlsUrl = `mqtts://127.0.0.1:${broker.tlsPort}`;
    slave = await startImageServer(new RegisterImage().setValue('holding', 0, 42, 'uint16'));
    // Ops watch on the plain listener, with their own user: the password file covers every listener.
    ops = await OpsClient.connect(`mqtt://ops:${PASSWORDS.ops}@127.0.0.1:${broker.port}`, `${PREFIX}/#`);
  });

  afterAll(async () => {
    for (const a of agents.values()) await a.stop();
    await ops?.end();
    await broker?.remove();
    await slave?.close();
  });

  it('connects with username, password and the CA, and publishes online', async () => {
    const gw = await startGateway('gw-good', { url: tlsUrl, username: 'gw-good', password: PASSWORDS['gw-good'], ca: certs.ca });
    await ops.wait(`${PREFIX}/gw-good/state`, (p) => p === 'online');
    expect(JSON.parse((await ops.wait(`${PREFIX}/gw-good/info`)).payload)).toMatchObject({ gateway: 'gw-good', rev: 0, origin: 'file' });
    const s = await until('online in /status', () => status(gw), (v) => v.central.state === 'online');
    expect(s.central).toMatchObject({ url: tlsUrl, attempts: 0, retryInMs: null, rev: 0, origin: 'file', lastApply: null });
    expect(s.central.lastConnectedAt).toEqual(expect.any(Number));
    // The password is in no log line and not in /status.
    expect(JSON.stringify(gw.logs)).not.toContain(PASSWORDS['gw-good']);
    expect(JSON.stringify(s)).not.toContain(PASSWORDS['gw-good']);
    expect(await fetch(`${gw.url}/metrics`).then((r) => r.text())).toMatch(/^edge_central_up 1$/m);
  });

  it('a wrong password is refused and logged with its code; the agent keeps retrying with capped back-off and keeps buffering', async () => {
    // Credentials in the URL this time: they must not leak into logs or /status either.
    const url = `mqtts://gw-wrongpw:not-the-password@127.0.0.1:${broker.tlsPort}`;
    const gw = await startGateway('gw-wrongpw', { url, ca: certs.ca });
    const s = await until('several refused attempts', () => status(gw), (v) => v.central.attempts >= 4);
    expect(s.central).toMatchObject({ state: 'offline', url: tlsUrl, lastConnectedAt: null, lastError: { code: 'EDGE_CENTRAL_AUTH_REFUSED' } });
    expect(s.central.lastError?.message).toMatch(/not authorized|bad user ?name or password/i);
    // Capped: the wait before the next attempt never exceeds the configured maximum.
    expect(s.central.retryInMs).toBeGreaterThan(0);
    expect(s.central.retryInMs).toBeLessThanOrEqual(BACKOFF.maxMs);
    const refused = gw.logs.filter((l) => l.code === 'EDGE_CENTRAL_AUTH_REFUSED');
    expect(refused[0]).toMatchObject({ level: 'error', url: tlsUrl, msg: expect.stringMatching(/central\.username and central\.password/) });
    // Said once, then every tenth attempt: a refused password does not flood the journal.
    expect(refused.length).toBeLessThanOrEqual(1 + Math.floor(s.central.attempts / 10) + 1);
    expect(JSON.stringify(gw.logs)).not.toContain('not-the-password');
    expect(JSON.stringify(s)).not.toContain('not-the-password');
    // No crash; readings go on through the buffer to the sink.
    expect(gw.agent.running).toBe(true);
    const before = delivered.get('gw-wrongpw')?.length ?? 0;
    await until('readings delivered while the link is refused', () => delivered.get('gw-wrongpw')?.length ?? 0, (n) => n > before + 2);
    expect(delivered.get('gw-wrongpw')?.[0]).toMatchObject({ deviceId: 'pump-1', value: 42 });
    const later = await status(gw);
    expect(later.central.attempts).toBeGreaterThan(s.central.attempts); // still retrying
    const metrics = await fetch(`${gw.url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/^edge_central_up 0$/m);
    expect(metrics).toMatch(/^edge_central_failed_attempts [1-9]\d*$/m);
    expect(later.buffer).not.toBeNull();
    expect(ops.seen.some((m) => m.topic === `${PREFIX}/gw-wrongpw/state` && m.payload === 'online')).toBe(false);
  });

  it('a broker certificate not signed by central.ca is refused', async () => {
    const gw = await startGateway('gw-otherca', { url: tlsUrl, username: 'gw-otherca', password: PASSWORDS['gw-otherca'], ca: otherCa });
    const s = await until('a refused handshake', () => status(gw), (v) => v.central.attempts >= 2);
    expect(s.central).toMatchObject({ state: 'offline', lastConnectedAt: null, lastError: { code: 'EDGE_CENTRAL_TLS' } });
    expect(s.central.lastError?.message).toMatch(/certificate/i);
    expect(gw.logs.find((l) => l.code === 'EDGE_CENTRAL_TLS')).toMatchObject({ level: 'error', msg: expect.stringMatching(/central\.ca/) });
    expect(gw.agent.running).toBe(true);
    await until('readings delivered without the link', () => delivered.get('gw-otherca')?.length ?? 0, (n) => n > 0);
    expect(ops.seen.some((m) => m.topic === `${PREFIX}/gw-otherca/state` && m.payload === 'online')).toBe(false);
  });
});
