/**
 * MQTT sensors: subscribes to each point's topic filter and turns every message into readings,
 * with the topic segments captured by `{name}` as per-reading tags. On the embedded broker it
 * subscribes in-process (no socket, no credentials); on an external broker it is an MQTT.js
 * client that reconnects with a growing delay and subscribes again on every connect (FACTS:
 * MQTT.js's fixed reconnect period and its in-memory offline queue are not to be relied on).
 *
 * A message that is not what the points expect (not JSON, a path that is not there, text
 * where a number belongs) gives bad readings with a code: counted, logged (rate-limited),
 * delivered like any other reading, never thrown.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { MqttDevice, MqttPoint } from '../../config/types.js';
import { silentLogger, systemClock, type DriverClock, type DriverLogger } from '../modbus/deps.js';
import { RateLimitedLog } from '../rate-limit.js';
import { RetryDelay } from '../retry.js';
import { DeviceTimestamps } from '../timestamps.js';
import { DeviceErrors, type PushDriver, type Reading } from '../types.js';
import { PAYLOAD_DEFAULTS, PayloadErrors, PayloadReader } from './payload.js';
import { capturedTags } from './topic.js';

export const MqttErrors = {
  ...DeviceErrors,
  ...PayloadErrors,
  /** The broker refused a subscription (its ACL). */
  subscribeRefused: 'EDGE_MQTT_SUBSCRIBE_REFUSED',
  /** A TLS file (ca, cert, key) cannot be read. */
  tls: 'EDGE_MQTT_TLS',
} as const;

export type MessageHandler = (topic: string, payload: Buffer) => void;

/** The embedded broker as the driver sees it (agent/ adapts broker/ to this). */
export interface LocalBroker {
  subscribe(filter: string, handler: MessageHandler): Promise<void>;
  unsubscribe(filter: string, handler: MessageHandler): Promise<void>;
}

export interface MqttStats {
  connected: boolean;
  connects: number;
  messages: number;
  /** Messages that gave at least one bad reading. */
  badMessages: number;
  /** Messages on a subscribed filter whose captured segments were empty (ward//bed). */
  unmatched: number;
  /** Messages larger than maxPayload (never parsed), and JSON nested deeper than maxDepth. */
  tooLarge: number;
  tooDeep: number;
  readings: number;
  badReadings: number;
  lastMessageAt: number | null;
  lastError: string | null;
}

/** What `onMessage` sees: every message and what became of it (for `probe mqtt`). */
export interface MessageEvent {
  ts: number;
  topic: string;
  payload: Buffer;
  readings: Reading[];
}

export interface MqttDriverOptions {
  device: MqttDevice;
  /** Required when the device has no `connection` (the embedded broker). */
  local?: LocalBroker;
  clock?: DriverClock;
  logger?: DriverLogger;
  /** Delays between reconnects to an external broker (default 1 s doubling to 2 min, with jitter). */
  reconnect?: { initialMs: number; maxMs: number };
}

interface Subscription {
  filter: string;
  captures: readonly (string | undefined)[];
  points: MqttPoint[];
  handler: MessageHandler;
}

export class MqttDriver implements PushDriver {
  readonly stats: MqttStats = {
    connected: false, connects: 0, messages: 0, badMessages: 0, unmatched: 0, tooLarge: 0, tooDeep: 0, readings: 0, badReadings: 0, lastMessageAt: null, lastError: null,
  };
  private readonly device: MqttDevice;
  private readonly local: LocalBroker | undefined;
  private readonly clock: DriverClock;
  private readonly log: DriverLogger;
  private readonly reader: PayloadReader;
  private readonly maxPayload: number;
  private readonly subscriptions: Subscription[] = [];
  private readonly retry: RetryDelay;
  private readonly stamps = new DeviceTimestamps();
  private readonly reconnectInitialMs: number;
  private readonly badLog: RateLimitedLog;
  private readonly linkLog: RateLimitedLog;
  private readonly readingListeners: Array<(readings: Reading[]) => void> = [];
  private readonly messageListeners: Array<(event: MessageEvent) => void> = [];
  private client: MqttClient | undefined;
  private state: 'idle' | 'running' | 'stopped' = 'idle';

