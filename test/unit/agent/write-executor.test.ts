/**
 * The write executor's decisions (agent/writes/executor.ts) that no independent slave can provoke:
 * a config apply in progress, a device failing its polls, a second write to a point in flight, the
 * agent stopping, an audit that cannot store the attempt, a driver that acknowledges a write but returns no read-back, and a request from
 * `edge-agent write` that waited while no agent ran. The driver is
 * the outer edge here (a recording one: what was sent, what the read-back returns); the audit is
 * the real SQLite buffer, the log line the real pino one. The slave-facing outcomes (verified,
 * mismatch, device-exception, timeout) are proven against pymodbus in writes-pymodbus.test.ts.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../agent/clock.js';
import { commandAudit } from '../../../agent/writes/audit.js';
import { WriteExecutor, type WriteTarget } from '../../../agent/writes/executor.js';
import { LocalWriteQueue } from '../../../agent/writes/local-queue.js';
import type { WriteRequest } from '../../../agent/writes/types.js';
import { SqliteBuffer } from '../../../buffer/sqlite-buffer.js';
import type { AgentConfig, ModbusPoint, ResolvedDevice } from '../../../config/types.js';
import type { Reading, WriteOrder, WriteResult } from '../../../drivers/types.js';
import { ok } from '../config/helpers.js';
import { tempDir } from '../buffer/fixtures.js';

/** Records what would go on the wire; `readback` is what the read after the write returns. */
class RecordingDriver {
  readonly sent: Array<WriteOrder<ModbusPoint>> = [];
  readback: (p: ModbusPoint) => Reading[] = (p) => [{ pointId: p.id, ts: Date.now(), raw: 425, quality: 'good' }];

  write(order: WriteOrder<ModbusPoint>): Promise<WriteResult> {
    this.sent.push(order);
    return Promise.resolve({ status: 'written', written: [Number(order.raw)], previous: { pointId: order.point.id, ts: Date.now(), raw: 100, quality: 'good' }, fc: 6 });
  }

  read(points: readonly ModbusPoint[]): Promise<Reading[]> {
    return Promise.resolve(points.flatMap((p) => this.readback(p)));
  }
}

let tmp: ReturnType<typeof tempDir>;
let buffer: SqliteBuffer;
let config: AgentConfig;
let driver: RecordingDriver;
let health: { consecutiveFailures: number };
let applying: boolean;
let lines: Array<Record<string, unknown>>;
let processed: Reading[];
let auditOpen: boolean;

function executor(): WriteExecutor {
  const logger = pino(
    { level: 'info', base: {} },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    }),
  );
  const device = config.devices[0] as ResolvedDevice;
  const target: WriteTarget = { device, driver, health };
  return new WriteExecutor({
    target: (id) => (id === device.id ? target : undefined),
    applying: () => applying,
    process: (_d, readings) => processed.push(...readings),
    audit: () => (auditOpen ? commandAudit(buffer, () => config) : undefined),
    appended: () => {},
    clock: systemClock,
    logger,
  });
}

const req: WriteRequest = { device: 'pump', point: 'setpoint', value: 42.5, by: 'tech', origin: 'local' };

beforeEach(() => {
  tmp = tempDir();
  buffer = new SqliteBuffer({ path: tmp.file(), sinks: ['pg'] });
  config = ok({
    gateway: { id: 'gw-1' },
    devices: [
      {
        id: 'pump',
        driver: 'modbus',
        connection: { protocol: 'tcp', host: '127.0.0.1', port: 502 },
        every: '1h',
        points: { setpoint: { register: 'holding', address: 0, type: 'uint16', scale: 0.1, decimals: 1, write: { min: 0, max: 60, rateLimit: 0, verify: { after: 0 } } } },
      },
    ],
  });
  driver = new RecordingDriver();
  health = { consecutiveFailures: 0 };
  applying = false;
  lines = [];
  processed = [];
  auditOpen = true;
});

afterEach(() => {
  buffer.close();
  tmp.remove();
});

