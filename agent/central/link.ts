// Room agent/central: the ops link over MQTT (config push, commands, reports); may import config and the running rooms, never commands or agent.ts.
/**
 * The MQTT connection to the central broker. An unreachable broker is a normal state: the link
 * retries with capped exponential back-off and jitter (MQTT.js itself retries at a fixed period),
 * and everything the gateway says is published only while connected — MQTT.js keeps messages
 * published offline in memory, and the agent never uses it as a buffer (readings go through
 * SQLite; state, info and health are re-published on every connect anyway).
 *
 * A broker that refuses the credentials or a certificate that does not verify is retried like an
 * outage (ops may fix the broker side without touching the gateway), but logged as an ERROR with
 * its own code: it needs an operator, and it will not go away by itself.
 */
import { readFileSync } from 'node:fs';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { withoutCredentials } from './url.js';
import type { Settings } from '../../config/types.js';
import { Backoff } from '../delivery/backoff.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';

export interface LinkOptions {
  settings: Settings['central'];
  clientId: string;
  /** Retained on the broker when the link drops without a goodbye. */
  will: { topic: string; payload: string };
  /** Subscribed on every connect. */
  subscriptions: string[];
  logger: Logger;
  clock: Clock;
  /** Back-off between reconnects (1 s doubling to 2 min by default). */
  backoff?: { initialMs: number; maxMs: number };
  /** Called after every (re)connect and subscribe: the place to publish `online` and retained state. */
  onConnect: () => void;
  onMessage: (topic: string, payload: Buffer) => void;
}

/** Why the link is down, in the codes logs, /status and the status page use. */
export const LinkCodes = {
  /** CONNACK 4/5: wrong username or password, or the broker does not allow this client. */
  authRefused: 'EDGE_CENTRAL_AUTH_REFUSED',
  /** Any other CONNACK refusal (client id rejected, server unavailable, protocol). */
  refused: 'EDGE_CENTRAL_REFUSED',
  /** The broker's certificate does not verify against central.ca (or the system CAs), or the TLS handshake failed. */
  tls: 'EDGE_CENTRAL_TLS',
  /** Connection refused, timed out, DNS, reset: an outage. */
  unreachable: 'EDGE_CENTRAL_UNREACHABLE',
  /** The CA, client certificate or key file cannot be read. */
  files: 'EDGE_CENTRAL_TLS_FILES',
} as const;

export type LinkState = 'connecting' | 'online' | 'offline';

export interface LinkError {
  code: string;
  message: string;
  at: number;
}

export interface LinkStatus {
  state: LinkState;
  /** The broker URL without username or password. */
  url: string;
  /** Epoch ms of the last state change. */
  since: number;
  /** Failed attempts since the last connect. */
  attempts: number;
  /** The wait before the next attempt (capped back-off); null while connected. */
  retryInMs: number | null;
  lastConnectedAt: number | null;
  lastError: LinkError | null;
}

export class CentralLink {
  private client: MqttClient | undefined;
  private readonly backoff: Backoff;
  private readonly opts: LinkOptions;
  private readonly url: string;
  private connects = 0;
  private state: LinkState = 'connecting';
  private since: number;
  private retryInMs: number | null = null;
  private lastConnectedAt: number | null = null;
  private lastError: LinkError | null = null;
  /** The error of the attempt in progress (an error comes before its close). */
  private attemptError: LinkError | undefined;
  /** A CONNACK refusal sets up its reconnect before the close: the period was set then. */
  private periodSet = false;

  constructor(opts: LinkOptions) {
    this.opts = opts;
    this.url = withoutCredentials(opts.settings.url);
    this.since = opts.clock.now();
    this.backoff = new Backoff(opts.backoff ?? { initialMs: 1000, maxMs: 120_000 });
  }

  get connected(): boolean {
    return this.client?.connected === true;
  }

  status(): LinkStatus {
    return {
      state: this.state,
      url: this.url,
      since: this.since,
      attempts: this.backoff.failures,
      retryInMs: this.state === 'online' ? null : this.retryInMs,
      lastConnectedAt: this.lastConnectedAt,
      lastError: this.lastError === null ? null : { ...this.lastError },
    };
  }

