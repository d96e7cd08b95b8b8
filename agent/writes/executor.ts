// Room agent/writes: writes to field devices (guard, device queue, read-back, audit); may import config, drivers, buffer, agent/pipeline and agent/{clock,logger}.
/**
 * The write path (issue 15): guard → the device's queue (driver.write, like a poll) → read-back
 * after `verify.after` → outcome, every attempt audited in the buffer. Refusals are decided before
 * anything is sent, each with its own code. A row is stored `pending` before the frame goes out;
 * a crash leaves it pending and `start()` records it as `interrupted` (never sent again).
 */
import { randomUUID } from 'node:crypto';
import type { CommandRecord, Point } from '../../buffer/types.js';
import type { ModbusPoint, PointWrite, ResolvedDevice } from '../../config/types.js';
import type { Reading, WritableDriver, WriteResult } from '../../drivers/types.js';
import { sleep, type Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { transformReading } from '../pipeline/transform.js';
import { WriteErrors, type WriteApi, type WriteOutcome, type WriteOutcomeKind, type WriteRequest } from './types.js';
import { matches, planValue } from './value.js';

/** The running device a write goes to: its driver (queue) and its health. */
export interface WriteTarget {
  device: ResolvedDevice;
  driver: object;
  health: { consecutiveFailures: number };
}

/** Where attempts are kept: the buffer's command store, outcomes appended with their event. */
export interface CommandAudit {
  store(record: CommandRecord): void;
  /** The outcome and its event for the sinks, in one transaction. */
  finish(record: CommandRecord, event: Point): void;
  pending(): CommandRecord[];
  /** The newest attempts first. */
  recent(limit: number): CommandRecord[];
}

export interface WriteExecutorOptions {
  target(deviceId: string): WriteTarget | undefined;
  /** True while a config apply runs: writes are refused, not queued behind it. */
  applying(): boolean;
  /** The read-back enters the pipeline like a reading (alerts see it). */
  process(device: ResolvedDevice, readings: Reading[]): void;
  audit(): CommandAudit | undefined;
  /** Wakes the forwarders after an event was stored. */
  appended(): void;
  clock: Clock;
  logger: Logger;
}

type WritablePoint = ModbusPoint & { write: PointWrite };

export class WriteExecutor implements WriteApi {
  private readonly lastWrite = new Map<string, number>();
  private readonly inFlight = new Set<string>();
  private readonly lifetime = new AbortController();

  constructor(private readonly opts: WriteExecutorOptions) {}

  /** Records attempts a crash interrupted as `interrupted`; they are never sent again. */
  start(): void {
    const audit = this.opts.audit();
    for (const r of audit?.pending() ?? []) {
      const done = this.finishRecord(r, 'interrupted', WriteErrors.interrupted, 'the agent stopped between sending the write and its outcome: whether the device took it is unknown (not sent again)');
      this.log(done);
    }
  }

  stop(): void {
    this.lifetime.abort();
  }

  /** The newest attempts from the audit (the status page); empty while the buffer is not open. */
  recent(limit: number): CommandRecord[] {
    try {
      return this.opts.audit()?.recent(limit) ?? [];
    } catch {
      return [];
    }
  }

  recordRefusal(req: WriteRequest, code: string, message: string): Promise<WriteOutcome> {
    const now = this.opts.clock.now();
    return Promise.resolve(this.refuse(this.newRecord(req, now), code, message));
  }

  async execute(req: WriteRequest): Promise<WriteOutcome> {
    const record = this.newRecord(req, this.opts.clock.now());
    const key = `${req.device}\u0000${req.point}`;
    if (this.lifetime.signal.aborted) return this.refuse(record, WriteErrors.stopping, 'the agent is stopping');
    if (this.opts.applying()) return this.refuse(record, WriteErrors.applyInProgress, 'a config apply is in progress: try again once it is done');
    const target = this.opts.target(req.device);
    const point = target?.device.points.find((p) => p.id === req.point);
    if (target === undefined || point === undefined) {
      return this.refuse(record, WriteErrors.unknownPoint, target === undefined ? `no running device "${req.device}"` : `device ${req.device} has no point "${req.point}"`);
    }
    const driver = target.driver as Partial<WritableDriver<ModbusPoint>>;
    if (!('write' in point) || point.write === undefined || target.device.driver !== 'modbus' || typeof driver.write !== 'function') {
      return this.refuse(record, WriteErrors.notWritable, `${req.device}/${req.point} has no write: block in the config`);
    }
    const wp = point as WritablePoint;
    const plan = planValue(wp, req.value);
    if (!plan.ok) return this.refuse(record, plan.code, plan.message);
    const last = this.lastWrite.get(key);
    const now = this.opts.clock.now();
    if (this.inFlight.has(key)) return this.refuse(record, WriteErrors.busy, `a write to ${req.device}/${req.point} is in progress`);
    if (last !== undefined && now - last < wp.write.rateLimitMs) {
      return this.refuse(record, WriteErrors.rateLimited, `one write per ${wp.write.rateLimitMs} ms on this point; the last was ${now - last} ms ago`);
    }
    if (target.health.consecutiveFailures > 0) {
      return this.refuse(record, WriteErrors.deviceFailing, `${req.device} failed its last ${target.health.consecutiveFailures} poll(s): nothing is written to a device that does not answer`);
    }
    // Stored before anything is sent: a crash from here on is `interrupted` after restart. A write
    // that cannot be stored first is not sent (it could not be told from one never made).
    const audit = this.opts.audit();
    if (audit === undefined) return this.refuse(record, WriteErrors.auditUnavailable, 'the buffer is not open: a write that cannot be audited is not sent');
    try {
      audit.store(record);
    } catch (err) {
      return this.refuse(record, WriteErrors.auditFailed, `the attempt could not be stored before sending (${(err as Error).message}): not sent`);
    }
    this.lastWrite.set(key, now);
    this.inFlight.add(key);
    try {
      const result = await driver.write({ point: wp, raw: plan.raw, functionCode: wp.write.functionCode }, this.lifetime.signal);
      return await this.conclude(record, target, wp, plan.expected, result);
    } catch (err) {
      return this.done(this.finishRecord(record, 'interrupted', WriteErrors.interrupted, `write failed unexpectedly: ${(err as Error).message}`));
    } finally {
      this.inFlight.delete(key);
    }
  }

  private async conclude(record: CommandRecord, target: WriteTarget, p: WritablePoint, expected: number | string | boolean, result: WriteResult): Promise<WriteOutcome> {
    const previous = result.previous === undefined ? null : transformReading(result.previous, p).value;
    const base: CommandRecord = { ...record, previous, raw: result.written ?? null };
    if (result.status === 'failed') {
      return this.done(this.finishRecord(base, outcomeOf(result.code), result.code, `${result.sent ? 'write sent, ' : 'nothing written, '}${result.detail}`));
    }
    await sleep(this.opts.clock, p.write.verifyAfterMs, this.lifetime.signal);
    const driver = target.driver as { read(points: readonly ModbusPoint[], signal: AbortSignal): Promise<Reading[]> };
    const [reading] = await driver.read([p], this.lifetime.signal);
    // Not a mismatch: nothing was read, so whether the device holds the value is unknown.
    if (reading === undefined) {
      return this.done(this.finishRecord(base, 'timeout', WriteErrors.noReadback, `written with FC${result.fc}, but the driver returned no read-back: whether the device holds the value is unknown`));
    }
    this.opts.process(target.device, [reading]);
    const readback = transformReading(reading, p).value;
    const withReadback = { ...base, readback };
    if (reading.quality === 'bad') {
      const code = reading.error ?? 'EDGE_DEVICE_ERROR';
      return this.done(this.finishRecord(withReadback, outcomeOf(code), code, `written (FC${result.fc}), but the read-back failed: ${reading.detail ?? code}`));
    }
    if (matches(expected, readback, p.write.tolerance)) return this.done(this.finishRecord(withReadback, 'verified', null, `written with FC${result.fc} and read back`));
    return this.done(
      this.finishRecord(withReadback, 'mismatch', WriteErrors.mismatch, `written with FC${result.fc}, but the device reads ${JSON.stringify(readback)} (expected ${JSON.stringify(expected)} ± ${p.write.tolerance})`),
    );
  }

  private newRecord(req: WriteRequest, now: number): CommandRecord {
    return {
      id: randomUUID(),
      device: req.device,
      point: req.point,
      requested: req.value,
      raw: null,
      previous: null,
      readback: null,
      outcome: 'pending',
      code: null,
      message: null,
      by: req.by,
      origin: req.origin,
      keyFingerprint: req.keyFingerprint ?? null,
      requestId: req.requestId ?? null,
      requestedAt: now,
      doneAt: null,
    };
  }

  private refuse(record: CommandRecord, code: string, message: string): WriteOutcome {
    return this.done(this.finishRecord(record, 'refused', code, message));
  }

  /** The outcome stored with its event (one transaction); the sinks get it like a point. */
  private finishRecord(record: CommandRecord, outcome: WriteOutcomeKind, code: string | null, message: string): CommandRecord {
    const done: CommandRecord = { ...record, outcome, code, message, doneAt: this.opts.clock.now() };
    const audit = this.opts.audit();
    if (audit === undefined) {
      this.opts.logger.error({ code: WriteErrors.auditUnavailable, id: done.id }, 'write outcome could not be audited: the buffer is not open');
      return done;
    }
    try {
      audit.finish(done, eventOf(done));
      this.opts.appended();
    } catch (err) {
      this.opts.logger.error({ code: WriteErrors.auditFailed, id: done.id, err: (err as Error).message }, 'write outcome could not be stored');
    }
    return done;
  }

  private done(r: CommandRecord): WriteOutcome {
    this.log(r);
    return toOutcome(r);
  }

  private log(r: CommandRecord): void {
    const fields = { id: r.id, device: r.device, point: r.point, value: r.requested, previous: r.previous, readback: r.readback, outcome: r.outcome, code: r.code, by: r.by, origin: r.origin };
    if (r.outcome === 'verified') this.opts.logger.info(fields, `write ${r.device}/${r.point} = ${String(r.requested)}: verified`);
    else this.opts.logger.warn(fields, `write ${r.device}/${r.point} = ${String(r.requested)}: ${r.outcome}${r.message === null ? '' : ` (${r.message})`}`);
  }
}

function outcomeOf(code: string): WriteOutcomeKind {
  if (code.startsWith('EDGE_MODBUS_EXCEPTION')) return 'device-exception';
  if (code === 'EDGE_DEVICE_ABORTED') return 'interrupted';
  return 'timeout';
}

export function toOutcome(r: CommandRecord): WriteOutcome {
  return {
    id: r.id,
    outcome: r.outcome === 'pending' ? 'interrupted' : r.outcome,
    ...(r.code === null ? {} : { code: r.code }),
    ...(r.message === null ? {} : { message: r.message }),
    ...(r.raw === null ? {} : { raw: r.raw }),
    previous: r.previous,
    readback: r.readback,
    requestedAt: r.requestedAt,
    doneAt: r.doneAt ?? r.requestedAt,
  };
}

/** The audit event: measurement `commands`, tagged gateway/device/point by the caller's audit. */
function eventOf(r: CommandRecord): Point {
  return {
    deviceId: r.device,
    pointId: r.point,
    measurement: 'commands',
    tags: {},
    value: r.readback,
    ts: r.doneAt ?? r.requestedAt,
    quality: r.outcome === 'verified' ? 'good' : 'bad',
    ...(r.code === null ? {} : { error: r.code }),
    command: r,
  };
}