describe('write executor', () => {
  it('verifies a write read back within tolerance, audits it and logs one line', async () => {
    const o = await executor().execute(req);
    expect(o).toMatchObject({ outcome: 'verified', raw: [425], previous: 10, readback: 42.5 });
    expect(o.code).toBeUndefined();
    expect(driver.sent.map((s) => s.raw)).toEqual([425]);
    expect(processed.map((r) => r.raw)).toEqual([425]);
    expect(buffer.commands.get(o.id)).toMatchObject({ outcome: 'verified', requested: 42.5, readback: 42.5, by: 'tech', origin: 'local' });
    expect(lines.filter((l) => l.id === o.id).map((l) => [l.level, l.msg, l.outcome])).toEqual([[30, 'write pump/setpoint = 42.5: verified', 'verified']]);
  });

  it('calls an acknowledged write with no read-back a timeout with its own code, not a mismatch', async () => {
    driver.readback = () => [];
    const o = await executor().execute(req);
    expect(o).toMatchObject({ outcome: 'timeout', code: 'EDGE_WRITE_NO_READBACK', raw: [425], previous: 10, readback: null });
    expect(o.message).toMatch(/no read-back/);
    expect(buffer.commands.get(o.id)).toMatchObject({ outcome: 'timeout', code: 'EDGE_WRITE_NO_READBACK' });
    expect(lines.find((l) => l.id === o.id)).toMatchObject({ level: 40, outcome: 'timeout', code: 'EDGE_WRITE_NO_READBACK' });
  });

  it('calls a read-back that differs beyond the tolerance a mismatch', async () => {
    driver.readback = (p) => [{ pointId: p.id, ts: Date.now(), raw: 426, quality: 'good' }];
    expect(await executor().execute(req)).toMatchObject({ outcome: 'mismatch', code: 'EDGE_WRITE_MISMATCH', readback: 42.6 });
  });

  it('refuses while a config apply runs, and writes once it is done', async () => {
    const ex = executor();
    applying = true;
    const o = await ex.execute(req);
    expect(o).toMatchObject({ outcome: 'refused', code: 'EDGE_WRITE_APPLY_IN_PROGRESS' });
    expect(driver.sent).toEqual([]);
    expect(buffer.commands.get(o.id)).toMatchObject({ outcome: 'refused', code: 'EDGE_WRITE_APPLY_IN_PROGRESS' });
    applying = false;
    expect(await ex.execute(req)).toMatchObject({ outcome: 'verified' });
  });

  it('refuses a device that failed its last poll, and writes once it answers again', async () => {
    const ex = executor();
    health.consecutiveFailures = 2;
    const o = await ex.execute(req);
    expect(o).toMatchObject({ outcome: 'refused', code: 'EDGE_WRITE_DEVICE_FAILING' });
    expect(driver.sent).toEqual([]);
    health.consecutiveFailures = 0;
    // The refusal used up no rate: a write right after goes out.
    expect(await ex.execute(req)).toMatchObject({ outcome: 'verified' });
    expect(driver.sent).toHaveLength(1);
  });

  it('refuses a second write to a point while the first waits for its read-back', async () => {
    const p = config.devices[0]?.points[0] as ModbusPoint;
    if (p.write !== undefined) p.write.verifyAfterMs = 200;
    const ex = executor();
    const first = ex.execute(req);
    const second = await ex.execute({ ...req, value: 10 });
    expect(second).toMatchObject({ outcome: 'refused', code: 'EDGE_WRITE_IN_PROGRESS' });
    expect(await first).toMatchObject({ outcome: 'verified' });
    expect(driver.sent.map((s) => s.raw)).toEqual([425]);
  });

  it('sends nothing it could not store first: no buffer, or a buffer that fails', async () => {
    const ex = executor();
    auditOpen = false;
    expect(await ex.execute(req)).toMatchObject({ outcome: 'refused', code: 'EDGE_WRITE_AUDIT_UNAVAILABLE' });
    auditOpen = true;
    buffer.close();
    expect(await ex.execute(req)).toMatchObject({ outcome: 'refused', code: 'EDGE_WRITE_AUDIT_FAILED' });
    expect(driver.sent).toEqual([]);
    expect(lines.filter((l) => l.level === 50).map((l) => l.code)).toEqual(['EDGE_WRITE_AUDIT_UNAVAILABLE', 'EDGE_WRITE_AUDIT_FAILED']);
  });

  it('refuses writes once the agent is stopping', async () => {
    const ex = executor();
    ex.stop();
    expect(await ex.execute(req)).toMatchObject({ outcome: 'refused', code: 'EDGE_WRITE_AGENT_STOPPING' });
    expect(driver.sent).toEqual([]);
  });
});

describe('local write queue (edge-agent write)', () => {
  it('executes a fresh request once and refuses one made while no agent ran as stale, sending nothing', async () => {
    const ex = executor();
    const now = Date.now();
    const stale = buffer.commands.requestWrite('pump', 'setpoint', '12.5', 'tech', now - 60_000);
    const fresh = buffer.commands.requestWrite('pump', 'setpoint', '42.5', 'tech', now);
    const queue = new LocalWriteQueue({ store: () => buffer.commands, writes: ex, clock: systemClock, logger: pino({ level: 'silent' }), everyMs: 10 });
    queue.start();
    try {
      const byRequest = (id: number) => buffer.commands.recent(10).find((c) => c.requestId === `local:${id}` && c.outcome !== 'pending');
      for (let i = 0; i < 200 && (byRequest(stale) === undefined || byRequest(fresh) === undefined); i++) await new Promise((r) => setTimeout(r, 10));
      expect(byRequest(stale)).toMatchObject({ outcome: 'refused', code: 'EDGE_WRITE_STALE_REQUEST', requested: '12.5', by: 'tech', origin: 'local' });
      expect(byRequest(fresh)).toMatchObject({ outcome: 'verified', readback: 42.5 });
      // Taken once: later ticks find nothing waiting.
      await new Promise((r) => setTimeout(r, 50));
      expect(driver.sent.map((s) => s.raw)).toEqual([425]);
      expect(buffer.commands.waitingRequests()).toEqual([]);
    } finally {
      queue.stop();
    }
  });
});
