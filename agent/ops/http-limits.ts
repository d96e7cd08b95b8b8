// Room agent/ops: the agent's face to a technician and systemd (HTTP, status, metrics, watchdog, notify, page); may import every room but commands, never agent.ts.
/**
 * The HTTP server's bounds against broken and hostile clients (`http.maxConnections`,
 * `maxHeaderSize`, `maxUrlLength`, `headersTimeout`, `requestTimeout`), and what they refused.
 *
 * A plain connection cap (node's `server.maxConnections`) would let a slowloris — many sockets,
 * each dribbling a header byte now and then — fill every slot and lock the technician's page
 * out until the headers timeout. Here, at the cap, a new connection closes the *oldest one
 * without a request in progress* (half-sent headers, or an idle keep-alive) instead: a slow
 * client keeps a slot only as long as nobody else needs it. Only when every slot is serving a
 * request is the new connection refused.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export interface HttpLimits {
  maxConnections: number;
  maxHeaderSize: number;
  maxUrlLength: number;
  headersTimeout: number;
  requestTimeout: number;
}

export const HTTP_LIMIT_DEFAULTS: HttpLimits = { maxConnections: 32, maxHeaderSize: 8192, maxUrlLength: 2048, headersTimeout: 10_000, requestTimeout: 30_000 };

/** Counted since start; /status `http`, /metrics `edge_http_refused_total{reason}`. */
export interface HttpStats {
  connections: number;
  refused: {
    /** Closed at the cap to make room: it had no request in progress (slow headers, idle keep-alive). */
    evicted: number;
    /** Refused at the cap: every slot was serving a request. */
    full: number;
    /** 431: request line and headers larger than maxHeaderSize. */
    headerTooLarge: number;
    /** 414: a request target longer than maxUrlLength. */
    urlTooLong: number;
    /** 408: headers or request not complete within headersTimeout / requestTimeout. */
    timeout: number;
    /** 400: not HTTP. */
    malformed: number;
  };
}

export function noHttpStats(): HttpStats {
  return { connections: 0, refused: { evicted: 0, full: 0, headerTooLarge: 0, urlTooLong: 0, timeout: 0, malformed: 0 } };
}

/** node:http's options for these limits (createServer's first argument). */
export function serverOptions(l: HttpLimits): { maxHeaderSize: number; requestTimeout: number; headersTimeout: number; connectionsCheckingInterval: number } {
  return {
    maxHeaderSize: l.maxHeaderSize,
    requestTimeout: l.requestTimeout,
    headersTimeout: l.headersTimeout,
    // node checks both timeouts on this interval (30 s by default): a 10 s headersTimeout would last up to 40 s.
    connectionsCheckingInterval: Math.max(250, Math.min(1000, Math.floor(l.headersTimeout / 4))),
  };
}

interface Slot {
  since: number;
  /** Requests in progress on this socket (0 while headers arrive, or between keep-alive requests). */
  busy: number;
  /** Whether it ever completed a request: an idle keep-alive socket of a real client goes after every slow one. */
  served: boolean;
}

/** Watches a server's sockets: the connection cap with eviction, and node's refusals counted. */
export class ConnectionGate {
  readonly stats = noHttpStats();
  private readonly slots = new Map<Socket, Slot>();
  private seq = 0;

  constructor(
    server: Server,
    private readonly limits: HttpLimits,
    private readonly onRefused: (reason: keyof HttpStats['refused'], detail: Record<string, unknown>) => void,
  ) {
    server.on('connection', (socket: Socket) => this.admit(socket));
    server.on('request', (req, res) => {
      const slot = this.slots.get(req.socket);
      if (slot === undefined) return;
      slot.busy += 1;
      res.once('close', () => {
        slot.busy = Math.max(0, slot.busy - 1);
        slot.served = true;
        slot.since = this.seq++; // idle from now: the newest idle socket goes last
      });
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.clientError(err, socket));
  }

  /** A URL too long for `maxUrlLength`: counted here, answered 414 by the caller. */
  urlTooLong(url: string, remote: string | undefined): boolean {
    if (url.length <= this.limits.maxUrlLength) return false;
    this.count('urlTooLong', { remote, length: url.length, limit: this.limits.maxUrlLength });
    return true;
  }

  private admit(socket: Socket): void {
    this.stats.connections += 1;
    if (this.slots.size >= this.limits.maxConnections) {
      const victim = this.oldestIdle();
      if (victim === undefined) {
        this.count('full', { remote: socket.remoteAddress, limit: this.limits.maxConnections });
        socket.destroy();
        return;
      }
      this.slots.delete(victim);
      this.count('evicted', { remote: victim.remoteAddress, limit: this.limits.maxConnections });
      victim.destroy();
    }
    this.slots.set(socket, { since: this.seq++, busy: 0, served: false });
    socket.once('close', () => this.slots.delete(socket));
  }

  /**
   * The socket to close for a newcomer: the oldest that never completed a request (slow headers),
   * else the oldest idle keep-alive one (closing it costs its client a reconnect, no failure).
   */
  private oldestIdle(): Socket | undefined {
    let found: Socket | undefined;
    let best: Slot | undefined;
    for (const [socket, slot] of this.slots) {
      if (slot.busy > 0) continue;
      const better = best === undefined || (best.served && !slot.served) || (best.served === slot.served && slot.since < best.since);
      if (better) {
        found = socket;
        best = slot;
      }
    }
    return found;
  }

  private clientError(err: NodeJS.ErrnoException, socket: Socket): void {
    const [status, reason] = err.code === 'HPE_HEADER_OVERFLOW'
      ? ([431, 'headerTooLarge'] as const)
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? ([408, 'timeout'] as const)
        : ([400, 'malformed'] as const);
    // A client that hangs up (a reset, or the end of its stream mid-request) is no refusal of ours.
    if (err.code !== 'ECONNRESET' && err.code !== 'HPE_INVALID_EOF_STATE') this.count(reason, { remote: socket.remoteAddress, errno: err.code });
    if (socket.writable && !socket.destroyed) {
      const text = { 431: 'Request Header Fields Too Large', 408: 'Request Timeout', 400: 'Bad Request' }[status];
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      // A client that does not read its answer does not keep the socket either.
      setTimeout(() => socket.destroy(), 1000).unref();
    } else socket.destroy();
  }

  private count(reason: keyof HttpStats['refused'], detail: Record<string, unknown>): void {
    this.stats.refused[reason] += 1;
    this.onRefused(reason, detail);
  }
}
