/**
 * One Modbus RTU bus: one link (a serial port, or a TCP socket to a serial device server), the
 * slaves behind it, and one queue in front of it. Every device on the link sends through here, so
 * exactly one request is on the wire at a time and the line is quiet for the inter-frame silence
 * before each one.
 *
 * Why not modbus-serial's RTU ports: they keep the bytes of a late answer in their buffer for the
 * next request, they enforce no silence, ModbusRTU.destroy() leaves a serial port open, and the
 * client can get stuck after errors (#92, #547). Here each request starts from an empty receive
 * buffer, waits for the line to be quiet, and finds its own answer by unit, function and CRC.
 *
 * Failures are kept apart: a slave that does not answer costs its own timeout and nothing else
 * (the link stays open; the driver backs that slave off). A link that fails (port missing,
 * unplugged adapter, refused connection) is closed and reopened with back-off, and meanwhile
 * every request is answered at once without touching the wire.
 */
import { BusQueue, QueueAbortedError, QueueFullError, type Priority } from '../bus/queue.js';
import { ReconnectBackoff, type BackoffOptions } from './backoff.js';
import { silentLogger, systemClock, type DriverClock, type DriverLogger } from './deps.js';
import { BusQueueFullError, ConnectionLostError, DeadlineError, LinkBackoffError, LinkError, ModbusExceptionError, ProtocolError, RequestAbortedError } from './errors.js';
import { createLink, describeLink, type ByteLink, type LinkSettings } from './link.js';
import type { ReadRequest } from './plan.js';
import type { RequestResult } from './read-cycle.js';
import { charTimeMs, encodeReadRequest, encodeWriteRequest, interFrameMs, parseReadAnswer, parseWriteAnswer, responseLength, WRITE_ANSWER_BYTES, type WriteFunction } from './rtu-frame.js';

/** Requests that may wait for a bus, by default: one per device polls at a time, so this is plenty. */
export const DEFAULT_MAX_QUEUE = 64;

export interface ModbusBusOptions {
  link: LinkSettings;
  clock?: DriverClock;
  logger?: DriverLogger;
  /** Requests that may wait (the one on the wire not counted); more are refused. Default 64. */
  maxQueue?: number;
  /** Reopening a failed link: default 1 s doubling to 60 s, with jitter. */
  reopen?: BackoffOptions;
}

export interface BusRequest {
  unitId: number;
  request: Pick<ReadRequest, 'register' | 'address' | 'count'>;
  /** How long the slave may take to answer, on top of the time the bytes take on the wire. */
  timeoutMs: number;
  /** `low` waits until no `normal` request does (slaves that recently failed to answer). */
  priority?: Priority;
}

/** One write on the bus: the function, the first address and the registers or coils to write (wire order). */
export interface BusWrite {
  unitId: number;
  fc: WriteFunction;
  address: number;
  data: readonly number[] | readonly boolean[];
  timeoutMs: number;
}

/** What a session may send: reads and writes, one after the other, nobody else's in between. */
export interface BusSession {
  read(req: BusRequest): Promise<RequestResult>;
  write(req: BusWrite): Promise<void>;
}

export interface BusStats {
  /** Requests put on the wire. */
  sent: number;
  /** Requests that got no answer in time. */
  timeouts: number;
  /** Requests refused because the queue was full. */
  refused: number;
  /** Requests waiting now. */
  waiting: number;
  /** The most that ever waited at once. */
  maxWaiting: number;
  linkOpen: boolean;
}

export class ModbusBus {
  readonly description: string;
  private readonly settings: LinkSettings;
  private readonly clock: DriverClock;
  private readonly log: DriverLogger;
  private readonly queue: BusQueue;
  private readonly backoff: ReconnectBackoff;
  /** Silence before each frame, and the time one character takes (serial only: over TCP the device server keeps the timing). */
  private readonly silenceMs: number;
  private readonly charMs: number;
  private link: ByteLink | undefined;
  private retryAt = 0;
  private lastLinkError: Error | undefined;
  private rx: Buffer = Buffer.alloc(0);
  /** Epoch ms of the last byte sent or received: the line has been quiet since. */
  private quietSince = 0;
  /** Counts chunks received, so a wait can tell that the line was not quiet after all. */
  private heard = 0;
  /** The transaction on the wire, if any: told about bytes, a lost link, and close(). */
  private current: { onData(): void; fail(err: Error): void } | undefined;
  private closed = false;
  private sent = 0;
  private timeouts = 0;