  constructor(opts: MqttDriverOptions) {
    this.device = opts.device;
    this.local = opts.local;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentLogger;
    this.reader = new PayloadReader(this.device.points, { maxDepth: this.device.maxDepth });
    this.maxPayload = this.device.maxPayload ?? PAYLOAD_DEFAULTS.maxPayload;
    this.reconnectInitialMs = opts.reconnect?.initialMs ?? 1000;
    this.retry = new RetryDelay(this.reconnectInitialMs, opts.reconnect?.maxMs ?? 120_000);
    this.badLog = new RateLimitedLog(this.log, this.clock);
    this.linkLog = new RateLimitedLog(this.log, this.clock);
    // One subscription per distinct topic pattern; points sharing it are read from one message.
    const byPattern = new Map<string, Subscription>();
    for (const p of this.device.points) {
      let sub = byPattern.get(p.topic);
      if (sub === undefined) {
        const s: Subscription = { filter: p.filter, captures: p.captures, points: [], handler: (topic, payload) => this.onMessageOf([s], topic, payload) };
        byPattern.set(p.topic, (sub = s));
        this.subscriptions.push(s);
      }
      sub.points.push(p);
    }
    if (this.device.connection === undefined && this.local === undefined) {
      throw new Error(`device ${this.device.id}: an MQTT device without connection needs the embedded broker`);
    }
  }

  /** The filters subscribed to, in order. */
  get filters(): string[] {
    return this.subscriptions.map((s) => s.filter);
  }

  onReadings(cb: (readings: Reading[]) => void): void {
    this.readingListeners.push(cb);
  }

  /** Every message with its readings (for `probe mqtt`). */
  onMessage(cb: (event: MessageEvent) => void): void {
    this.messageListeners.push(cb);
  }

  /** Subscribes (in-process) or starts connecting (external); an offline broker is not an error. */
  async start(): Promise<void> {
    if (this.state === 'running') return;
    this.state = 'running';
    if (this.device.connection === undefined) {
      const local = this.local as LocalBroker;
      for (const s of this.subscriptions) await local.subscribe(s.filter, s.handler);
      this.stats.connected = true;
      this.stats.connects += 1;
      this.log.info({ filters: this.filters }, 'subscribed on the embedded broker');
      return;
    }
    this.connectExternal();
  }

