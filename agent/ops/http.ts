// Room agent/ops: the agent's face to a technician and systemd (HTTP, status, metrics, watchdog, notify, page); may import every room but commands, never agent.ts.
/**
 * The agent's HTTP face, on `http.host:http.port` (127.0.0.1:8080 by default): plain node:http.
 *
 *   GET /health   liveness: 200 while the poll and delivery loops make progress, else 503
 *   GET /ready    readiness: 200 once config is loaded, the buffer open and the drivers started
 *   GET /metrics  Prometheus text format
 *   GET /status   the live state as JSON (agent/ops/status.ts)
 *   GET /history  a point's trend from the local history (agent/ops/history.ts)
 *   GET /         the status page for technicians (agent/ops/static)
 *
 * With `http.token` set, /metrics, /status and /history need `Authorization: Bearer <token>`. The probes
 * and the page's files stay open: Docker's HEALTHCHECK, systemd and load balancers probe without
 * secrets, the probes answer with a status word only (details need the token), and the page
 * itself holds no data — it asks for the token before it fetches /status.
 *
 * A port that is taken (or an address that is not up yet at boot) does not stop the agent:
 * collecting data matters more than showing it. The failure is logged as an ERROR — a technician
 * reads it in `journalctl`, and /health not answering shows it too — and listening is retried
 * every `retryMs` until it works.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock } from '../clock.js';
import { answerHistory } from './history.js';
import { ConnectionGate, HTTP_LIMIT_DEFAULTS, serverOptions, type HttpLimits, type HttpStats } from './http-limits.js';
import { loadStaticFiles, type StaticFile } from './http-static.js';
import type { Logger } from '../logger.js';
import type { AgentMetrics } from './metrics.js';
import { StatusReader, type AgentStatus, type AgentView } from './status.js';
import { describeStalls, type ProgressMonitor } from './watchdog.js';

export interface HttpServerOptions {
  host: string;
  /** 0 picks a free port (tests); address() tells which. */
  port: number;
  /** Bearer token for /metrics and /status; empty: no authentication. */
  token: string;
  /** Bounds against broken and hostile clients (http-limits.ts); defaults as in the settings. */
  limits?: Partial<HttpLimits>;
  view: AgentView;
  monitor: ProgressMonitor;
  version: string;
  logger: Logger;
  clock?: Clock;
  /** After a failed listen, try again this often. Default 30 s. */
  retryMs?: number;
  /**
   * `run --demo` only: a port in use (a second demo on the box) moves the server to a free port,
   * logged with both, instead of retrying. A user's config never moves: ops scrape the port it names.
   */
  movable?: boolean;
  staticFiles?: Map<string, StaticFile>;
}