  constructor(opts: ModbusBusOptions) {
    this.settings = opts.link;
    this.description = describeLink(opts.link);
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentLogger;
    this.queue = new BusQueue(opts.maxQueue ?? DEFAULT_MAX_QUEUE);
    this.backoff = new ReconnectBackoff(opts.reopen);
    const line = opts.link.kind === 'serial' ? opts.link : undefined;
    this.silenceMs = line ? interFrameMs(line) : 0;
    this.charMs = line ? charTimeMs(line) : 0;
  }

  get stats(): BusStats {
    return {
      sent: this.sent,
      timeouts: this.timeouts,
      refused: this.queue.stats.refused,
      waiting: this.queue.pending,
      maxWaiting: this.queue.stats.maxSeen,
      linkOpen: this.link !== undefined,
    };
  }

  /**
   * Sends one read and resolves with its answer. Rejects with ModbusExceptionError (the slave
   * answered with an exception), DeadlineError (no answer in time), ProtocolError (garbled
   * answer), LinkError / LinkBackoffError (the link is down), BusQueueFullError (refused),
   * RequestAbortedError or ConnectionLostError (the bus closed).
   */
  read(req: BusRequest, signal: AbortSignal): Promise<RequestResult> {
    return this.session((s) => s.read(req), { priority: req.priority ?? 'normal', signal });
  }

  /**
   * Runs `fn` with the bus to itself: requests sent through the session go out one after the
   * other with no other slave's frame in between (a read-modify-write of one bit of a register,
   * a write and its previous value). Rejects like `read`.
   */
  session<T>(fn: (s: BusSession) => Promise<T>, opts: { priority?: Priority; signal: AbortSignal }): Promise<T> {
    const { signal } = opts;
    const s: BusSession = {
      read: (req) => {
        const { unitId, request } = req;
        const frame = encodeReadRequest(unitId, request.register, request.address, request.count);
        return this.transact(req, frame, responseLength(request.register, request.count), (rx) => parseReadAnswer(rx, { unitId, register: request.register, count: request.count }), signal);
      },
      write: async (req) => {
        const frame = encodeWriteRequest(req.unitId, req.fc, req.address, req.data);
        await this.transact(req, frame, WRITE_ANSWER_BYTES, (rx) => {
          const a = parseWriteAnswer(rx, frame);
          return a.status === 'ok' ? { status: 'ok', result: undefined } : a;
        }, signal);
      },
    };
    return this.queue.run(() => fn(s), { priority: opts.priority ?? 'normal', signal }).catch((err: unknown) => {
      if (err instanceof QueueFullError) {
        if (this.queue.stats.refused === 1 || this.queue.stats.refused % 100 === 0) {
          this.log.warn({ bus: this.description, refused: this.queue.stats.refused, maxQueue: this.queue.maxWaiting }, 'modbus bus queue full; requests refused');
        }
        throw new BusQueueFullError(`bus ${this.description}: ${err.message}`);
      }
      if (err instanceof QueueAbortedError) throw new RequestAbortedError(err.message);
      throw err;
    });
  }

  /** Opens the link now if it can (at start, so a missing port is logged early). Never throws. */
  async warmUp(): Promise<void> {
    await this.queue
      .run(async () => {
        if (!this.closed && this.link === undefined && this.retryAt <= this.clock.now()) await this.ensureLink();
      })
      .catch(() => undefined);
  }

