/**
 * End to end: a signed write from central ops, through a private Mosquitto, the agent's central
 * link and the real write executor, onto a pymodbus slave (Debian python3-pymodbus, a Modbus
 * implementation that shares no code with ours) — read back and verified. Tampered, unsigned,
 * expired and replayed writes are refused, every one of them, and the register on the slave is
 * checked with pymodbus' own client to be untouched.
 */
import { spawnSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { Agent } from '../../agent/agent.js';
import { signWriteCommand, type WriteCommand } from '../../config/command-signing.js';
import { loadBootConfig } from '../../config/config-state.js';
import { generateSigningKeys, keyFingerprint } from '../../config/signing.js';
import { runCli } from '../helpers/cli.js';
import { OpsClient, type Envelope } from '../helpers/central.js';
import { Mosquitto, mosquittoAvailable, mosquittoPub } from '../helpers/mosquitto.js';
import { missing } from '../helpers/peers.js';
import { pymodbusAvailable, startPymodbusServer } from '../helpers/modbus-pymodbus.js';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const GW = 'gw-write-e2e';
const PREFIX = `we${process.pid}`;
const BASE = `${PREFIX}/${GW}`;
const TOPIC = `${BASE}/request/points/write`;
const REPLY = `${BASE}/response/points/write`;

const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

/** Holding registers of unit 1 as pymodbus' own client reads them (not our driver, not modbus-serial). */
function readOnSlave(port: number, address: number, count: number): number[] {
  const script = `
import json, sys
from pymodbus.client import ModbusTcpClient
c = ModbusTcpClient("127.0.0.1", port=${port})
c.connect()
r = c.read_holding_registers(${address}, ${count}, slave=1)
c.close()
print(json.dumps(r.registers))
`;
  const r = spawnSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pymodbus client failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as number[];
}

/** Sets a holding register on the slave with pymodbus' client (what a technician at the panel would do). */
function setOnSlave(port: number, address: number, value: number): void {
  const script = `
from pymodbus.client import ModbusTcpClient
c = ModbusTcpClient("127.0.0.1", port=${port})
c.connect()
r = c.write_register(${address}, ${value}, slave=1)
c.close()
assert not r.isError(), r
`;
  const r = spawnSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pymodbus client failed: ${r.stderr}`);
}

const needs = [
  missing('mosquitto and mosquitto_pub', mosquittoAvailable(), 'Debian packages mosquitto mosquitto-clients'),
  missing('python3-pymodbus', pymodbusAvailable(), 'Debian package python3-pymodbus'),
];

describe.skipIf(needs.some(Boolean))('central writes onto a pymodbus slave', () => {
  it('a signed write is verified on the device; tampered, unsigned, expired, wrongly keyed and replayed ones are all refused with the register untouched', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-write-e2e-'));
    const commandKeys = generateSigningKeys();
    const configKeys = generateSigningKeys();
    writeFileSync(join(dir, 'command.key'), commandKeys.privateKeyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'command.pub'), commandKeys.publicKeyPem);
    writeFileSync(join(dir, 'config.pub'), configKeys.publicKeyPem);
    const commandKey = createPrivateKey(commandKeys.privateKeyPem);
    const configKey = createPrivateKey(configKeys.privateKeyPem);

    const slave = await startPymodbusServer({ 1: { hr: { 0: [100] } } });
    cleanup.push(() => slave.stop());
    const broker = await Mosquitto.start();
    cleanup.push(() => broker.remove());
    const ops = await OpsClient.connect(broker.url, `${BASE}/#`);
    cleanup.push(() => ops.end());

    const file = join(dir, 'config.yaml');
    writeFileSync(
      file,
      `gateway: { id: ${GW} }
buffer: { path: ${join(dir, 'buffer.db')} }
central: { url: "${broker.url}", prefix: ${PREFIX}, publicKey: ${join(dir, 'config.pub')}, commandKey: ${join(dir, 'command.pub')}, allowWrites: true, stateDir: ${join(dir, 'state')} }
devices:
  - id: pump-1
    driver: modbus
    connection: { protocol: tcp, host: 127.0.0.1, port: ${slave.port}, unitId: 1, timeout: 500ms }
    every: 300ms
    points:
      setpoint: { register: holding, address: 0, type: uint16, scale: 0.1, decimals: 1, unit: bar, write: { min: 0, max: 60, verify: { after: 100ms } } }
`,
    );
    const boot = loadBootConfig({ file, env: {} });
    const agent = new Agent({ config: boot.config, logger, sinks: [], central: { boot, env: {}, backoff: { initialMs: 100, maxMs: 300 } } });
    const seen: number[] = [];
    agent.pipeline.onPoints((ps) => ps.forEach((p) => p.pointId === 'setpoint' && typeof p.value === 'number' && seen.push(p.value)));
    await agent.start();
    cleanup.push(() => agent.stop());
    await ops.wait(`${BASE}/state`, (p) => p === 'online', 15_000);
    await until(() => seen.length > 0);
    expect(readOnSlave(slave.port, 0, 1)).toEqual([100]);

    const from = () => ops.seen.length;
    const publish = async (body: string): Promise<Envelope> => {
      const at = from();
      const r = await mosquittoPub({ port: broker.port, topic: TOPIC, message: body });
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse((await ops.wait(REPLY, () => true, 15_000, at)).payload) as Envelope;
    };
    const cliSign = async (value: string): Promise<string> => {
      const r = await runCli(['command', 'sign', '--key', join(dir, 'command.key'), '--gateway', GW, '--prefix', PREFIX, '--device', 'pump-1', '--point', 'setpoint', '--value', value, '--by', 'maria']);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.trim();
    };
    const sign = (c: WriteCommand, key = commandKey) => JSON.stringify({ ...c, signature: signWriteCommand(key, c) });

    // Refused before anything is sent, every one, the register unchanged after each.
    const expected: string[] = [];
    const refuse = async (code: string, body: string) => {
      const reply = await publish(body);
      expect(reply, body).toMatchObject({ status: 'error', code, data: { outcome: { outcome: 'refused', code } } });
      expect(readOnSlave(slave.port, 0, 1)).toEqual([100]);
      expected.push(code);
    };
    for (const value of [42.5, 0, 60]) {
      const good = JSON.parse(await cliSign('30')) as WriteCommand & { signature: string };
      await refuse('EDGE_WRITE_BAD_SIGNATURE', JSON.stringify({ ...good, value }));
      await refuse('EDGE_WRITE_BAD_SIGNATURE', JSON.stringify({ ...good, point: 'setpoint ' }));
      const { signature: _s, ...unsigned } = good;
      await refuse('EDGE_WRITE_UNSIGNED', JSON.stringify({ ...unsigned, value }));
      await refuse('EDGE_WRITE_EXPIRED', sign({ ...unsigned, value, expires: '2026-01-01T00:00:00.000Z', nonce: `${good.nonce}x` }));
      // The config key may sign config pushes, not writes, once a command key is set.
      await refuse('EDGE_WRITE_BAD_SIGNATURE', sign({ ...unsigned, value, nonce: `${good.nonce}y` }, configKey));
    }

    // The signed write: sent, read back after verify.after, verified.
    const write = await cliSign('42.5');
    const ok = await publish(write);
    expect(ok).toMatchObject({ status: 'ok', data: { outcome: { outcome: 'verified', readback: 42.5, previous: 10 } } });
    expect(readOnSlave(slave.port, 0, 1)).toEqual([425]);
    // The read-back went through the pipeline like a reading.
    await until(() => seen.includes(42.5));

    // Someone sets it back at the panel; the same command replayed is refused and changes nothing.
    setOnSlave(slave.port, 0, 100);
    for (let i = 0; i < 5; i++) await refuse('EDGE_WRITE_REPLAYED', write);

    // Every attempt is in the audit, with its outcome; the verified one names the command key and the command.
    await agent.stop();
    const db = new Database(join(dir, 'buffer.db'), { readonly: true });
    const records = (db.prepare('SELECT record FROM commands ORDER BY requested_at, rowid').all() as Array<{ record: string }>).map((r) => JSON.parse(r.record) as Record<string, unknown>);
    db.close();
    expect(records.filter((r) => r.outcome === 'refused').map((r) => r.code)).toEqual(expected);
    const verified = records.filter((r) => r.outcome === 'verified');
    expect(verified).toEqual([
      expect.objectContaining({ device: 'pump-1', point: 'setpoint', requested: 42.5, readback: 42.5, by: 'maria', origin: 'central', keyFingerprint: keyFingerprint(commandKey), requestId: (JSON.parse(write) as WriteCommand).nonce }),
    ]);
    expect(records).toHaveLength(expected.length + 1);
  }, 120_000);
});

async function until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