const PAGE_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export class HttpServer {
  private readonly opts: HttpServerOptions;
  private readonly server: Server;
  private readonly status: StatusReader;
  /** prom-client is loaded at the first scrape: a gateway nobody scrapes never pays for it. */
  private metrics: Promise<AgentMetrics> | undefined;
  private readonly files: Map<string, StaticFile>;
  private readonly tokenDigest: Buffer | undefined;
  private readonly gate: ConnectionGate;
  private readonly warnedAt = new Map<string, number>();
  private retryTimer: unknown;
  private failures = 0;
  private stopped = false;
  /** A movable server that found opts.port taken listens on a free port (0) instead. */
  private movedFrom: number | undefined;
  /** Settles the listen attempt in progress. */
  private attempt: ((err?: NodeJS.ErrnoException) => void) | undefined;

  constructor(opts: HttpServerOptions) {
    this.opts = opts;
    this.files = opts.staticFiles ?? this.loadFiles();
    this.tokenDigest = opts.token === '' ? undefined : digest(opts.token);
    this.status = new StatusReader({ view: opts.view, version: opts.version, progress: () => opts.monitor.latest });
    const limits: HttpLimits = { ...HTTP_LIMIT_DEFAULTS, ...opts.limits };
    this.server = createServer(serverOptions(limits), (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.opts.logger.error({ err, url: req.url }, 'http request failed');
        if (!res.headersSent) send(res, 500, json({ error: 'internal error', code: 'EDGE_HTTP_INTERNAL' }));
        else res.destroy();
      });
    });
    // One listener for the server's life: an error after listening (EMFILE on accept, …) must be
    // logged, not thrown as an uncaught exception that would take the agent down.
    this.server.on('error', (err: NodeJS.ErrnoException) => {
      const attempt = this.attempt;
      this.attempt = undefined;
      if (attempt !== undefined) attempt(err);
      else this.opts.logger.error({ err, code: 'EDGE_HTTP_SERVER' }, 'http server error');
    });
    this.server.on('listening', () => {
      const attempt = this.attempt;
      this.attempt = undefined;
      attempt?.();
    });
    // A phone on a flaky Wi-Fi, or a slowloris, must not hold sockets for long (http-limits.ts).
    this.gate = new ConnectionGate(this.server, limits, (reason, detail) => this.refused(reason, detail));
  }

  /** Connections and what the limits refused, since start. */
  get stats(): HttpStats {
    return this.gate.stats;
  }

  /** WARN at most once a minute per reason: a flood must not become a flood of log lines. */
  private refused(reason: string, detail: Record<string, unknown>): void {
    const now = Date.now();
    const last = this.warnedAt.get(reason);
    if (last !== undefined && now - last < 60_000) return;
    this.warnedAt.set(reason, now);
    this.opts.logger.warn({ code: 'EDGE_HTTP_LIMIT', reason, ...detail, refused: this.gate.stats.refused }, 'http client held to the http limits');
  }

  /** A package without the page's files still serves the API (and says what is missing). */
  private loadFiles(): Map<string, StaticFile> {
    try {
      return loadStaticFiles();
    } catch (err) {
      this.opts.logger.error({ err, code: 'EDGE_HTTP_NO_PAGE' }, 'status page files missing (agent/ops/static); serving the API only');
      return new Map();
    }
  }

  /** Where it listens, once it does. */
  address(): { host: string; port: number } | undefined {
    const a = this.server.address() as AddressInfo | null;
    return a === null ? undefined : { host: a.address, port: a.port };
  }

  /** Tries to listen once; on failure logs and keeps retrying in the background. Never rejects. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.listen();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer !== undefined) (this.opts.clock ?? systemClock).clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Keep-alive connections (a page refreshing every few seconds) would hold close() open.
    this.server.closeAllConnections();
    await closed;
  }

  private listen(): Promise<void> {
    const { host, logger } = this.opts;
    const port = this.movedFrom === undefined ? this.opts.port : 0;
    return new Promise((resolve) => {
      const onError = (err: NodeJS.ErrnoException) => {
        if (this.opts.movable === true && err.code === 'EADDRINUSE' && port !== 0 && !this.stopped) {
          this.movedFrom = port;
          void this.listen().then(resolve);
          return;
        }
        this.failures += 1;
        const retryMs = this.opts.retryMs ?? 30_000;
        if (this.failures === 1 || this.failures % 10 === 0) {
          logger.error(
            { code: 'EDGE_HTTP_LISTEN_FAILED', host, port, errno: err.code, failures: this.failures, retryInMs: retryMs },
            `cannot listen on ${host}:${port} (${err.code === 'EADDRINUSE' ? 'port in use' : (err.code ?? err.message)}): no status page, /health or /metrics until it can; retrying`,
          );
        }
        if (!this.stopped) {
          this.retryTimer = (this.opts.clock ?? systemClock).setTimeout(() => {
            this.retryTimer = undefined;
            if (!this.stopped) void this.listen();
          }, retryMs);
        }
        resolve();
      };
      const onListening = () => {
        const a = this.address();
        if (this.failures > 0) logger.info({ afterFailures: this.failures }, 'http listening after all');
        this.failures = 0;
        if (this.movedFrom !== undefined) {
          logger.warn(
            { host: a?.host, configuredPort: this.movedFrom, port: a?.port },
            `http port ${this.movedFrom} is in use (another demo?): the status page, /health and /metrics listen on ${a?.port} instead`,
          );
        }
        logger.info({ host: a?.host, port: a?.port, auth: this.tokenDigest !== undefined }, 'http listening');
        resolve();
      };
      this.attempt = (err) => (err === undefined ? onListening() : onError(err));
      this.server.listen({ host, port });
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.gate.urlTooLong(req.url ?? '', req.socket.remoteAddress)) {
      send(res, 414, json({ error: 'URL too long (http.maxUrlLength)', code: 'EDGE_HTTP_URL_TOO_LONG' }), { Connection: 'close' });
      return;
    }
    const path = new URL(req.url ?? '/', 'http://agent').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, json({ error: 'method not allowed', code: 'EDGE_HTTP_METHOD' }), { Allow: 'GET, HEAD' });
      return;
    }
    const authorized = this.authorized(req);
    switch (path) {
      case '/health': {
        const verdict = this.opts.monitor.check();
        const body = verdict.ok
          ? { status: 'ok' }
          : { status: 'stalled', ...(authorized ? { stalled: verdict.stalled, detail: describeStalls(verdict.stalled) } : {}) };
        send(res, verdict.ok ? 200 : 503, json(body));
        return;
      }
      case '/ready': {
        const checks = { config: true, buffer: this.opts.view.bufferStats() !== undefined, drivers: this.opts.view.phase === 'running' };
        const ready = checks.config && checks.buffer && checks.drivers;
        send(res, ready ? 200 : 503, json({ ready, ...(authorized ? { checks } : {}) }));
        return;
      }
      case '/metrics': {
        if (!authorized) return this.unauthorized(res);
        this.metrics ??= import('./metrics.js').then(({ AgentMetrics }) => new AgentMetrics());
        const metrics = await this.metrics;
        send(res, 200, await metrics.render(this.snapshot()), { 'Content-Type': metrics.contentType });
        return;
      }
      case '/status':
        if (!authorized) return this.unauthorized(res);
        send(res, 200, json(this.snapshot()));
        return;
      case '/history': {
        if (!authorized) return this.unauthorized(res);
        const { view } = this.opts;
        const answer = answerHistory(new URL(req.url ?? '/', 'http://agent').searchParams, view.config, view.history, (this.opts.clock ?? systemClock).now());
        send(res, answer.status, json(answer.body));
        return;
      }
    }
    const file = this.files.get(path === '/index.html' ? '/' : path);
    if (file === undefined) {
      send(res, 404, json({ error: 'not found', code: 'EDGE_HTTP_NOT_FOUND' }));
      return;
    }
    send(res, 200, file.body, {
      'Content-Type': file.contentType,
      'Cache-Control': 'no-cache',
      'Content-Security-Policy': PAGE_POLICY,
      'Referrer-Policy': 'no-referrer',
    });
  }

  private snapshot(): AgentStatus {
    return { ...this.status.read(), http: { connections: this.gate.stats.connections, refused: { ...this.gate.stats.refused } } };
  }

  private authorized(req: IncomingMessage): boolean {
    if (this.tokenDigest === undefined) return true;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    // Compare digests: equal length whatever was sent, and no early exit on the first differing byte.
    return m?.[1] !== undefined && timingSafeEqual(digest(m[1]), this.tokenDigest);
  }

  private unauthorized(res: ServerResponse): void {
    send(res, 401, json({ error: 'a bearer token is required (http.token)', code: 'EDGE_HTTP_UNAUTHORIZED' }), {
      'WWW-Authenticate': 'Bearer realm="edge-agent"',
    });
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

function json(body: unknown): string {
  return JSON.stringify(body);
}

function send(res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...headers,
    'Content-Length': String(Buffer.byteLength(body)),
  });
  res.end(body);
}
