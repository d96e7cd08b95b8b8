/**
 * Writes from central through a real Mosquitto (a private one on a free port) into the agent's
 * real central link: payloads made by the real `edge-agent command sign`, published by
 * mosquitto_pub and by an MQTT.js ops client, answered on response/points/write. The write
 * executor is the outer edge here: a recording WriteTarget stands in for it, so what is checked is
 * which requests reach it (exactly the good ones, once) and that every refusal is handed to its
 * audit with its code — across an agent restart too. The end-to-end test with the real executor
 * and a pymodbus slave is central-writes-modbus.test.ts.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../agent/agent.js';
import type { WriteOutcome, WriteOutcomeKind, WriteRequest, WriteTarget } from '../../agent/central/write-target.js';
import { signWriteCommand, type WriteCommand } from '../../config/command-signing.js';
import { loadBootConfig } from '../../config/config-state.js';
import { generateSigningKeys, keyFingerprint } from '../../config/signing.js';
import { runCli } from '../helpers/cli.js';
import { OpsClient, type Envelope } from '../helpers/central.js';
import { Mosquitto, mosquittoAvailable, mosquittoPub } from '../helpers/mosquitto.js';
import { missing } from '../helpers/peers.js';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const GW = 'gw-writes';
const PREFIX = `w${process.pid}`;
const BASE = `${PREFIX}/${GW}`;
const TOPIC = `${BASE}/request/points/write`;
const REPLY = `${BASE}/response/points/write`;

/** Stands in for the executor: records what reaches it; `next` is the outcome execute reports. */
class RecordingTarget implements WriteTarget {
  readonly executed: WriteRequest[] = [];
  readonly refused: Array<{ req: WriteRequest; code: string; message: string }> = [];
  next: WriteOutcomeKind = 'verified';
  private id = 0;

  execute(req: WriteRequest): Promise<WriteOutcome> {
    this.executed.push(req);
    const outcome = this.next;
    return Promise.resolve({ id: `w${++this.id}`, outcome, ...(outcome === 'verified' ? {} : { code: 'EDGE_WRITE_MISMATCH', message: 'read back 40, wrote 42.5' }), readback: 42.5, requestedAt: 1, doneAt: 2 });
  }

  recordRefusal(req: WriteRequest, code: string, message: string): Promise<WriteOutcome> {
    this.refused.push({ req, code, message });
    return Promise.resolve({ id: `w${++this.id}`, outcome: 'refused', code, message, requestedAt: 1, doneAt: 1 });
  }
}

const keys = generateSigningKeys();
const otherKey = createPrivateKey(generateSigningKeys().privateKeyPem);
let dir: string;
let broker: Mosquitto;
let ops: OpsClient;
const cleanup: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edge-central-writes-'));
  writeFileSync(join(dir, 'ops.key'), keys.privateKeyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'ops.pub'), keys.publicKeyPem);
  broker = await Mosquitto.start();
  cleanup.push(() => broker.remove());
  ops = await OpsClient.connect(broker.url, `${BASE}/#`);
  cleanup.push(() => ops.end());
});

afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function startAgent(target: WriteTarget, allowWrites: boolean): Promise<Agent> {
  const file = join(dir, `config-${allowWrites}.yaml`);
  writeFileSync(
    file,
    `gateway: { id: ${GW} }
buffer: { path: ${join(dir, 'buffer.db')} }
central: { url: "${broker.url}", prefix: ${PREFIX}, publicKey: ${join(dir, 'ops.pub')}, allowWrites: ${allowWrites}, stateDir: ${join(dir, 'state')} }
devices: []
`,
  );
  const boot = loadBootConfig({ file, env: {} });
  const from = ops.seen.length;
  const agent = new Agent({ config: boot.config, logger, sinks: [], central: { boot, env: {}, writeTarget: target, backoff: { initialMs: 100, maxMs: 300 } } });
  await agent.start();
  await ops.wait(`${BASE}/state`, (p) => p === 'online', 15_000, from);
  return agent;
}

async function sign(...args: string[]): Promise<string> {
  const r = await runCli(['command', 'sign', '--key', join(dir, 'ops.key'), '--gateway', GW, '--prefix', PREFIX, '--device', 'pump-1', '--point', 'setpoint', ...args]);
  expect(r.stderr).toContain(`publish on: ${TOPIC}`);
  expect(r.code).toBe(0);
  return r.stdout.trim();
}

/** Publishes with mosquitto_pub (payload as the CLI printed it: no transaction) and returns the next reply. */
async function publish(payload: string): Promise<Envelope> {
  const from = ops.seen.length;
  const r = await mosquittoPub({ port: broker.port, topic: TOPIC, message: payload });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse((await ops.wait(REPLY, () => true, 15_000, from)).payload) as Envelope;
}

