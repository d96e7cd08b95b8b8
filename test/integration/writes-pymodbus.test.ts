/**
 * Writes to field devices (issue 15) against an independent slave, Debian's python3-pymodbus:
 * the running agent's executor over Modbus TCP and over RTU frames (rtu-over-tcp, the shared bus
 * code), every register type and byte order round trip, a device that answers FC6 with an
 * exception (FC16 works), one that keeps its old value (mismatch), a dead one (timeout), limits and
 * rate, an attempt a crash left pending (interrupted after restart), and the audit in PostgreSQL
 * arriving once when delivered twice.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { Agent } from '../../agent/agent.js';
import { StatusReader } from '../../agent/ops/status.js';
import { SqliteBuffer } from '../../buffer/sqlite-buffer.js';
import type { CommandRecord } from '../../buffer/types.js';
import { checkDocument } from '../../config/index.js';
import type { AgentConfig } from '../../config/types.js';
import { ModbusTcpDriver } from '../../drivers/modbus/tcp-driver.js';
import type { ModbusPoint, ModbusTcpDevice } from '../../config/types.js';
import { PostgresSink } from '../../sinks/postgres.js';
import { pymodbusAvailable, startPymodbusServer, type PymodbusServer } from '../helpers/modbus-pymodbus.js';
import { createTestSchema } from '../helpers/postgres.js';
import { eventually } from '../helpers/serial-peer.js';
import { VictoriaMetrics } from '../helpers/victoria.js';
import { openPtyPair, socatAvailable } from '../helpers/pty.js';
import { InfluxSink } from '../../sinks/influx.js';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const dirs: string[] = [];
const servers: PymodbusServer[] = [];
const agents: Agent[] = [];

afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await Promise.all(servers.map((s) => s.stop()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function slave(units: Parameters<typeof startPymodbusServer>[0], opts?: Parameters<typeof startPymodbusServer>[1]): Promise<PymodbusServer> {
  const s = await startPymodbusServer(units, opts);
  servers.push(s);
  return s;
}

function config(port: number, points: Record<string, unknown>, over: { protocol?: string; bufferPath?: string; connection?: Record<string, unknown> } = {}): AgentConfig {
  const dir = mkdtempSync(join(tmpdir(), 'edge-writes-'));
  dirs.push(dir);
  const r = checkDocument(
    {
      gateway: { id: 'gw-writes' },
      buffer: { path: over.bufferPath ?? join(dir, 'buffer.db') },
      devices: [{ id: 'pump', driver: 'modbus', connection: over.connection ?? { protocol: over.protocol ?? 'tcp', host: '127.0.0.1', port, timeout: '500ms' }, every: '1h', points }],
    },
    { env: {} },
  );
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
  return r.config;
}

async function agentFor(cfg: AgentConfig, sinks: NonNullable<ConstructorParameters<typeof Agent>[0]['sinks']> = []): Promise<Agent> {
  const a = new Agent({ config: cfg, logger, sinks, stopGraceMs: 2000, forwarder: { idleMs: 100, backoff: { initialMs: 100, maxMs: 500 } } });
  agents.push(a);
  await a.start();
  return a;
}

const writable = {
  setpoint: { register: 'holding', address: 0, type: 'int16', scale: 0.1, decimals: 1, write: { min: 0, max: 100, verify: { after: '50ms' }, rateLimit: '1h' } },
  pump: { register: 'coil', address: 0, map: { 0: 'stopped', 1: 'running' }, write: { allowed: ['running', 'stopped'], verify: { after: '50ms' } } },
  flag: { register: 'holding', address: 1, bit: 3, write: { verify: { after: '50ms' } } },
  level: { register: 'input', address: 0, type: 'uint16' },
};

describe.skipIf(!pymodbusAvailable())('writes through the agent against pymodbus', () => {
  for (const protocol of ['tcp', 'rtu-over-tcp'] as const) {
    it(`writes, reads back and verifies over ${protocol}; the slave holds the new value`, async () => {
      const s = await slave({ 1: { hr: { 0: [123, 0b1000_0001] }, co: { 0: [0] }, ir: { 0: [5] } } }, protocol === 'tcp' ? 0 : { framer: 'rtu' });
      const agent = await agentFor(config(s.port, writable, { protocol }));
      const req = { device: 'pump', by: 'test', origin: 'local' as const };
      const sp = await agent.writes.execute({ ...req, point: 'setpoint', value: '42.5' });
      expect(sp).toMatchObject({ outcome: 'verified', raw: [425], previous: 12.3, readback: 42.5 });
      const pump = await agent.writes.execute({ ...req, point: 'pump', value: 'running' });
      expect(pump).toMatchObject({ outcome: 'verified', raw: [true], previous: 'stopped', readback: 'running' });
      // A bit of a register: the other bits of the register are kept (read-modify-write).
      const flag = await agent.writes.execute({ ...req, point: 'flag', value: true });
      expect(flag).toMatchObject({ outcome: 'verified', raw: [0b1000_1001], previous: false, readback: true });
      // Guarded before anything is sent.
      expect(await agent.writes.execute({ ...req, point: 'setpoint', value: 10 })).toMatchObject({ outcome: 'refused', code: 'EDGE_WRITE_RATE_LIMITED' });
      expect(await agent.writes.execute({ ...req, point: 'pump', value: 'auto' })).toMatchObject({ outcome: 'refused', code: 'EDGE_WRITE_OUT_OF_LIMITS' });
      expect(await agent.writes.execute({ ...req, point: 'level', value: 1 })).toMatchObject({ outcome: 'refused', code: 'EDGE_WRITE_NOT_WRITABLE' });
      expect(await agent.writes.execute({ ...req, point: 'nope', value: 1 })).toMatchObject({ outcome: 'refused', code: 'EDGE_WRITE_UNKNOWN_POINT' });
      const refusal = await agent.writes.recordRefusal({ ...req, origin: 'central', point: 'setpoint', value: 1, keyFingerprint: 'SHA256:x' }, 'EDGE_COMMAND_EXPIRED', 'expired');
      expect(refusal).toMatchObject({ outcome: 'refused', code: 'EDGE_COMMAND_EXPIRED' });
      // The status page's last writes, newest first.
      const shown = new StatusReader({ view: agent, version: 'test' }).read().writes;
      expect(shown.map((w) => `${w.point}:${w.outcome}`).slice(0, 3)).toEqual(['setpoint:refused', 'nope:refused', 'level:refused']);
      // The slave itself (read independently of the agent's executor) holds what was written.
      const check = new ModbusTcpDriver({ device: agent.config.devices[0] as ModbusTcpDevice });
      if (protocol === 'tcp') {
        await check.start();
        const readings = await check.read(agent.config.devices[0]?.points ?? [], new AbortController().signal);
        await check.stop();
        expect(readings.map((r) => r.raw)).toEqual([425, true, true, 5]);
      }
    }, 30_000);
  }

  it('sends the read-back through the pipeline as a reading: an alert fires on it with no poll in between', async () => {
    const s = await slave({ 1: { hr: { 0: [10] } } });
    const agent = await agentFor(config(s.port, { sp: { register: 'holding', address: 0, type: 'uint16', alerts: [{ above: 50, severity: 'warning' }], write: { min: 0, max: 100, verify: { after: 0 } } } }));
    const values: unknown[] = [];
    agent.pipeline.onPoints((ps) => ps.forEach((p) => p.pointId === 'sp' && values.push(p.value)));
    expect(agent.alerts.active()).toEqual([]);
    // The device polls every hour: the only reading after the start is the read-back.
    expect(await agent.writes.execute({ device: 'pump', point: 'sp', value: 55, by: 't', origin: 'local' })).toMatchObject({ outcome: 'verified', readback: 55 });
    await eventually('the alert on the read-back', async () => agent.alerts.active().length === 1);
    expect(agent.alerts.active()).toMatchObject([{ deviceId: 'pump', pointId: 'sp', ruleId: 'above-50', severity: 'warning' }]);
    // And it is stored and forwarded like a polled reading.
    await eventually('the read-back stored as a point', async () => values.includes(55));
  }, 30_000);

  it('writes with the inverse of scale and offset, a mapped state of a register and a bool register', async () => {
    const s = await slave({ 1: { hr: { 0: [0, 0, 0] } } });
    const agent = await agentFor(
      config(s.port, {
        temp: { register: 'holding', address: 0, type: 'int16', scale: 0.1, offset: -40, decimals: 1, write: { min: -40, max: 80, step: 0.5, verify: { after: 0 } } },
        mode: { register: 'holding', address: 1, type: 'uint16', map: { 0: 'off', 1: 'on', 2: 'auto' }, write: { allowed: ['off', 'auto'], verify: { after: 0 } } },
        enable: { register: 'holding', address: 2, type: 'bool', write: { verify: { after: 0 } } },
      }),
    );
    const w = (point: string, value: number | string | boolean) => agent.writes.execute({ device: 'pump', point, value, by: 't', origin: 'local' });
    // Refused before anything is sent: off the step, outside the limits, a state not allowed.
    expect(await w('temp', 21.25)).toMatchObject({ outcome: 'refused', code: 'EDGE_WRITE_OUT_OF_LIMITS' });
    expect(await w('temp', 80.5)).toMatchObject({ outcome: 'refused', code: 'EDGE_WRITE_OUT_OF_LIMITS' });
    expect(await w('mode', 'on')).toMatchObject({ outcome: 'refused', code: 'EDGE_WRITE_OUT_OF_LIMITS' });
    expect(await w('temp', 21.5)).toMatchObject({ outcome: 'verified', raw: [615], previous: -40, readback: 21.5 });
    expect(await w('mode', 'auto')).toMatchObject({ outcome: 'verified', raw: [2], previous: 'off', readback: 'auto' });
    expect(await w('enable', 'on')).toMatchObject({ outcome: 'verified', raw: [1], previous: false, readback: true });
  }, 30_000);

  it('round-trips every writable type in every byte order on the slave', async () => {
    const types = ['int16', 'uint16', 'int32', 'uint32', 'float32', 'float64'] as const;
    const orders = ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const;
    const values: Record<(typeof types)[number], number> = { int16: -12345, uint16: 54321, int32: -123456789, uint32: 3456789012, float32: 123.456, float64: -9876.54321 };
    const LIMITS = { int16: { min: -32768, max: 32767 }, uint16: { min: 0, max: 65535 }, int32: { min: -2e9, max: 2e9 }, uint32: { min: 0, max: 4e9 }, float32: { min: -1e6, max: 1e6 }, float64: { min: -1e6, max: 1e6 } };
    const points: Record<string, unknown> = {};
    let address = 0;
    for (const type of types) {
      for (const order of orders) {
        points[`${type}_${order}`] = { register: 'holding', address, type, order, write: { ...LIMITS[type], rateLimit: 0, verify: { after: 0, ...(type === 'float32' ? { tolerance: 1e-3 } : {}) } } };
        address += 4;
      }
    }
    const s = await slave({ 1: { hr: { 0: Array.from({ length: address }, () => 0) } } });
    const agent = await agentFor(config(s.port, points));
    const results: string[] = [];
    for (const type of types) {
      for (const order of orders) {
        const o = await agent.writes.execute({ device: 'pump', point: `${type}_${order}`, value: values[type], by: 't', origin: 'local' });
        results.push(`${type}_${order}:${o.outcome}`);
      }
    }
    expect(results.filter((r) => !r.endsWith(':verified'))).toEqual([]);
    expect(results).toHaveLength(24);
  }, 60_000);

  it('reports an FC6 exception; functionCode multiple (FC16, FC15 for a coil) works on the same device', async () => {
    const s = await slave({ 1: { hr: { 0: [1, 2, 3] }, co: { 0: [0] }, refuse: [5, 6] } });
    const agent = await agentFor(
      config(s.port, {
        a: { register: 'holding', address: 0, type: 'uint16', write: { min: 0, max: 100, verify: { after: 0 } } },
        b: { register: 'holding', address: 1, type: 'uint16', write: { min: 0, max: 100, functionCode: 'multiple', verify: { after: 0 } } },
        c: { register: 'holding', address: 2, type: 'uint16', write: { min: 0, max: 100, functionCode: 'single', verify: { after: 0 } } },
        coil: { register: 'coil', address: 0, write: { functionCode: 'multiple', verify: { after: 0 } } },
        coilAuto: { register: 'coil', address: 0, write: { rateLimit: 0, verify: { after: 0 } } },
      }),
    );
    const w = (point: string, value: number | boolean) => agent.writes.execute({ device: 'pump', point, value, by: 't', origin: 'local' });
    expect(await w('a', 7)).toMatchObject({ outcome: 'device-exception', code: 'EDGE_MODBUS_EXCEPTION_2', previous: 1 });
    expect(await w('b', 8)).toMatchObject({ outcome: 'verified', readback: 8, message: 'written with FC16 and read back' });
    expect(await w('c', 9)).toMatchObject({ outcome: 'device-exception', code: 'EDGE_MODBUS_EXCEPTION_2', previous: 3 });
    expect(await w('coil', true)).toMatchObject({ outcome: 'verified', readback: true, message: 'written with FC15 and read back' });
    expect(await w('coilAuto', false)).toMatchObject({ outcome: 'device-exception', code: 'EDGE_MODBUS_EXCEPTION_2', previous: true });
  }, 30_000);

  it('calls a write the device acknowledged but did not keep a mismatch, and a dead device a timeout', async () => {
    const s = await slave({ 1: { hr: { 0: [3, 4] }, frozen: [0] } });
    const agent = await agentFor(config(s.port, { a: { register: 'holding', address: 0, type: 'uint16', write: { min: 0, max: 100, verify: { after: 0 } } } }));
    expect(await agent.writes.execute({ device: 'pump', point: 'a', value: 9, by: 't', origin: 'local' })).toMatchObject({ outcome: 'mismatch', code: 'EDGE_WRITE_MISMATCH', readback: 3 });
    const dead = await slave({ 1: { hr: { 0: [3] } } });
    const agent2 = await agentFor(config(dead.port, { a: { register: 'holding', address: 0, type: 'uint16', write: { min: 0, max: 100 } } }));
    await dead.stop();
    const o = await agent2.writes.execute({ device: 'pump', point: 'a', value: 9, by: 't', origin: 'local' });
    expect(o.outcome).toBe('timeout');
    expect(o.code).toMatch(/^EDGE_DEVICE_(TIMEOUT|UNREACHABLE)$/);
  }, 30_000);

  it('records an attempt a crash left pending as interrupted at the next start, never sends it, and the audit reaches PostgreSQL once', async () => {
    const s = await slave({ 1: { hr: { 0: [11] } } });
    const dir = mkdtempSync(join(tmpdir(), 'edge-writes-crash-'));
    dirs.push(dir);
    const bufferPath = join(dir, 'buffer.db');
    const before = new SqliteBuffer({ path: bufferPath, sinks: [] });
    const pending: CommandRecord = {
      id: 'crashed-1', device: 'pump', point: 'a', requested: 50, raw: null, previous: null, readback: null, outcome: 'pending', code: null, message: null,
      by: 't', origin: 'local', keyFingerprint: null, requestId: null, requestedAt: Date.now() - 1000, doneAt: null,
    };
    before.commands.write([pending]);
    before.close();
    const db = await createTestSchema('writes');
    const sink = new PostgresSink({ url: db.url, schema: db.schema, gatewayId: 'gw-writes' });
    try {
      const agent = await agentFor(config(s.port, { a: { register: 'holding', address: 0, type: 'uint16', write: { min: 0, max: 100 } } }, { bufferPath }));
      await agent.stop();
      const after = new SqliteBuffer({ path: bufferPath, sinks: ['pg'] });
      expect(after.commands.get('crashed-1')).toMatchObject({ outcome: 'interrupted', code: 'EDGE_WRITE_INTERRUPTED' });
      const events = after.read('pg', 100).filter((p) => p.command !== undefined);
      after.close();
      expect(events.map((e) => e.command?.id)).toEqual(['crashed-1']);
      // The slave was never written.
      const check = new ModbusTcpDriver({ device: agent.config.devices[0] as ModbusTcpDevice });
      await check.start();
      const [r] = await check.read(agent.config.devices[0]?.points as ModbusPoint[], new AbortController().signal);
      await check.stop();
      expect(r?.raw).toBe(11);
      await sink.start();
      await sink.write(events);
      await sink.write(events);
      const { rows } = await db.pool.query<{ command_id: string; outcome: string; origin: string; requested: number }>(`SELECT command_id, outcome, origin, requested FROM ${db.schema}.commands`);
      expect(rows).toEqual([{ command_id: 'crashed-1', outcome: 'interrupted', origin: 'local', requested: 50 }]);
    } finally {
      await sink.stop();
      await db.drop();
    }
  }, 30_000);

  it('forwards each attempt once to PostgreSQL <schema>.commands and to victoria-metrics as the commands measurement', async () => {
    const s = await slave({ 1: { hr: { 0: [1] } } });
    const [vm, db] = await Promise.all([VictoriaMetrics.start(), createTestSchema('writes')]);
    let agent: Agent | undefined;
    try {
      const sinks = [new InfluxSink({ url: vm.url, token: 't', org: 'ops', bucket: 'telemetry' }), new PostgresSink({ url: db.url, schema: db.schema, gatewayId: 'gw-writes' })];
      agent = await agentFor(config(s.port, { a: { register: 'holding', address: 0, type: 'uint16', unit: 'bar', write: { min: 0, max: 100, rateLimit: 0, verify: { after: 0 } } } }), sinks);
      const ok = await agent.writes.execute({ device: 'pump', point: 'a', value: 33, by: 'ops', origin: 'central', keyFingerprint: 'SHA256:abc', requestId: 'r-1' });
      const refused = await agent.writes.execute({ device: 'pump', point: 'a', value: 333, by: 'ops', origin: 'local' });
      expect([ok.outcome, refused.outcome]).toEqual(['verified', 'refused']);
      const rows = async () =>
        (await db.pool.query<{ command_id: string; outcome: string; readback: number; previous: number; key_fingerprint: string | null; raw_written: number[] | null }>(
          `SELECT command_id, outcome, readback, previous, key_fingerprint, raw_written FROM ${db.schema}.commands ORDER BY requested_at`,
        )).rows;
      // The sink creates its tables on its first write.
      await eventually('both attempts in PostgreSQL', async () => (await rows().catch(() => [])).length === 2);
      expect(await rows()).toEqual([
        { command_id: ok.id, outcome: 'verified', readback: 33, previous: 1, key_fingerprint: 'SHA256:abc', raw_written: [33] },
        { command_id: refused.id, outcome: 'refused', readback: null, previous: null, key_fingerprint: null, raw_written: null },
      ]);
      await eventually('the verified write in victoria-metrics', async () => (await vm.query('{__name__="commands_readback"}')).length === 1);
      const series = await vm.query('{__name__="commands_readback"}');
      expect(series.map((x) => [x.metric.device, x.metric.point, x.metric.outcome, x.metric.origin, x.values])).toEqual([['pump', 'a', 'verified', 'central', [33]]]);
      const requested = await vm.query('{__name__="commands_requested"}');
      expect(requested.map((x) => `${x.metric.outcome}:${x.values.join(',')}`).sort()).toEqual(['refused:333', 'verified:33']);
    } finally {
      await agent?.stop();
      await db.drop();
      await vm.remove();
    }
  }, 60_000);

  it.skipIf(!socatAvailable())('writes over RTU on a serial port (a socat pty pair), a bit of a register and a float in CDAB', async () => {
    const pty = await openPtyPair();
    try {
      await slave({ 1: { hr: { 0: [0xff00, 0, 0] } } }, { serial: { port: pty.slave, baudrate: 19200 } });
      const agent = await agentFor(
        config(0, {
          bit: { register: 'holding', address: 0, bit: 0, write: { verify: { after: 0 } } },
          temp: { register: 'holding', address: 1, type: 'float32', order: 'CDAB', decimals: 2, write: { min: -50, max: 150, verify: { after: 0 } } },
        }, { connection: { protocol: 'rtu', path: pty.master, baudRate: 19200, timeout: '500ms' } }),
      );
      expect(await agent.writes.execute({ device: 'pump', point: 'bit', value: 'on', by: 't', origin: 'local' })).toMatchObject({ outcome: 'verified', raw: [0xff01], previous: false, readback: true });
      expect(await agent.writes.execute({ device: 'pump', point: 'temp', value: 21.75, by: 't', origin: 'local' })).toMatchObject({ outcome: 'verified', readback: 21.75, raw: [0, 0x41ae] });
    } finally {
      for (const a of agents.splice(0)) await a.stop();
      await pty.close();
    }
  }, 30_000);

  it.skipIf(!socatAvailable())('keeps a read-modify-write of a bit to itself on an RTU bus another slave is polled on', async () => {
    const pty = await openPtyPair();
    try {
      await slave({ 1: { hr: { 0: [0x8000] } }, 2: { hr: { 0: [7] } } }, { serial: { port: pty.slave, baudrate: 19200 } });
      const dir = mkdtempSync(join(tmpdir(), 'edge-writes-bus-'));
      dirs.push(dir);
      const connection = (unitId: number) => ({ protocol: 'rtu', path: pty.master, baudRate: 19200, unitId, timeout: '500ms' });
      const bits = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`b${i}`, { register: 'holding', address: 0, bit: i, write: { verify: { after: 0 } } }]));
      const r = checkDocument(
        {
          gateway: { id: 'gw-writes' },
          buffer: { path: join(dir, 'buffer.db') },
          devices: [
            { id: 'pump', driver: 'modbus', connection: connection(1), every: '1h', points: bits },
            { id: 'meter', driver: 'modbus', connection: connection(2), every: '100ms', points: { level: { register: 'holding', address: 0, type: 'uint16' } } },
          ],
        },
        { env: {} },
      );
      if (!r.ok) throw new Error(r.issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
      const agent = await agentFor(r.config);
      const meter: string[] = [];
      agent.pipeline.onPoints((ps) => ps.forEach((p) => p.deviceId === 'meter' && meter.push(`${p.quality}:${String(p.value)}`)));
      await eventually('the meter polled', async () => meter.length > 0);
      // Eight bits of one register at once: each write reads the register and writes it back in one
      // bus slot, so none undoes another; the meter's polls go between the slots, never inside one.
      const all = await Promise.all(Array.from({ length: 8 }, (_, i) => agent.writes.execute({ device: 'pump', point: `b${i}`, value: true, by: 't', origin: 'local' })));
      expect(all.map((o) => o.outcome)).toEqual(Array.from({ length: 8 }, () => 'verified'));
      // Whatever order they ran in, each wrote the register the one before it left plus its own bit:
      // a lost update would show as two writes built on the same register value.
      const raws = all.map((o) => Number(o.raw?.[0])).sort((a, b) => a - b);
      expect(raws.at(-1)).toBe(0x80ff);
      // Each holds what the one before it wrote plus exactly one bit (a power of two).
      const steps = raws.map((w, i) => ({ kept: (w & (raws[i - 1] ?? 0x8000)) === (raws[i - 1] ?? 0x8000), added: w ^ (raws[i - 1] ?? 0x8000) }));
      expect(steps.filter((x) => !x.kept || (x.added & (x.added - 1)) !== 0 || x.added === 0)).toEqual([]);
      const polled = meter.length;
      await eventually('the meter polled after the writes', async () => meter.length > polled);
      expect(meter.filter((m) => m !== 'good:7')).toEqual([]);
    } finally {
      for (const a of agents.splice(0)) await a.stop();
      await pty.close();
    }
  }, 30_000);
});