  /** Fails what waits and what is on the wire, and closes the link. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new ConnectionLostError(`bus ${this.description} closed`);
    this.queue.close(err);
    this.current?.fail(err);
    const link = this.link;
    this.link = undefined;
    await link?.close();
  }

  private async transact<R>(
    req: { unitId: number; timeoutMs: number },
    frame: Buffer,
    answerBytes: number,
    parse: (rx: Buffer) => { status: 'incomplete' } | { status: 'ok'; result: R } | { status: 'exception'; code: number } | { status: 'garbled'; detail: string },
    signal: AbortSignal,
  ): Promise<R> {
    if (this.closed) throw new ConnectionLostError(`bus ${this.description} closed`);
    if (signal.aborted) throw new RequestAbortedError('aborted before the request was sent');
    const link = await this.ensureLink();
    await this.quiet(signal);
    // The link may have failed (or the bus closed) while the line settled.
    if (this.link !== link) throw this.closed ? new ConnectionLostError(`bus ${this.description} closed`) : new LinkError(`${this.description} was lost`);
    const { unitId, timeoutMs } = req;
    // The answer's own bytes take time on a slow line: a timeout means the slave's think time.
    const wireMs = Math.ceil((frame.length + answerBytes) * this.charMs);
    this.rx = Buffer.alloc(0);
    return new Promise<R>((resolve, reject) => {
      const settle = (fn: () => void) => {
        if (this.current !== txn) return;
        this.current = undefined;
        this.clock.clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.quietSince = this.clock.now();
        fn();
      };
      const txn = {
        onData: () => {
          const answer = parse(this.rx);
          if (answer.status === 'ok') settle(() => resolve(answer.result));
          else if (answer.status === 'exception') settle(() => reject(new ModbusExceptionError(answer.code)));
          else if (answer.status === 'garbled') settle(() => reject(new ProtocolError(`${answer.detail} in the answer of unit ${unitId}`)));
        },
        fail: (err: Error) => settle(() => reject(err)),
      };
      const onAbort = () => txn.fail(new RequestAbortedError('aborted while waiting for the slave'));
      const timer = this.clock.setTimeout(() => {
        this.timeouts += 1;
        txn.fail(new DeadlineError(`no answer from unit ${unitId} within ${timeoutMs} ms`));
      }, timeoutMs + wireMs);
      this.current = txn;
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.sent += 1;
      link.write(frame).catch((err: unknown) => {
        const e = err instanceof Error ? err : new LinkError(String(err));
        this.linkLost(link, e);
      });
    });
  }

  /** The open link, or a new one; a link that failed recently is not retried before its time. */
  private async ensureLink(): Promise<ByteLink> {
    if (this.link !== undefined) return this.link;
    const wait = this.retryAt - this.clock.now();
    if (wait > 0) {
      throw new LinkBackoffError(`${this.description} is reopened in ${wait} ms (after: ${this.lastLinkError?.message ?? 'a failure'})`);
    }
    const link: ByteLink = createLink(this.settings, {
      data: (chunk) => {
        if (this.link !== link) return;
        // Between requests nobody reads these bytes (a late answer, noise): keep them bounded.
        if (this.current === undefined && this.rx.length > 1024) this.rx = Buffer.alloc(0);
        this.rx = this.rx.length === 0 ? chunk : Buffer.concat([this.rx, chunk]);
        this.quietSince = this.clock.now();
        this.heard += 1;
        this.current?.onData();
      },
      lost: (err) => this.linkLost(link, err),
    });
    try {
      await link.open();
    } catch (err) {
      await link.close();
      const e = err instanceof Error ? err : new LinkError(String(err));
      this.linkFailed(e);
      throw e;
    }
    if (this.closed) {
      await link.close();
      throw new ConnectionLostError(`bus ${this.description} closed`);
    }
    this.link = link;
    this.quietSince = this.clock.now();
    if (this.backoff.failures > 0) this.log.info({ bus: this.description, failures: this.backoff.failures }, 'modbus bus link open again');
    else this.log.debug({ bus: this.description }, 'modbus bus link open');
    this.backoff.reset();
    this.lastLinkError = undefined;
    return link;
  }

  /** The link failed under us: close it, fail what is on the wire, reopen later. */
  private linkLost(link: ByteLink, err: Error): void {
    if (this.link !== link) return;
    this.link = undefined;
    void link.close();
    const busy = this.current !== undefined;
    this.current?.fail(err instanceof LinkError ? err : new LinkError(err.message));
    // Lost in the middle of a request: the link is unwell, wait before reopening. Lost while
    // idle (a device server dropping an idle socket): reopen at the next request.
    if (busy) this.linkFailed(err);
    else this.log.debug({ bus: this.description, err: err.message }, 'modbus bus link closed while idle');
  }

  private linkFailed(err: Error): void {
    const delay = this.backoff.next();
    this.retryAt = this.clock.now() + delay;
    const changed = this.lastLinkError?.message !== err.message;
    this.lastLinkError = err;
    const fields = { bus: this.description, err: err.message, failures: this.backoff.failures, retryInMs: delay };
    if (this.backoff.failures === 1 || changed) this.log.warn(fields, 'modbus bus link failed; reopening with back-off');
    else this.log.debug(fields, 'modbus bus link still failing');
  }

  /** Waits until the line has been quiet for the inter-frame silence (bytes arriving restart it). */
  private async quiet(signal: AbortSignal): Promise<void> {
    if (this.silenceMs === 0) return;
    for (;;) {
      const heard = this.heard;
      const wait = this.quietSince + this.silenceMs - this.clock.now();
      if (wait <= 0) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
        const timer = this.clock.setTimeout(done, Math.ceil(wait));
        const onAbort = () => {
          this.clock.clearTimeout(timer);
          done();
        };
        signal.addEventListener('abort', onAbort, { once: true });
      });
      if (signal.aborted) throw new RequestAbortedError('aborted before the request was sent');
      // Nothing arrived while waiting: the line was quiet all along. Else wait again from the last byte.
      if (this.heard === heard) return;
    }
  }
}
