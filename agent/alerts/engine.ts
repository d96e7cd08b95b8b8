// Room agent/alerts: local alert thresholds and their persisted state; may import buffer, config, agent/pipeline and agent/{clock,logger}.
/**
 * The local alert engine: evaluates every transformed point against its rules on the gateway,
 * so an alarm fires with the uplink down. Lifecycle per device/point/rule, one alert at a time:
 *
 *   condition holds `for` → raised (active) ─ condition gone `clearFor` → cleared
 *                                          └─ latched and not acknowledged → returned ─ ack → cleared
 *   acknowledge (CLI, central link) at any time; a returned latched alert clears on it.
 *
 * Every change is one event: appended to the outbox together with the new state in one SQLite
 * transaction (so a restart neither loses an alert nor raises it again, and central gets each
 * event through the same at-least-once path as readings), published retained on the local broker,
 * and logged. Nothing here waits for a sink or the uplink. Time comes from the injected clock:
 * on-/off-delays and staleness run on its timers, so fake timers drive them in tests.
 */
import type { AlertAckRequest, AlertStateRow } from '../../buffer/alert-state.js';
import { confirmAlertTimes } from '../../buffer/alert-times.js';
import type { AlertRecord, AlertTimeField, ClockFrame, Point, Value } from '../../buffer/types.js';
import type { AgentConfig, AlertRule, ResolvedDevice, ResolvedPoint } from '../../config/types.js';
import type { ClockVerdict } from '../pipeline/clock-sanity.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { ActiveAlert, AlertSource } from './active.js';
import { defaultMessage, hasValue, ruleKind, thresholdOf, valueCondition, type RateWindow } from './conditions.js';

export const AlertErrors = {
  notFound: 'EDGE_ALERT_NOT_FOUND',
  invalidAck: 'EDGE_ALERT_INVALID_ACK',
  notRunning: 'EDGE_ALERT_ENGINE_STOPPED',
} as const;

export type AckResult =
  | { ok: true; alert: ActiveAlert }
  | { ok: false; code: (typeof AlertErrors)[keyof typeof AlertErrors]; error: string };

/** Where alert state lives and events go (the SQLite buffer, via the agent). */
export interface AlertStore {
  /** The records saved by an earlier run. */
  load(): Array<{ key: string; record: string }>;
  /** Appends the events to the outbox and writes the state rows, in one transaction. */
  commit(events: Point[], state: AlertStateRow[]): void;
  /** Acknowledgements asked for by `edge-agent alerts ack`, not applied yet. */
  waitingAcks(): AlertAckRequest[];
  completeAck(id: number, result: string, at: number): void;
}

export interface AlertEngineOptions {
  config: AgentConfig;
  clock: Clock;
  logger: Logger;
  /** Retained publish on the local broker; absent when there is none. Failures are logged, never thrown. */
  publish?: (topic: string, payload: string) => Promise<void>;
  /** How often the ack queue of the state file is looked at (the CLI's acks). Default 1 s. */
  ackPollMs?: number;
  /**
   * Is the wall clock trusted (the clock guard's check)? While it is not, the times the engine
   * stamps are marked with its frame, and corrected once it is — in the engine's state, on the
   * local broker, and (by the buffer, when it releases the held events) in the events.
   * Absent, or no answer: every time is taken as it is.
   */
  clockCheck?: () => Pick<ClockVerdict, 'trusted' | 'bootId' | 'trustedOffsetMs' | 'epochOffsetMs'> | undefined;
}

/** One rule of one point: its memory and, when there is one, its alert. */
interface Slot {
  key: string;
  device: ResolvedDevice;
  point: ResolvedPoint;
  rule: AlertRule;
  /** The condition as last evaluated (with hysteresis): what a pending raise or clear waits on. */
  on: boolean;
  pending: { kind: 'raise' | 'clear'; handle: unknown } | undefined;
  staleTimer: unknown;
  window: RateWindow;
  lastValue: Value | null;
  lastError: string | undefined;
  alert: AlertRecord | undefined;
  /** The time part of the last occurrence id: ids stay unique even for two raises within a millisecond. */
  lastStamp: number;
}