describe.skipIf(missing('mosquitto and mosquitto_pub', mosquittoAvailable(), 'Debian packages mosquitto mosquitto-clients'))('central writes over MQTT', () => {
  it('executes a signed write once; tampered, unsigned, expired, foreign-key, malformed and replayed writes are refused and audited', async () => {
    const target = new RecordingTarget();
    let agent = await startAgent(target, true);
    cleanup.push(() => agent.stop());

    const payload = await sign('--value', '42.5', '--by', 'maria', '--expires', '5m');
    const signed = JSON.parse(payload) as WriteCommand & { signature: string };
    const good = await publish(payload);
    expect(good).toMatchObject({ status: 'ok', code: null, transaction: null, data: { outcome: { outcome: 'verified', readback: 42.5 } } });
    expect(target.executed).toEqual([
      { device: 'pump-1', point: 'setpoint', value: 42.5, by: 'maria', origin: 'central', keyFingerprint: keyFingerprint(createPublicKey(keys.publicKeyPem)), requestId: signed.nonce },
    ]);

    // The same bytes again (mosquitto_pub), and again with a transaction (not signed, so allowed to differ).
    expect(await publish(payload)).toMatchObject({ status: 'error', code: 'EDGE_WRITE_REPLAYED', data: { outcome: { outcome: 'refused', code: 'EDGE_WRITE_REPLAYED' } } });
    expect(await ops.request(BASE, 'points/write', { ...signed })).toMatchObject({ status: 'error', code: 'EDGE_WRITE_REPLAYED', transaction: 't-1' });

    const fresh = JSON.parse(await sign('--value', '42.5', '--by', 'maria')) as WriteCommand & { signature: string };
    const refusals: Array<[string, Record<string, unknown> | string]> = [
      ['EDGE_WRITE_BAD_SIGNATURE', { ...fresh, value: 99 }],
      ['EDGE_WRITE_BAD_SIGNATURE', { ...fresh, device: 'pump-2' }],
      ['EDGE_WRITE_UNSIGNED', { ...fresh, signature: undefined }],
      ['EDGE_WRITE_BAD_SIGNATURE', { ...fresh, signature: signWriteCommand(otherKey, fresh) }],
      ['EDGE_WRITE_EXPIRED', signedBody({ ...fresh, expires: '2026-01-01T00:00:00Z' })],
      ['EDGE_WRITE_EXPIRED', signedBody({ ...fresh, expires: '2099-01-01T00:00:00Z' })],
      ['EDGE_WRITE_WRONG_GATEWAY', signedBody({ ...fresh, gateway: 'gw-elsewhere' })],
      ['EDGE_WRITE_BAD_REQUEST', { ...fresh, register: 'holding' }],
      ['EDGE_WRITE_BAD_REQUEST', 'not json at all'],
    ];
    for (const [code, body] of refusals) {
      const reply = typeof body === 'string' ? await publish(body) : await ops.request(BASE, 'points/write', body);
      expect(reply, JSON.stringify(body)).toMatchObject({ status: 'error', code, data: { outcome: { outcome: 'refused', code } } });
    }
    expect(target.refused.map((r) => r.code)).toEqual(['EDGE_WRITE_REPLAYED', 'EDGE_WRITE_REPLAYED', ...refusals.map(([c]) => c)]);
    // A refusal is audited with what could be read of it; the signer only once the signature checked out.
    expect(target.refused[2]?.req).toEqual({ device: 'pump-1', point: 'setpoint', value: 99, by: 'maria', origin: 'central' });
    expect(target.refused.find((r) => r.code === 'EDGE_WRITE_WRONG_GATEWAY')?.req.keyFingerprint).toMatch(/^sha256:/);
    // None of the refused ones reached the executor, and the fresh command is still good: forgeries used up no nonce.
    expect(target.executed).toHaveLength(1);
    target.next = 'mismatch';
    expect(await ops.request(BASE, 'points/write', { ...fresh })).toMatchObject({
      status: 'error',
      code: 'EDGE_WRITE_MISMATCH',
      error: 'read back 40, wrote 42.5',
      data: { outcome: { outcome: 'mismatch' } },
    });
    expect(target.executed).toHaveLength(2);

    // The same command twice at once: its nonce is claimed before the executor is called, so one runs.
    target.next = 'verified';
    const raced = await sign('--value', '41', '--by', 'maria');
    const from = ops.seen.length;
    const both = await Promise.all([mosquittoPub({ port: broker.port, topic: TOPIC, message: raced }), mosquittoPub({ port: broker.port, topic: TOPIC, message: raced })]);
    expect(both.map((r) => r.code)).toEqual([0, 0]);
    await ops.wait(REPLY, () => ops.seen.slice(from).filter((m) => m.topic === REPLY).length >= 2, 15_000, from);
    const codes = ops.seen.slice(from).filter((m) => m.topic === REPLY).map((m) => (JSON.parse(m.payload) as Envelope).code);
    expect(codes.sort()).toEqual(['EDGE_WRITE_REPLAYED', null]);
    expect(target.executed).toHaveLength(3);

    // After a restart on the same buffer file the executed commands are still known.
    await agent.stop();
    const after = new RecordingTarget();
    agent = await startAgent(after, true);
    expect(await publish(payload)).toMatchObject({ status: 'error', code: 'EDGE_WRITE_REPLAYED' });
    expect(await ops.request(BASE, 'points/write', { ...fresh })).toMatchObject({ status: 'error', code: 'EDGE_WRITE_REPLAYED' });
    expect(after.executed).toHaveLength(0);

    // With central.allowWrites off, even a good command is refused (and audited), and not executed.
    await agent.stop();
    const off = new RecordingTarget();
    agent = await startAgent(off, false);
    const third = await sign('--value', '7', '--by', 'maria');
    expect(await publish(third)).toMatchObject({ status: 'error', code: 'EDGE_WRITE_DISABLED' });
    expect(off.refused).toEqual([{ req: { device: 'pump-1', point: 'setpoint', value: 7, by: 'maria', origin: 'central' }, code: 'EDGE_WRITE_DISABLED', message: expect.stringMatching(/central.allowWrites: false/) }]);
    expect(off.executed).toHaveLength(0);
  });
});

/** Re-signed with the real key: only the changed field is wrong. */
function signedBody(c: WriteCommand): Record<string, unknown> {
  const { gateway, device, point, value, by, expires, nonce } = c;
  const command = { gateway, device, point, value, by, expires, nonce };
  return { ...command, signature: signWriteCommand(createPrivateKey(keys.privateKeyPem), command) };
}