  /** Starts connecting and returns at once: the agent does not wait for its uplink. Throws (EDGE_CENTRAL_TLS_FILES) when a TLS file cannot be read. */
  start(): void {
    if (this.client !== undefined) return;
    const log = this.opts.logger;
    let options: IClientOptions;
    try {
      options = this.clientOptions();
    } catch (err) {
      this.fail({ code: LinkCodes.files, message: (err as Error).message, at: this.opts.clock.now() });
      throw err;
    }
    const client = connect(this.opts.settings.url, options);
    this.client = client;
    client.on('error', (err: Error & { code?: string | number }) => {
      const e = classify(err, this.opts.clock.now());
      this.attemptError = e;
      if (typeof err.code === 'number') {
        // MQTT.js sets up the reconnect right after this event, before the close: set its period now.
        client.options.reconnectPeriod = this.retryInMs = this.backoff.next();
        this.periodSet = true;
      }
      log.debug({ code: e.code, err: err.message }, 'central link error');
    });
    // Before MQTT.js's own close handler schedules the reconnect: set the period it will use.
    client.prependListener('close', () => {
      if (this.client !== client) return;
      if (this.periodSet) this.periodSet = false;
      else client.options.reconnectPeriod = this.retryInMs = this.backoff.next();
      const e = this.attemptError ?? { code: LinkCodes.unreachable, message: 'connection closed', at: this.opts.clock.now() };
      this.attemptError = undefined;
      const changed = this.lastError?.code !== e.code || this.lastError.message !== e.message;
      this.fail(e);
      const n = this.backoff.failures;
      if (!changed && n !== 1 && n % 10 !== 0) return;
      const fields = { code: e.code, url: this.url, error: e.message, retryInMs: client.options.reconnectPeriod, attempts: n };
      if (e.code === LinkCodes.unreachable) log.warn(fields, 'central broker not connected; retrying');
      else log.error(fields, `central broker refused the link: ${hint(e.code)}; retrying`);
    });
    client.on('connect', () => {
      this.backoff.reset();
      this.connects += 1;
      this.attemptError = undefined;
      this.setState('online');
      this.lastConnectedAt = this.opts.clock.now();
      this.retryInMs = null;
      log.info({ url: this.url, connects: this.connects }, 'central broker connected');
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
    this.setState('offline');
  }

  private fail(e: LinkError): void {
    this.lastError = e;
    this.setState('offline');
  }

  private setState(state: LinkState): void {
    if (state === this.state) return;
    this.state = state;
    this.since = this.opts.clock.now();
  }

  private clientOptions(): IClientOptions {
    const s = this.opts.settings;
    const file = (what: string, path: string) => {
      try {
        return readFileSync(path);
      } catch (err) {
        throw new Error(`cannot read ${what} ${path}: ${(err as Error).message}`);
      }
    };
    return {
      clientId: this.opts.clientId,
      clean: true,
      protocolVersion: 4,
      reconnectPeriod: this.opts.backoff?.initialMs ?? 1000,
      // MQTT.js gives up after a refused CONNACK (wrong password) unless told otherwise: the
      // broker side may be fixed any time, so keep trying, with the same capped back-off.
      reconnectOnConnackError: true,
      connectTimeout: 10_000,
      keepalive: 30,
      // QoS 0 messages published while offline are dropped, not queued (never a buffer).
      queueQoSZero: false,
      will: { topic: this.opts.will.topic, payload: Buffer.from(this.opts.will.payload), qos: 1, retain: true },
      ...(s.username === '' ? {} : { username: s.username }),
      ...(s.password === '' ? {} : { password: s.password }),
      ...(s.ca === '' ? {} : { ca: file('central.ca', s.ca) }),
      ...(s.cert === '' ? {} : { cert: file('central.cert', s.cert), key: file('central.key', s.key) }),
      rejectUnauthorized: true,
    };
  }
}

const TLS_CODE = /CERT|SELF_SIGNED|UNABLE_TO_|^ERR_TLS|^ERR_SSL|^EPROTO$/;

function classify(err: Error & { code?: string | number }, at: number): LinkError {
  const { code } = err;
  if (typeof code === 'number') {
    // MQTT 3.1.1 CONNACK: 4 bad user name or password, 5 not authorized.
    return { code: code === 4 || code === 5 ? LinkCodes.authRefused : LinkCodes.refused, message: err.message, at };
  }
  if (typeof code === 'string' && TLS_CODE.test(code)) return { code: LinkCodes.tls, message: `${code}: ${err.message}`, at };
  if (/certificate|handshake|tls|ssl/i.test(err.message)) return { code: LinkCodes.tls, message: err.message, at };
  return { code: LinkCodes.unreachable, message: code === undefined ? err.message : `${code}: ${err.message}`, at };
}

function hint(code: string): string {
  if (code === LinkCodes.authRefused) return 'check central.username and central.password against the broker';
  if (code === LinkCodes.tls) return "the broker's certificate does not verify against central.ca (or its name does not match the URL)";
  return 'see the error';
}