export class AlertEngine implements AlertSource {
  private readonly opts: AlertEngineOptions;
  private readonly log: Logger;
  private config: AgentConfig;
  private slots = new Map<string, Slot>();
  /** device\0point → its slots, for the per-point lookup on every reading. */
  private byPoint = new Map<string, Slot[]>();
  private readonly listeners: Array<(alert: ActiveAlert, record: AlertRecord) => void> = [];
  private store: AlertStore | undefined;
  private ackTimer: unknown;
  private running = false;
  /** Some alert holds times stamped on an untrusted clock: look at the clock until they are corrected. */
  private unconfirmed = false;

  constructor(opts: AlertEngineOptions) {
    this.opts = opts;
    this.log = opts.logger;
    this.config = opts.config;
    this.buildSlots(opts.config);
  }

  private buildSlots(config: AgentConfig): void {
    this.slots = new Map();
    this.byPoint = new Map();
    for (const device of config.devices) {
      for (const point of device.points) {
        for (const rule of point.alerts ?? []) {
          const slot: Slot = {
            key: `${device.id}/${point.id}/${rule.id}`,
            device,
            point,
            rule,
            on: false,
            pending: undefined,
            staleTimer: undefined,
            window: [],
            lastValue: null,
            lastError: undefined,
            alert: undefined,
            lastStamp: -Infinity,
          };
          this.slots.set(slot.key, slot);
          const at = `${device.id}\u0000${point.id}`;
          this.byPoint.set(at, [...(this.byPoint.get(at) ?? []), slot]);
        }
      }
    }
  }

  /**
   * A new configuration (a config push): alerts whose device/point/rule is still configured stay
   * as they are under the new rule; the others are cleared, as their rule can no longer clear them.
   */
  reconfigure(next: AgentConfig): void {
    const old = this.slots;
    for (const slot of old.values()) this.disarm(slot);
    this.config = next;
    this.buildSlots(next);
    const now = this.opts.clock.now();
    for (const slot of old.values()) {
      if (slot.alert === undefined) continue;
      const kept = this.slots.get(slot.key);
      if (kept === undefined) this.ruleGone(slot.key, slot.alert, now);
      else {
        kept.alert = slot.alert;
        kept.on = slot.on;
        kept.lastValue = slot.lastValue;
        kept.lastStamp = slot.lastStamp;
      }
    }
    if (this.running) for (const slot of this.slots.values()) if (slot.rule.stale !== undefined) this.armStale(slot);
  }

  private disarm(slot: Slot): void {
    this.cancelPending(slot);
    this.opts.clock.clearTimeout(slot.staleTimer);
    slot.staleTimer = undefined;
  }

  /** How many rules are evaluated. */
  get rules(): number {
    return this.slots.size;
  }

  /**
   * Loads the alerts of the last run, republishes them (the broker keeps retained messages in
   * memory only), arms the stale timers and starts watching the ack queue. Alerts whose rule left
   * the configuration are cleared.
   */
  start(store: AlertStore | undefined): void {
    if (this.running) return;
    this.running = true;
    this.store = store;
    const now = this.opts.clock.now();
    for (const { key, record } of store?.load() ?? []) this.restore(key, record, now);
    for (const slot of this.slots.values()) {
      if (slot.alert !== undefined) void this.publish(slot);
      if (slot.rule.stale !== undefined) this.armStale(slot);
    }
    if (store !== undefined) this.scheduleAckPoll();
  }

  stop(): void {
    this.running = false;
    for (const slot of this.slots.values()) this.disarm(slot);
    this.opts.clock.clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    this.store = undefined;
  }

  /** Alerts active now (raised, or latched and waiting for an acknowledgement), oldest first. */
  list(): ActiveAlert[] {
    const out: ActiveAlert[] = [];
    for (const slot of this.slots.values()) if (slot.alert !== undefined) out.push(this.view(slot, slot.alert));
    return out.sort((a, b) => a.since - b.since || a.id.localeCompare(b.id));
  }

