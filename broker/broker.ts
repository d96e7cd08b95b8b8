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
import { Aedes, type AedesPublishPacket, type AuthenticateError, type Client, type PublishPacket, type Subscription } from 'aedes';
import { ANONYMOUS_USER, brokerPort, type BrokerSettings } from '../config/broker.js';
import { Acl } from './acl.js';
import { FrameGuard } from './frame-guard.js';
import { boundSessionQueues, noRefusals, RateBucket, RefusalCodes, RetainedLedger, type Refusal } from './limits.js';
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
  /** What `broker.limits` refused, by kind (each counted once per packet, connection or message). */
  refused: Record<Refusal, number>;
  /** Retained messages clients left behind, and their payload bytes (bounded by limits.maxRetained*). */
  retained: number;
  retainedBytes: number;
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
  readonly stats: BrokerStats = {
    listening: false, clients: 0, connects: 0, authFailures: 0, publishDenied: 0, subscribeDenied: 0, messagesIn: 0, refused: noRefusals(), retained: 0, retainedBytes: 0, lastError: null,
  };
  private readonly settings: BrokerSettings;
  private readonly log: BrokerLogger;
  private readonly acl: Acl;
  private readonly checkers = new Map<string, (given: Buffer) => Promise<boolean>>();
  /** The user each connected client authenticated as. */
  private readonly users = new WeakMap<Client, string>();
  private readonly delivers = new Map<BrokerMessageHandler, Map<string, Deliver>>();
  private readonly warned = new Map<string, number>();
  /** Open client sockets (limits.maxConnections), and the clients of each user (maxConnectionsPerUser). */
  private readonly sockets = new Set<net.Socket>();
  private readonly byUser = new Map<string, Set<Client>>();
  /** The user of each persistent session (clean: false), so a refusal while it is away can name it. */
  private readonly sessionUsers = new Map<string, string>();
  /** Filters each client holds (maxSubscriptionsPerClient) and its publish-rate bucket. */
  private readonly filters = new WeakMap<Client, Set<string>>();
  private readonly buckets = new WeakMap<Client, RateBucket>();
  private readonly retained: RetainedLedger;
  private readonly overflowed = new WeakSet<Client>();
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
    this.retained = new RetainedLedger(opts.settings.limits);
  }

  /** The port it listens on (useful with port 0), once listening. */
  get port(): number | undefined {
    return this.boundPort;
  }

  /** Creates the broker without listening, so in-process subscriptions can be made first. */
  async prepare(): Promise<void> {
    if (this.aedes !== undefined) return;
    const limits = this.settings.limits;
    const aedes = await Aedes.createBroker({
      // A client whose socket stops draining must not stall delivery to everyone else.
      drainTimeout: 30_000,
      maxInflightInbound: limits.maxInflight,
      authenticate: (client, username, password, done) => this.authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => this.authorizePublish(client, packet, done),
      authorizeSubscribe: (client, sub, done) => this.authorizeSubscribe(client, sub, done),
      authorizeForward: (client, packet) => this.authorizeForward(client, packet),
    });
    boundSessionQueues(aedes, limits.maxQueued, (clientId) =>
      this.refuse('queued', { clientId, user: this.sessionUsers.get(clientId), limit: limits.maxQueued, why: 'persistent session queue full; message not queued for it' }));
    aedes.on('unsubscribe', (unsubscriptions, client) => {
      const held = this.filters.get(client);
      for (const f of unsubscriptions) held?.delete(f);
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
    const onError = (client: Client, err: Error) => {
      // aedes' own bounds (limits.maxInflight; its queue before CONNECT completes) end the connection.
      // Once per client: its pending packets fail with the same error as it goes.
      if (/maxInflightInbound exceeded|queue limit reached/i.test(err.message) && !this.overflowed.has(client)) {
        this.overflowed.add(client);
        this.refuse('inflight', { clientId: client.id, user: this.users.get(client), limit: limits.maxInflight, why: err.message });
      }
      this.log.debug({ clientId: client.id, err: err.message }, 'mqtt client error');
    };
    aedes.on('clientError', onError);
    aedes.on('connectionError', onError);
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
      const accept = (socket: net.Socket) => this.accept(aedes, socket);
      const server = tlsSettings === undefined
        ? net.createServer(accept)
        : tls.createServer(
          {
            cert: pem(tlsSettings.cert),
            key: pem(tlsSettings.key),
            ...(tlsSettings.ca === undefined ? {} : { ca: pem(tlsSettings.ca) }),
            requestCert: tlsSettings.requireClientCert,
            rejectUnauthorized: tlsSettings.requireClientCert,
          },
          accept,
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
      return this.admitUser(client, ANONYMOUS_USER, done);
    }
    const check = this.checkers.get(username);
    if (check === undefined) return refuse(4, 'unknown user');
    if (password === undefined) return refuse(4, 'no password');
    check(password).then(
      (ok) => {
        if (!ok) return refuse(4, 'wrong password');
        this.admitUser(client, username, done);
      },
      () => refuse(4, 'password check failed'),
    );
  }

  /** The user's share of limits.maxConnectionsPerUser, then CONNACK 0; or CONNACK 3 (server unavailable). */
  private admitUser(client: Client, user: string, done: (error: AuthenticateError | null, success: boolean | null) => void): void {
    const max = this.settings.limits.maxConnectionsPerUser;
    let mine = this.byUser.get(user);
    // A client taking over its own id replaces its old connection: that one does not count.
    const others = mine === undefined ? 0 : [...mine].filter((c) => c.id !== client.id).length;
    if (others >= max) {
      this.refuse('connectionsPerUser', { clientId: client.id, user, remote: remoteOf(client), limit: max });
      return done(Object.assign(new Error(`user ${user} has ${max} connections already`), { returnCode: 3 }) as AuthenticateError, null);
    }
    if (mine === undefined) this.byUser.set(user, (mine = new Set()));
    mine.add(client);
    (client.conn as net.Socket).once('close', () => {
      mine.delete(client);
      if (mine.size === 0 && this.byUser.get(user) === mine) this.byUser.delete(user);
    });
    this.users.set(client, user);
    if (client.clean) this.sessionUsers.delete(client.id);
    else this.sessionUsers.set(client.id, user);
    done(null, true);
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, done: (error?: Error | null) => void): void {
    const { topic } = packet;
    // A will published after its client is gone (client null) was never checked: refuse it.
    const user = client === null ? undefined : this.users.get(client);
    if (client !== null && user !== undefined && this.acl.canPublish(user, topic)) {
      const limits = this.settings.limits;
      let bucket = this.buckets.get(client);
      if (bucket === undefined) this.buckets.set(client, (bucket = new RateBucket(limits.maxPublishRate, Date.now())));
      if (!bucket.take(Date.now())) {
        // MQTT 3.1.1 cannot refuse one PUBLISH: the client is disconnected, as for the ACL.
        this.refuse('publishRate', { clientId: client.id, user, limit: limits.maxPublishRate, why: 'more PUBLISH packets a second than limits.maxPublishRate; client disconnected' });
        return done(new Error(`more than ${limits.maxPublishRate} PUBLISH a second`));
      }
      if (packet.retain && !this.retained.admit(topic, packet.payload.length)) {
        // Delivered, not kept: the reading still reaches the agent; the broker's memory stays bounded.
        packet.retain = false;
        this.refuse('retained', { clientId: client.id, user, topic, limit: limits.maxRetained, limitBytes: limits.maxRetainedBytes, why: 'retained store full; delivered but not retained' });
      }
      this.stats.retained = this.retained.count;
      this.stats.retainedBytes = this.retained.bytes;
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
    if (user !== undefined && this.acl.canSubscribe(user, sub.topic)) {
      let held = this.filters.get(client);
      if (held === undefined) this.filters.set(client, (held = new Set()));
      const max = this.settings.limits.maxSubscriptionsPerClient;
      if (!held.has(sub.topic) && held.size >= max) {
        this.refuse('subscriptions', { clientId: client.id, user, filter: sub.topic, limit: max });
        return done(null, null);
      }
      held.add(sub.topic);
      return done(null, sub);
    }
    this.stats.subscribeDenied += 1;
    this.stats.lastError = BrokerErrors.subscribeDenied;
    this.warnLimited('subscribe', { code: BrokerErrors.subscribeDenied, clientId: client.id, user, filter: sub.topic, subscribeDenied: this.stats.subscribeDenied }, 'subscription refused by the ACL');
    // null: SUBACK with 0x80 for this filter; the client stays connected.
    done(null, null);
  }

  /** A client that reads slower than it is sent to: past limits.maxQueuedBytes in its socket, it misses messages. */
  private authorizeForward(client: Client, packet: AedesPublishPacket): AedesPublishPacket | null {
    const waiting = (client.conn as Partial<net.Socket>).writableLength ?? 0;
    const max = this.settings.limits.maxQueuedBytes;
    if (waiting <= max) return packet;
    this.refuse('queued', { clientId: client.id, user: this.users.get(client), topic: packet.topic, waitingBytes: waiting, limitBytes: max, why: 'the client reads too slowly; message dropped for it' });
    return null;
  }

  /** A new socket: limits.maxConnections, then aedes, with the packet-size guard on what it reads. */
  private accept(aedes: Aedes, socket: net.Socket): void {
    const limits = this.settings.limits;
    socket.on('error', () => {}); // a reset before aedes has it must not be an uncaught error
    if (this.sockets.size >= limits.maxConnections) {
      // Refused before a byte is read (reading its CONNECT would be holding it): no client id or user yet.
      this.refuse('connections', { remote: socket.remoteAddress, limit: limits.maxConnections, why: 'closed before its CONNECT was read: client id and user not known' });
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    aedes.handle(socket);
    // After aedes.handle: its 'readable' listener keeps the socket paused, so 'data' fires inside
    // each read(), before aedes parses the chunk.
    const guard = new FrameGuard(limits.maxPacketSize, (announced) => {
      const client = (socket as net.Socket & { client?: Client }).client;
      this.refuse('packetTooLarge', { clientId: client?.id ?? undefined, user: client === undefined ? undefined : this.users.get(client), remote: socket.remoteAddress, announcedBytes: announced, limit: limits.maxPacketSize, why: 'connection closed before the packet was read' });
      socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => guard.push(chunk));
  }

  /** Counts a refusal of `broker.limits` and warns (rate-limited per kind) with who it was. */
  private refuse(kind: Refusal, obj: Record<string, unknown>): void {
    this.stats.refused[kind] += 1;
    this.stats.lastError = RefusalCodes[kind];
    this.warnLimited(`limit:${kind}`, { code: RefusalCodes[kind], limitOf: kind, ...obj, refused: this.stats.refused[kind] }, 'mqtt client held to broker.limits');
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