  async stop(): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'stopped';
    this.stats.connected = false;
    if (this.device.connection === undefined) {
      const local = this.local as LocalBroker;
      for (const s of this.subscriptions) await local.unsubscribe(s.filter, s.handler);
      return;
    }
    const client = this.client;
    this.client = undefined;
    if (client !== undefined) await new Promise<void>((resolve) => client.end(true, {}, () => resolve()));
  }

  private connectExternal(): void {
    const c = this.device.connection;
    if (c === undefined) return;
    let tls: Pick<IClientOptions, 'ca' | 'cert' | 'key'>;
    try {
      tls = {
        ...(c.ca === undefined ? {} : { ca: pem(c.ca) }),
        ...(c.cert === undefined ? {} : { cert: pem(c.cert) }),
        ...(c.key === undefined ? {} : { key: pem(c.key) }),
      };
    } catch (err) {
      this.stats.lastError = MqttErrors.tls;
      this.log.error({ code: MqttErrors.tls, detail: (err as Error).message }, 'cannot read a TLS file of the MQTT connection; not connecting');
      return;
    }
    const client = connect(c.url, {
      clientId: c.clientId ?? `edge-${this.device.id}-${randomBytes(3).toString('hex')}`,
      ...(c.username === undefined ? {} : { username: c.username }),
      ...(c.password === undefined ? {} : { password: c.password }),
      ...tls,
      rejectUnauthorized: c.rejectUnauthorized,
      protocolVersion: 4,
      clean: true,
      // We subscribe on every connect ourselves.
      resubscribe: false,
      reconnectPeriod: this.reconnectInitialMs,
      connectTimeout: 10_000,
    });
    this.client = client;
    client.on('connect', () => {
      const after = this.retry.failures;
      this.retry.reset();
      client.options.reconnectPeriod = this.reconnectInitialMs;
      this.stats.connected = true;
      this.stats.connects += 1;
      this.log.info({ url: redact(c.url), filters: this.filters, ...(after > 0 ? { afterFailures: after } : {}) }, 'connected to the MQTT broker');
      for (const s of this.subscriptions) {
        client.subscribe(s.filter, { qos: this.device.qos }, (err, granted) => {
          const refused = err ?? (granted?.some((g) => g.qos === 128) === true ? new Error('SUBACK 128: not authorized') : undefined);
          if (refused === undefined) return;
          this.stats.lastError = MqttErrors.subscribeRefused;
          this.log.error({ code: MqttErrors.subscribeRefused, filter: s.filter, detail: refused.message }, 'the broker refused the subscription');
        });
      }
    });
    client.on('message', (topic, payload) => this.onMessageOf(this.subscriptions, topic, payload));
    client.on('close', () => {
      if (this.client !== client) return;
      const wasConnected = this.stats.connected;
      this.stats.connected = false;
      // MQTT.js waits `reconnectPeriod` before its next attempt: make that grow.
      client.options.reconnectPeriod = this.retry.next();
      if (wasConnected) this.log.warn({ url: redact(c.url), code: DeviceErrors.unreachable }, 'lost the MQTT broker; reconnecting');
    });
    client.on('error', (err: Error) => {
      this.stats.lastError = DeviceErrors.unreachable;
      this.linkLog.warn({ url: redact(c.url), code: DeviceErrors.unreachable, detail: err.message, retryInMs: client.options.reconnectPeriod }, 'cannot reach the MQTT broker; retrying');
    });
  }

  private onMessageOf(subs: readonly Subscription[], topic: string, payload: Buffer): void {
    if (this.state !== 'running') return;
    // Many beds under one device may publish in the same millisecond: each message keeps its own.
    const ts = this.stamps.next(this.clock.now());
    const readings: Reading[] = [];
    let matched = false;
    for (const s of subs) {
      const tags = capturedTags(s.filter, s.captures, topic);
      if (tags === undefined) continue;
      matched = true;
      const captured = Object.keys(tags).length === 0 ? undefined : tags;
      readings.push(
        ...(payload.length > this.maxPayload
          ? PayloadReader.refuse(s.points, ts, captured, PayloadErrors.tooLarge, `${payload.length} bytes, more than maxPayload (${this.maxPayload}); not parsed`)
          : this.reader.read(payload, s.points, ts, captured)),
      );
    }
    if (!matched) {
      this.stats.unmatched += 1;
      this.log.debug({ topic }, 'message on a subscribed filter, but not on the topic pattern (empty segment?); ignored');
      return;
    }
    this.stats.messages += 1;
    this.stats.lastMessageAt = ts;
    this.stats.readings += readings.length;
    const bad = readings.filter((r) => r.quality === 'bad');
    if (bad.length > 0) {
      this.stats.badMessages += 1;
      if (bad.some((r) => r.error === PayloadErrors.tooLarge)) this.stats.tooLarge += 1;
      else if (bad.some((r) => r.error === PayloadErrors.tooDeep)) this.stats.tooDeep += 1;
      this.stats.badReadings += bad.length;
      const first = bad[0] as Reading;
      this.stats.lastError = first.error ?? null;
      this.badLog.warn({ topic, code: first.error, detail: first.detail, badMessages: this.stats.badMessages }, 'payload not as the points expect; bad readings');
    }
    for (const l of this.messageListeners) l({ ts, topic, payload, readings });
    for (const listener of this.readingListeners) {
      try {
        listener(readings);
      } catch (err) {
        this.log.error({ err }, 'reading listener failed');
      }
    }
  }
}

/** A PEM given inline (`-----BEGIN …`) or as a file path. */
export function pem(value: string): Buffer {
  return value.includes('-----BEGIN') ? Buffer.from(value) : readFileSync(value);
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