  /** AlertSource for /status, /metrics and the status page. */
  active(): readonly ActiveAlert[] {
    return this.list();
  }

  /** Called with every change of an alert (raised, acknowledged, returned, cleared), e.g. by the central link. */
  onChange(listener: (alert: ActiveAlert, record: AlertRecord) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Acknowledges an active alert, by its id (`pump-1/flow/above-120@1718000000000`) or by
   * device/point/rule. Acknowledging twice is not an error: the first acknowledgement stands.
   */
  ack(id: string, by: string): AckResult {
    if (!this.running) return { ok: false, code: AlertErrors.notRunning, error: 'the alert engine is not running' };
    if (typeof by !== 'string' || by.trim() === '') return { ok: false, code: AlertErrors.invalidAck, error: 'say who acknowledges (by must not be empty)' };
    const slot = this.find(id);
    const alert = slot?.alert;
    if (slot === undefined || alert === undefined) {
      return { ok: false, code: AlertErrors.notFound, error: `no active alert "${id}" (edge-agent alerts list shows the active ones)` };
    }
    if (alert.acknowledgedAt !== null) return { ok: true, alert: this.view(slot, alert) };
    const { now, frame } = this.stamp();
    const current = slot.alert ?? alert; // the stamp may just have corrected its times
    const next: AlertRecord = mark({ ...current, acknowledgedAt: now, acknowledgedBy: by.trim() }, 'acknowledgedAt', frame);
    if (alert.state === 'returned') this.change(slot, mark({ ...next, state: 'cleared', clearedAt: now }, 'clearedAt', frame), 'acknowledged and cleared');
    else this.change(slot, next, 'acknowledged');
    return { ok: true, alert: this.view(slot, next) };
  }

  /** Evaluates transformed points (every reading, reported or not) against their rules. */
  evaluate(points: readonly Point[]): void {
    if (!this.running) return;
    for (const p of points) {
      const slots = this.byPoint.get(`${p.deviceId}\u0000${p.pointId}`);
      if (slots === undefined) continue;
      for (const slot of slots) {
        try {
          this.evaluateOne(slot, p);
        } catch (err) {
          // A bug in one rule must not take the pipeline (or the other rules) with it.
          this.log.error({ err, alert: slot.key }, 'alert rule evaluation failed');
        }
      }
    }
  }

  private evaluateOne(slot: Slot, p: Point): void {
    const kind = ruleKind(slot.rule);
    if (kind === 'stale') {
      if (!hasValue(p)) return;
      slot.lastValue = p.value;
      this.armStale(slot);
      this.apply(slot, false);
      return;
    }
    if (kind === 'badQuality') {
      slot.lastValue = p.value;
      slot.lastError = p.error;
      this.apply(slot, p.quality === 'bad');
      return;
    }
    // Hysteresis holds an alert that is active; a pending raise needs the limit itself crossed for
    // the whole on-delay (a value inside the band must not finish it, nor be reported as above it).
    const cond = valueCondition(slot.rule, p, slot.on && slot.alert?.state === 'active', slot.window);
    if (cond === undefined) return;
    slot.lastValue = p.value;
    this.apply(slot, cond);
  }

  /** The condition now holds (true) or not: start, cancel or finish the delays. */
  private apply(slot: Slot, cond: boolean): void {
    slot.on = cond;
    const alert = slot.alert;
    if (cond) {
      if (slot.pending?.kind === 'clear') this.cancelPending(slot);
      if (alert === undefined) {
        if (slot.pending !== undefined) return;
        const delay = slot.rule.for ?? 0;
        if (delay <= 0) this.raise(slot);
        else this.schedule(slot, 'raise', delay);
      } else if (alert.state === 'returned') {
        // A latched alert whose condition came back: the same alert, active again.
        this.change(slot, { ...alert, state: 'active' }, 'active again');
      }
      return;
    }
    if (slot.pending?.kind === 'raise') this.cancelPending(slot);
    if (alert === undefined || alert.state !== 'active' || slot.pending !== undefined) return;
    const delay = slot.rule.clearFor ?? 0;
    if (delay <= 0) this.conditionGone(slot);
    else this.schedule(slot, 'clear', delay);
  }

  private schedule(slot: Slot, kind: 'raise' | 'clear', ms: number): void {
    const handle = this.opts.clock.setTimeout(() => {
      if (slot.pending?.handle !== handle) return;
      slot.pending = undefined;
      if (!this.running) return;
      if (kind === 'raise' && slot.on && slot.alert === undefined) this.raise(slot);
      if (kind === 'clear' && !slot.on && slot.alert?.state === 'active') this.conditionGone(slot);
    }, ms);
    slot.pending = { kind, handle };
  }

  private cancelPending(slot: Slot): void {
    if (slot.pending === undefined) return;
    this.opts.clock.clearTimeout(slot.pending.handle);
    slot.pending = undefined;
  }

  /** No usable reading for `stale`: the timer restarts with every good one. */
  private armStale(slot: Slot): void {
    this.opts.clock.clearTimeout(slot.staleTimer);
    slot.staleTimer = this.opts.clock.setTimeout(() => {
      slot.staleTimer = undefined;
      if (this.running) this.apply(slot, true);
    }, slot.rule.stale ?? 0);
  }

  private raise(slot: Slot): void {
    const { now, frame } = this.stamp();
    const { rule, point } = slot;
    slot.lastStamp = Math.max(now, slot.lastStamp + 1);
    const record: AlertRecord = {
      id: `${slot.key}@${slot.lastStamp}`,
      deviceId: slot.device.id,
      pointId: point.id,
      ruleId: rule.id,
      severity: rule.severity,
      state: 'active',
      message: rule.message ?? defaultMessage(rule, point.id, slot.lastValue, point.unit, slot.lastError),
      value: slot.lastValue,
      threshold: thresholdOf(rule),
      raisedAt: now,
      clearedAt: null,
      acknowledgedAt: null,
      acknowledgedBy: null,
      latch: rule.latch,
      version: 0,
      ...(frame === undefined ? {} : { unconfirmedTimes: { raisedAt: frame } }),
    };
    this.change(slot, record, 'raised');
  }

  /** The condition is gone (after clearFor): clear, or hold a latched alert until acknowledged. */
  private conditionGone(slot: Slot): void {
    if (slot.alert === undefined) return;
    const { now, frame } = this.stamp();
    const alert = slot.alert;
    if (alert.latch && alert.acknowledgedAt === null) this.change(slot, { ...alert, state: 'returned' }, 'returned to normal; latched until acknowledged');
    else this.change(slot, mark({ ...alert, state: 'cleared', clearedAt: now }, 'clearedAt', frame), 'cleared');
  }

  /** One event: state, outbox, local broker, log, listeners. */
  private change(slot: Slot, next: AlertRecord, what: string): void {
    const { now, trusted } = this.stamp();
    const confirmed = trusted === undefined ? next : confirmAlertTimes(next, trusted);
    const record: AlertRecord = { ...confirmed, version: next.version + 1 };
    slot.alert = record.state === 'cleared' ? undefined : record;
    if (record.state === 'cleared') slot.on = false;
    if (record.unconfirmedTimes !== undefined) this.unconfirmed = true;
    const event: Point = {
      deviceId: record.deviceId,
      pointId: record.pointId,
      measurement: 'alerts',
      tags: { ...slot.point.tags, rule: record.ruleId, severity: record.severity },
      value: slot.lastValue,
      ...(slot.point.unit === undefined ? {} : { unit: slot.point.unit }),
      ts: now,
      quality: 'good',
      alert: record,
    };
    try {
      this.store?.commit([event], [{ key: slot.key, record: record.state === 'cleared' ? null : JSON.stringify(record) }]);
    } catch (err) {
      // The alert stays in force here; only its delivery and persistence failed.
      this.log.error({ err, alert: record.id }, 'alert event could not be stored (buffer unavailable); it stays active here');
    }
    const level = what === 'raised' ? (record.severity === 'info' ? 'info' : 'warn') : 'info';
    this.log[level](
      { alert: record.id, severity: record.severity, device: record.deviceId, point: record.pointId, rule: record.ruleId, value: slot.lastValue, threshold: record.threshold, state: record.state, ...(record.acknowledgedBy === null ? {} : { by: record.acknowledgedBy }) },
      `alert ${what}: ${record.message}`,
    );
    void this.publish(slot, record);
    const view = this.view(slot, record);
    for (const l of this.listeners) {
      try {
        l(view, record);
      } catch (err) {
        this.log.warn({ err, alert: record.id }, 'alert listener failed');
      }
    }
  }

  /**
   * The time of an event, and — while the wall clock is not trusted — the clock's frame to mark it
   * with. Once the clock is trusted, first corrects every time marked earlier (confirmTimes).
   */
  private stamp(at?: number): { now: number; frame: ClockFrame | undefined; trusted: { bootId: string; offsetMs: number } | undefined } {
    const now = at ?? this.opts.clock.now();
    const v = this.opts.clockCheck?.();
    if (v === undefined) return { now, frame: undefined, trusted: undefined };
    if (!v.trusted) return { now, frame: { bootId: v.bootId, offsetMs: Math.round(v.epochOffsetMs) }, trusted: undefined };
    const trusted = { bootId: v.bootId, offsetMs: v.trustedOffsetMs };
    if (this.unconfirmed) this.confirmTimes(trusted);
    return { now, frame: undefined, trusted };
  }

  /**
   * The clock is trusted now: the alerts' times stamped before are corrected by the same shift as
   * the points held meanwhile, saved, and republished on the local broker. (The held events get
   * theirs from the buffer when it releases them; the central link's listeners are not called:
   * nothing happened to the alert.)
   */
  private confirmTimes(trusted: { bootId: string; offsetMs: number }): void {
    this.unconfirmed = false;
    const rows: AlertStateRow[] = [];
    const changed: Slot[] = [];
    for (const slot of this.slots.values()) {
      const alert = slot.alert;
      if (alert?.unconfirmedTimes === undefined) continue;
      slot.alert = confirmAlertTimes(alert, trusted);
      rows.push({ key: slot.key, record: JSON.stringify(slot.alert) });
      changed.push(slot);
    }
    if (rows.length === 0) return;
    try {
      this.store?.commit([], rows);
    } catch (err) {
      this.log.warn({ err, alerts: rows.length }, 'corrected alert times could not be saved; saved with the next change');
    }
    this.log.info({ alerts: changed.map((s) => s.alert?.id) }, 'wall clock trusted: times of active alerts corrected');
    for (const slot of changed) void this.publish(slot);
  }

  /** `<prefix>/<gateway>/alerts/<device>/<point>/<rule>`, retained; an empty payload once cleared. */
  topicOf(slot: { device: { id: string }; point: { id: string }; rule: { id: string } }): string {
    const { settings } = this.config;
    return `${settings.central.prefix}/${settings.gateway.id}/alerts/${slot.device.id}/${slot.point.id}/${slot.rule.id}`;
  }

  private async publish(slot: Slot, record: AlertRecord | undefined = slot.alert): Promise<void> {
    const publish = this.opts.publish;
    if (publish === undefined || record === undefined) return;
    const payload = record.state === 'cleared' ? '' : JSON.stringify(this.view(slot, record));
    try {
      await publish(this.topicOf(slot), payload);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, alert: record.id }, 'alert not published on the local broker');
    }
  }

  private view(slot: Slot, r: AlertRecord): ActiveAlert {
    return {
      id: r.id,
      deviceId: r.deviceId,
      pointId: r.pointId,
      ruleId: r.ruleId,
      severity: r.severity,
      state: r.state,
      message: r.message,
      since: r.raisedAt,
      value: r.value,
      threshold: r.threshold,
      ...(slot.point.unit === undefined ? {} : { unit: slot.point.unit }),
      acknowledged: r.acknowledgedAt !== null,
      acknowledgedAt: r.acknowledgedAt,
      acknowledgedBy: r.acknowledgedBy,
      latch: r.latch,
      topic: this.topicOf(slot),
    };
  }

  private find(id: string): Slot | undefined {
    const at = id.lastIndexOf('@');
    const key = at > 0 ? id.slice(0, at) : id;
    const slot = this.slots.get(key);
    if (slot?.alert === undefined) return undefined;
    return at > 0 && slot.alert.id !== id ? undefined : slot;
  }

  private restore(key: string, text: string, now: number): void {
    let record: AlertRecord;
    try {
      record = JSON.parse(text) as AlertRecord;
    } catch {
      this.log.warn({ alert: key }, 'stored alert state is not readable; dropped');
      this.store?.commit([], [{ key, record: null }]);
      return;
    }
    const slot = this.slots.get(key);
    if (slot === undefined) {
      this.ruleGone(key, record, now);
      return;
    }
    slot.alert = record;
    if (record.unconfirmedTimes !== undefined) this.unconfirmed = true;
    slot.on = record.state === 'active';
    slot.lastValue = record.value;
    slot.lastStamp = Number(record.id.slice(record.id.lastIndexOf('@') + 1)) || record.raisedAt;
  }

  /** The rule left the configuration: its alert could never clear by itself, so it is cleared now. */
  private ruleGone(key: string, stored: AlertRecord, at: number): void {
    const { now, frame, trusted } = this.stamp(at);
    const record = trusted === undefined ? stored : confirmAlertTimes(stored, trusted);
    const gone: AlertRecord = mark({ ...record, state: 'cleared', clearedAt: now, version: record.version + 1 }, 'clearedAt', frame);
    const { settings } = this.config;
    const event: Point = {
      deviceId: record.deviceId,
      pointId: record.pointId,
      measurement: 'alerts',
      tags: { gateway: settings.gateway.id, site: settings.gateway.site, device: record.deviceId, point: record.pointId, rule: record.ruleId, severity: record.severity },
      value: null,
      ts: now,
      quality: 'good',
      alert: gone,
    };
    try {
      this.store?.commit([event], [{ key, record: null }]);
    } catch (err) {
      this.log.error({ err, alert: record.id }, 'alert event could not be stored (buffer unavailable)');
    }
    this.log.info({ alert: record.id }, 'alert cleared: its rule is no longer in the configuration');
    const topic = `${settings.central.prefix}/${settings.gateway.id}/alerts/${key}`;
    void this.opts.publish?.(topic, '').catch(() => {});
  }

  /** Applies the acks the CLI queued in the state file, and writes back what became of each. */
  private scheduleAckPoll(): void {
    this.ackTimer = this.opts.clock.setTimeout(() => {
      if (!this.running) return;
      this.applyQueuedAcks();
      if (this.unconfirmed) this.stamp();
      this.scheduleAckPoll();
    }, this.opts.ackPollMs ?? 1000);
  }

  private applyQueuedAcks(): void {
    const store = this.store;
    if (store === undefined) return;
    try {
      for (const req of store.waitingAcks()) {
        const r = this.ack(req.alert, req.by);
        store.completeAck(req.id, r.ok ? 'ok' : r.code, this.opts.clock.now());
        if (!r.ok) this.log.warn({ alert: req.alert, by: req.by, code: r.code }, `alert acknowledgement refused: ${r.error}`);
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not read queued alert acknowledgements; trying again');
    }
  }
}

/** The record with `field` marked as stamped on an untrusted clock (frame), or unmarked (it is right). */
function mark(record: AlertRecord, field: AlertTimeField, frame: ClockFrame | undefined): AlertRecord {
  const rest = { ...record.unconfirmedTimes };
  delete rest[field];
  const marks = frame === undefined ? rest : { ...rest, [field]: frame };
  const out: AlertRecord = { ...record };
  if (Object.keys(marks).length === 0) delete out.unconfirmedTimes;
  else out.unconfirmedTimes = marks;
  return out;
}
