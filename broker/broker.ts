/**
 * The embedded MQTT broker (aedes 1.x) that local sensors publish to. It authenticates every
 * client (a user list, or anonymous only when allowed), applies the per-user ACL to every
 * PUBLISH and SUBSCRIBE, and hands messages to the agent's MQTT devices in-process, with no
 * socket and no credentials in between.
 *
 * The broker object exists before it listens (`prepare`), so the MQTT devices can subscribe
 * before the first sensor connects (start order: drivers, then the broker's listener). A port
 * that cannot be bound (another broker on 1883, a TLS file missing) is logged and retried with a
 * growing delay; the rest of the agent carries on.
 *
 * MQTT 3.1.1 has no way to refuse a single PUBLISH: a client publishing where its ACL does not
 * allow is disconnected (as the spec says), and counted. A refused SUBSCRIBE gets the failure
 * return code (0x80) and the client stays connected.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { Aedes, type AedesPublishPacket, type AuthenticateError, type Client, type Subscription } from 'aedes';
import { ANONYMOUS_USER, brokerPort, type BrokerSettings } from '../config/broker.js';
import { Acl } from './acl.js';
import { passwordChecker } from './passwords.js';

export const BrokerErrors = {
  authFailed: 'EDGE_BROKER_AUTH_FAILED',
  publishDenied: 'EDGE_BROKER_PUBLISH_DENIED',
  subscribeDenied: 'EDGE_BROKER_SUBSCRIBE_DENIED',
  listen: 'EDGE_BROKER_LISTEN',
} as const;

/** The subset of pino the broker uses. */
export interface BrokerLogger {
  debug(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

const silent: BrokerLogger = { debug() {}, info() {}, warn() {}, error() {} };

export interface BrokerStats {
  listening: boolean;
  clients: number;
  connects: number;
  authFailures: number;
  publishDenied: number;
  subscribeDenied: number;
  /** PUBLISH packets accepted from clients. */
  messagesIn: number;
  lastError: string | null;
}

export type BrokerMessageHandler = (topic: string, payload: Buffer) => void;

type Deliver = (packet: AedesPublishPacket, cb: () => void) => void;

export interface EmbeddedBrokerOptions {
  settings: BrokerSettings;
  logger?: BrokerLogger;
  /** Delays between attempts to listen (default 1 s doubling to 60 s). */
  retry?: { initialMs: number; maxMs: number };
}

export class EmbeddedBroker {
  readonly stats: BrokerStats = { listening: false, clients: 0, connects: 0, authFailures: 0, publishDenied: 0, subscribeDenied: 0, messagesIn: 0, lastError: null };
  private readonly settings: BrokerSettings;
  private readonly log: BrokerLogger;
  private readonly acl: Acl;
  private readonly checkers = new Map<string, (given: Buffer) => Promise<boolean>>();
  /** The user each connected client authenticated as. */
  private readonly users = new WeakMap<Client, string>();
  private readonly delivers = new Map<BrokerMessageHandler, Map<string, Deliver>>();
  private readonly warned = new Map<string, number>();
  private readonly retryOpts: { initialMs: number; maxMs: number };
  private aedes: Aedes | undefined;
  private server: net.Server | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private state: 'idle' | 'running' | 'stopped' = 'idle';
  private boundPort: number | undefined;

  constructor(opts: EmbeddedBrokerOptions) {
    this.settings = opts.settings;
    this.log = opts.logger ?? silent;
    this.acl = new Acl(opts.settings.acl);
    for (const u of opts.settings.users) this.checkers.set(u.username, passwordChecker(u));
    this.retryOpts = opts.retry ?? { initialMs: 1000, maxMs: 60_000 };
  }

  /** The port it listens on (useful with port 0), once listening. */
  get port(): number | undefined {
    return this.boundPort;
  }

  /** Creates the broker without listening, so in-process subscriptions can be made first. */
  async prepare(): Promise<void> {
    if (this.aedes !== undefined) return;
    const aedes = await Aedes.createBroker({
      // A client whose socket stops draining must not stall delivery to everyone else.
      drainTimeout: 30_000,
      authenticate: (client, username, password, done) => this.authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => this.authorizePublish(client, packet.topic, done),
      authorizeSubscribe: (client, sub, done) => this.authorizeSubscribe(client, sub, done),
    });
    aedes.on('clientReady', (client) => {
      this.stats.connects += 1;
      this.stats.clients = aedes.connectedClients;
      this.log.debug({ clientId: client.id, user: this.users.get(client) }, 'mqtt client connected');
    });
    aedes.on('clientDisconnect', (client) => {
      this.stats.clients = aedes.connectedClients;
      this.log.debug({ clientId: client.id }, 'mqtt client disconnected');
    });
    aedes.on('clientError', (client, err) => this.log.debug({ clientId: client.id, err: err.message }, 'mqtt client error'));
    aedes.on('connectionError', (client, err) => this.log.debug({ clientId: client.id, err: err.message }, 'mqtt connection error'));
    this.aedes = aedes;
  }

  /** Listens (tries once now; a failure is logged and retried in the background). Idempotent. */
  async start(): Promise<void> {
    if (this.state === 'running') return;
    this.state = 'running';
    await this.prepare();
    await this.listen();
  }

  /** Stops listening, disconnects every client, closes the broker. Idempotent. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    clearTimeout(this.retryTimer);
    const server = this.server;
    this.server = undefined;
    const closed = server === undefined ? Promise.resolve() : new Promise<void>((resolve) => server.close(() => resolve()));
    const aedes = this.aedes;
    this.aedes = undefined;
    if (aedes !== undefined) await new Promise<void>((resolve) => aedes.close(() => resolve()));
    await closed;
    this.stats.listening = false;
    this.stats.clients = 0;
    this.boundPort = undefined;
  }

  /** In-process subscription (no ACL: the agent itself). */
  subscribe(filter: string, handler: BrokerMessageHandler): Promise<void> {
    const aedes = this.aedes;
    if (aedes === undefined) return Promise.reject(new Error('the embedded broker is not prepared'));
    let byFilter = this.delivers.get(handler);
    if (byFilter === undefined) this.delivers.set(handler, (byFilter = new Map()));
    if (byFilter.has(filter)) return Promise.resolve();
    const deliver: Deliver = (packet, cb) => {
      try {
        handler(packet.topic, Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload));
      } catch (err) {
        this.log.error({ err, topic: packet.topic }, 'in-process subscriber failed');
      }
      cb();
    };
    byFilter.set(filter, deliver);
    return new Promise((resolve) => aedes.subscribe(filter, deliver, () => resolve()));
  }

  unsubscribe(filter: string, handler: BrokerMessageHandler): Promise<void> {
    const deliver = this.delivers.get(handler)?.get(filter);
    if (deliver === undefined) return Promise.resolve();
    this.delivers.get(handler)?.delete(filter);
    const aedes = this.aedes;
    if (aedes === undefined || aedes.closed) return Promise.resolve();
    return new Promise((resolve) => aedes.unsubscribe(filter, deliver, () => resolve()));
  }

  /** Publishes as the gateway itself (local alerts, tests). Bypasses the ACL. */
  publish(topic: string, payload: string | Buffer, opts: { qos?: 0 | 1; retain?: boolean } = {}): Promise<void> {
    const aedes = this.aedes;
    if (aedes === undefined) return Promise.reject(new Error('the embedded broker is not prepared'));
    return new Promise((resolve, reject) =>
      aedes.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: opts.qos ?? 0, retain: opts.retain ?? false, dup: false }, (err) => (err ? reject(err) : resolve())),
    );
  }

  private async listen(): Promise<void> {
    const aedes = this.aedes;
    if (aedes === undefined || this.state !== 'running') return;
    const { host, tls: tlsSettings } = this.settings;
    const port = this.boundPort ?? brokerPort(this.settings);
    try {
      const server = tlsSettings === undefined
        ? net.createServer(aedes.handle)
        : tls.createServer(
          {
            cert: pem(tlsSettings.cert),
            key: pem(tlsSettings.key),
            ...(tlsSettings.ca === undefined ? {} : { ca: pem(tlsSettings.ca) }),
            requestCert: tlsSettings.requireClientCert,
            rejectUnauthorized: tlsSettings.requireClientCert,
          },
          aedes.handle,
        );
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      if (this.state !== 'running') {
        server.close();
        return;
      }
      server.on('error', (err) => this.log.error({ err: err.message }, 'mqtt listener error'));
      this.server = server;
      this.boundPort = (server.address() as net.AddressInfo).port;
      this.stats.listening = true;
      this.failures = 0;
      this.log.info({ host, port: this.boundPort, tls: tlsSettings !== undefined, users: this.settings.users.length, acl: this.settings.acl !== undefined }, 'embedded MQTT broker listening');
    } catch (err) {
      this.failures += 1;
      this.stats.lastError = BrokerErrors.listen;
      const delay = Math.min(this.retryOpts.maxMs, this.retryOpts.initialMs * 2 ** Math.min(this.failures - 1, 30));
      if (this.failures === 1 || this.failures % 10 === 0) {
        this.log.error({ code: BrokerErrors.listen, host, port, detail: (err as Error).message, failures: this.failures, retryInMs: delay }, 'embedded MQTT broker cannot listen; retrying');
      }
      this.retryTimer = setTimeout(() => void this.listen(), delay);
    }
  }

  private authenticate(client: Client, username: string | undefined, password: Buffer | undefined, done: (error: AuthenticateError | null, success: boolean | null) => void): void {
    const refuse = (returnCode: 4 | 5, why: string): void => {
      this.stats.authFailures += 1;
      this.stats.lastError = BrokerErrors.authFailed;
      this.warnLimited('auth', { code: BrokerErrors.authFailed, clientId: client.id, user: username, remote: remoteOf(client), why, authFailures: this.stats.authFailures }, 'mqtt client refused');
      done(Object.assign(new Error(why), { returnCode }) as AuthenticateError, null);
    };
    if (username === undefined || username === '') {
      if (!this.settings.allowAnonymous) return refuse(5, 'no user name (anonymous clients are not allowed)');
      this.users.set(client, ANONYMOUS_USER);
      return done(null, true);
    }
    const check = this.checkers.get(username);
    if (check === undefined) return refuse(4, 'unknown user');
    if (password === undefined) return refuse(4, 'no password');
    check(password).then(
      (ok) => {
        if (!ok) return refuse(4, 'wrong password');
        this.users.set(client, username);
        done(null, true);
      },
      () => refuse(4, 'password check failed'),
    );
  }

  private authorizePublish(client: Client | null, topic: string, done: (error?: Error | null) => void): void {
    // A will published after its client is gone (client null) was never checked: refuse it.
    const user = client === null ? undefined : this.users.get(client);
    if (user !== undefined && this.acl.canPublish(user, topic)) {
      this.stats.messagesIn += 1;
      return done(null);
    }
    this.stats.publishDenied += 1;
    this.stats.lastError = BrokerErrors.publishDenied;
    this.warnLimited('publish', { code: BrokerErrors.publishDenied, clientId: client?.id, user, topic, publishDenied: this.stats.publishDenied }, 'publish refused by the ACL; client disconnected');
    done(new Error(`not allowed to publish on ${topic}`));
  }

  private authorizeSubscribe(client: Client, sub: Subscription, done: (error: Error | null, subscription?: Subscription | null) => void): void {
    const user = this.users.get(client);
    if (user !== undefined && this.acl.canSubscribe(user, sub.topic)) return done(null, sub);
    this.stats.subscribeDenied += 1;
    this.stats.lastError = BrokerErrors.subscribeDenied;
    this.warnLimited('subscribe', { code: BrokerErrors.subscribeDenied, clientId: client.id, user, filter: sub.topic, subscribeDenied: this.stats.subscribeDenied }, 'subscription refused by the ACL');
    // null: SUBACK with 0x80 for this filter; the client stays connected.
    done(null, null);
  }

  /** At most one warning per kind per minute: a misconfigured sensor retries forever. */
  private warnLimited(kind: string, obj: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    const last = this.warned.get(kind);
    if (last !== undefined && now - last < 60_000) return;
    this.warned.set(kind, now);
    this.log.warn(obj, msg);
  }
}

/** A PEM given inline (`-----BEGIN …`) or as a file path. */
function pem(value: string): Buffer {
  return value.includes('-----BEGIN') ? Buffer.from(value) : readFileSync(value);
}

function remoteOf(client: Client): string | undefined {
  const conn = client.conn as Partial<net.Socket>;
  return conn.remoteAddress;
}
