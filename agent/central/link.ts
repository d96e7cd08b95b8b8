/**
 * The MQTT connection to the central broker. An unreachable broker is a normal state: the link
 * retries with capped exponential back-off and jitter (MQTT.js itself retries at a fixed period),
 * and everything the gateway says is published only while connected — MQTT.js keeps messages
 * published offline in memory, and the agent never uses it as a buffer (readings go through
 * SQLite; state, info and health are re-published on every connect anyway).
 */
import { readFileSync } from 'node:fs';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { Settings } from '../../config/types.js';
import { Backoff } from '../backoff.js';
import type { Logger } from '../logger.js';

export interface LinkOptions {
  settings: Settings['central'];
  clientId: string;
  /** Retained on the broker when the link drops without a goodbye. */
  will: { topic: string; payload: string };
  /** Subscribed on every connect. */
  subscriptions: string[];
  logger: Logger;
  /** Back-off between reconnects (1 s doubling to 2 min by default). */
  backoff?: { initialMs: number; maxMs: number };
  /** Called after every (re)connect and subscribe: the place to publish `online` and retained state. */
  onConnect: () => void;
  onMessage: (topic: string, payload: Buffer) => void;
}

export class CentralLink {
  private client: MqttClient | undefined;
  private readonly backoff: Backoff;
  private readonly opts: LinkOptions;
  private connects = 0;

  constructor(opts: LinkOptions) {
    this.opts = opts;
    this.backoff = new Backoff(opts.backoff ?? { initialMs: 1000, maxMs: 120_000 });
  }

  get connected(): boolean {
    return this.client?.connected === true;
  }

  /** Starts connecting and returns at once: the agent does not wait for its uplink. */
  start(): void {
    if (this.client !== undefined) return;
    const log = this.opts.logger;
    const client = connect(this.opts.settings.url, this.clientOptions());
    this.client = client;
    // Before MQTT.js's own close handler schedules the reconnect: set the period it will use.
    client.prependListener('close', () => {
      client.options.reconnectPeriod = this.backoff.next();
      if (this.backoff.failures === 1 || this.backoff.failures % 10 === 0) {
        log.warn({ url: this.opts.settings.url, retryInMs: client.options.reconnectPeriod, attempts: this.backoff.failures }, 'central broker not connected; retrying');
      }
    });
    client.on('error', (err) => log.debug({ err: err.message }, 'central link error'));
    client.on('connect', () => {
      this.backoff.reset();
      this.connects += 1;
      log.info({ url: this.opts.settings.url, connects: this.connects }, 'central broker connected');
      client.subscribe(this.opts.subscriptions, { qos: 1 }, (err) => {
        if (err) log.warn({ err: err.message }, 'central subscribe failed');
      });
      this.opts.onConnect();
    });
    client.on('message', (topic, payload) => this.opts.onMessage(topic, payload));
  }

  /** Publishes if connected; false (nothing queued) otherwise. */
  publish(topic: string, payload: string, opts: { retain?: boolean; qos?: 0 | 1 } = {}): boolean {
    const client = this.client;
    if (client === undefined || !client.connected) return false;
    client.publish(topic, payload, { qos: opts.qos ?? 1, retain: opts.retain ?? false }, (err) => {
      if (err) this.opts.logger.debug({ topic, err: err.message }, 'central publish failed');
    });
    return true;
  }

  /** Says `payload` on `topic` (the graceful `offline`), then disconnects. Bounded by the caller. */
  async stop(last?: { topic: string; payload: string }): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client === undefined) return;
    if (last !== undefined && client.connected) {
      await new Promise<void>((resolve) => client.publish(last.topic, last.payload, { qos: 1, retain: true }, () => resolve()));
    }
    await client.endAsync(!client.connected);
  }

  private clientOptions(): IClientOptions {
    const s = this.opts.settings;
    const file = (path: string) => (path === '' ? undefined : readFileSync(path));
    return {
      clientId: this.opts.clientId,
      clean: true,
      protocolVersion: 4,
      reconnectPeriod: this.opts.backoff?.initialMs ?? 1000,
      connectTimeout: 10_000,
      keepalive: 30,
      // QoS 0 messages published while offline are dropped, not queued (never a buffer).
      queueQoSZero: false,
      will: { topic: this.opts.will.topic, payload: Buffer.from(this.opts.will.payload), qos: 1, retain: true },
      ...(s.username === '' ? {} : { username: s.username }),
      ...(s.password === '' ? {} : { password: s.password }),
      ...(s.ca === '' ? {} : { ca: file(s.ca) }),
      ...(s.cert === '' ? {} : { cert: file(s.cert), key: file(s.key) }),
      rejectUnauthorized: true,
    };
  }
}
