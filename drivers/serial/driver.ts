/**
 * Serial line devices: a bedside monitor, a weather station, a scale — anything that prints
 * text lines on a serial port. Two kinds:
 *
 * - streaming (no `command`): the device prints lines by itself; every line is parsed and its
 *   fields become readings, pushed to `onReadings`. A field a line does not carry gives no
 *   reading (devices often alternate line kinds); a line that gives none of the device's fields
 *   is garbage: counted, logged (rate-limited), dropped.
 * - polled (`command` and `every`/`cron`): each `read` writes the command and waits for the
 *   first line that parses, within `connection.timeout`; every point gets a reading, bad ones
 *   carrying a code.
 *
 * The port is opened once and reopened after it disappears (a USB adapter unplugged), with a
 * growing delay. Nothing a device sends or fails to send is ever thrown at the agent.
 */
import { SerialPort } from 'serialport';
import type { SerialDevice, SerialPoint } from '../../config/types.js';
import { silentLogger, systemClock, type DriverClock, type DriverLogger } from '../modbus/deps.js';
import { RateLimitedLog } from '../rate-limit.js';
import { RetryDelay } from '../retry.js';
import { DeviceTimestamps } from '../timestamps.js';
import { DeviceErrors, type PolledDriver, type PushDriver, type Reading } from '../types.js';
import { coerceValue, ValueErrors } from '../values.js';
import { LineSplitter } from './line-splitter.js';
import { lineParser, type LineFields, type LineParser } from './parse.js';

export const SerialErrors = {
  ...DeviceErrors,
  ...ValueErrors,
  /** Polled: lines came back, but none gave any of the device's fields. */
  unparsed: 'EDGE_LINE_UNPARSED',
  /** Polled: the reply parsed, but without this point's field. */
  fieldMissing: 'EDGE_LINE_FIELD_MISSING',
} as const;

export interface SerialStats {
  open: boolean;
  opens: number;
  openFailures: number;
  lines: number;
  /** Lines that gave none of the device's fields, plus overlong ones. */
  garbageLines: number;
  overlongLines: number;
  /** Polled devices: lines that arrived while no poll was waiting. */
  unsolicitedLines: number;
  readings: number;
  badReadings: number;
  lastLineAt: number | null;
  lastError: string | null;
}

/** What `onLine` sees: every line, and what became of it (for `probe serial`). */
export interface LineEvent {
  ts: number;
  line: string;
  fields: LineFields | undefined;
  /** Undefined when the line is garbage. */
  readings: Reading[] | undefined;
}

export interface SerialLineDriverOptions {
  device: SerialDevice;
  clock?: DriverClock;
  logger?: DriverLogger;
  /** Delays between reopen attempts (default 1 s doubling to 60 s, with jitter). */
  reopen?: { initialMs: number; maxMs: number };
}

type PointLike = Pick<SerialPoint, 'id' | 'field' | 'type'>;

export class SerialLineDriver implements PushDriver, PolledDriver<PointLike> {
  readonly stats: SerialStats = {
    open: false, opens: 0, openFailures: 0, lines: 0, garbageLines: 0, overlongLines: 0, unsolicitedLines: 0,
    readings: 0, badReadings: 0, lastLineAt: null, lastError: null,
  };
  private readonly device: SerialDevice;
  private readonly clock: DriverClock;
  private readonly log: DriverLogger;
  private readonly splitter: LineSplitter;
  private readonly parse: LineParser;
  private readonly retry: RetryDelay;
  private readonly stamps = new DeviceTimestamps();
  private readonly garbageLog: RateLimitedLog;
  private readonly openLog: RateLimitedLog;
  private readonly readingListeners: Array<(readings: Reading[]) => void> = [];
  private readonly lineListeners: Array<(event: LineEvent) => void> = [];
  private state: 'idle' | 'running' | 'stopped' = 'idle';
  private port: SerialPort | undefined;
  private reopenTimer: unknown;
  private lastOpenError: string | undefined;
  /** The poll waiting for its reply, if any. */
  private waiter: { onLine: (line: string) => void; fail: (code: string, detail: string) => void } | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closing: Promise<void> = Promise.resolve();

  constructor(opts: SerialLineDriverOptions) {
    this.device = opts.device;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentLogger;
    const c = this.device.connection;
    this.splitter = new LineSplitter(c.delimiter, c.maxLineLength, c.encoding);
    this.parse = lineParser(this.device.parse);
    this.retry = new RetryDelay(opts.reopen?.initialMs ?? 1000, opts.reopen?.maxMs ?? 60_000);
    this.garbageLog = new RateLimitedLog(this.log, this.clock);
    this.openLog = new RateLimitedLog(this.log, this.clock);
  }

  get polled(): boolean {
    return this.device.command !== undefined;
  }

  onReadings(cb: (readings: Reading[]) => void): void {
    this.readingListeners.push(cb);
  }

  /** Every line as it arrives, parsed or not (for `probe serial`). */
  onLine(cb: (event: LineEvent) => void): void {
    this.lineListeners.push(cb);
  }

  /** Opens the port once; a port that cannot be opened is logged and retried, never thrown. */
  async start(): Promise<void> {
    if (this.state === 'running') return;
    this.state = 'running';
    await this.open();
  }

  /** Closes the port; a poll waiting for its reply ends with EDGE_DEVICE_ABORTED. Idempotent. */
  async stop(): Promise<void> {
    if (this.state !== 'running') return this.closing;
    this.state = 'stopped';
    if (this.reopenTimer !== undefined) this.clock.clearTimeout(this.reopenTimer);
    this.reopenTimer = undefined;
    this.waiter?.fail(SerialErrors.aborted, 'driver stopped');
    const port = this.port;
    this.port = undefined;
    this.stats.open = false;
    this.closing = port?.isOpen === true ? new Promise<void>((resolve) => port.close(() => resolve())) : Promise.resolve();
    await this.closing;
    await this.queue;
  }

  /** Writes raw text to the device (`probe serial --command`); false when the port is not open. */
  write(text: string): Promise<boolean> {
    const port = this.port;
    if (port === undefined) return Promise.resolve(false);
    return new Promise((resolve) => port.write(Buffer.from(text, this.device.connection.encoding), (err) => resolve(err === null || err === undefined)));
  }

  /** Polled devices: write the command, read the reply. Never rejects. */
  read(points: readonly PointLike[], signal: AbortSignal): Promise<Reading[]> {
    const run = this.queue.then(() => this.poll(points, signal));
    this.queue = run.catch(() => undefined);
    return run
      .catch((err: unknown) => {
        this.log.error({ err }, 'serial poll failed unexpectedly');
        return this.allBad(points, SerialErrors.protocol, String(err));
      })
      .then((readings) => {
        this.count(readings);
        return readings;
      });
  }

  private open(): Promise<void> {
    const c = this.device.connection;
    return new Promise<void>((resolve) => {
      let port: SerialPort;
      try {
        port = new SerialPort({ path: c.path, baudRate: c.baudRate, dataBits: c.dataBits, parity: c.parity, stopBits: c.stopBits, autoOpen: false });
      } catch (err) {
        this.openFailed(err);
        resolve();
        return;
      }
      port.on('data', (chunk: Buffer) => this.onData(chunk));
      // Errors also surface through open/write callbacks and 'close'; this only keeps them from being unhandled.
      port.on('error', (err: Error) => this.log.debug({ err: err.message }, 'serial port error'));
      port.on('close', (err?: Error | null) => this.onClose(port, err ?? undefined));
      port.open((err) => {
        if (this.state !== 'running') {
          if (err === null) port.close();
          resolve();
          return;
        }
        if (err !== null) {
          this.openFailed(err);
          resolve();
          return;
        }
        const after = this.retry.failures;
        this.retry.reset();
        this.port = port;
        this.stats.open = true;
        this.stats.opens += 1;
        this.splitter.reset();
        this.log.info({ path: c.path, baudRate: c.baudRate, ...(after > 0 ? { afterFailures: after } : {}) }, 'serial port open');
        resolve();
      });
    });
  }

  private openFailed(err: unknown): void {
    this.stats.openFailures += 1;
    this.lastOpenError = errorText(err);
    this.stats.lastError = SerialErrors.unreachable;
    const delay = this.scheduleReopen();
    this.openLog.warn({ path: this.device.connection.path, code: SerialErrors.unreachable, detail: this.lastOpenError, retryInMs: delay }, 'cannot open serial port; retrying');
  }

  private onClose(port: SerialPort, err: Error | undefined): void {
    if (port !== this.port) return;
    this.port = undefined;
    this.stats.open = false;
    if (this.state !== 'running') return;
    this.lastOpenError = err === undefined ? 'port closed' : errorText(err);
    this.stats.lastError = SerialErrors.unreachable;
    this.waiter?.fail(SerialErrors.unreachable, this.lastOpenError);
    const delay = this.scheduleReopen();
    this.log.warn({ path: this.device.connection.path, code: SerialErrors.unreachable, detail: this.lastOpenError, retryInMs: delay }, 'serial port closed (unplugged?); reopening');
  }

  private scheduleReopen(): number {
    const delay = this.retry.next();
    if (this.reopenTimer !== undefined) this.clock.clearTimeout(this.reopenTimer);
    this.reopenTimer = this.clock.setTimeout(() => {
      this.reopenTimer = undefined;
      if (this.state === 'running') void this.open();
    }, delay);
    return delay;
  }

  private onData(chunk: Buffer): void {
    const { lines, overlong } = this.splitter.push(chunk);
    if (overlong > 0) {
      this.stats.overlongLines += overlong;
      this.stats.garbageLines += overlong;
      this.garbageLog.warn(
        { code: SerialErrors.unparsed, garbageLines: this.stats.garbageLines, maxLineLength: this.device.connection.maxLineLength },
        'line longer than maxLineLength thrown away (wrong baudRate or delimiter?)',
      );
    }
    for (const line of lines) this.onLineText(line);
  }

  private onLineText(line: string): void {
    // Lines read in one chunk share a clock reading; each must keep its own timestamp.
    const ts = this.stamps.next(this.clock.now());
    this.stats.lines += 1;
    this.stats.lastLineAt = ts;
    if (this.polled) {
      if (this.waiter !== undefined) this.waiter.onLine(line);
      else {
        this.stats.unsolicitedLines += 1;
        this.log.debug({ line: clip(line) }, 'line while no poll was waiting; ignored');
        this.notifyLine({ ts, line, fields: this.parse(line), readings: undefined });
      }
      return;
    }
    const fields = this.parse(line);
    const readings = this.readingsFrom(fields, this.device.points, false, ts);
    this.notifyLine({ ts, line, fields, readings });
    if (readings === undefined) {
      this.garbage(line);
      return;
    }
    this.count(readings);
    for (const listener of this.readingListeners) {
      try {
        listener(readings);
      } catch (err) {
        this.log.error({ err }, 'reading listener failed');
      }
    }
  }

  private poll(points: readonly PointLike[], signal: AbortSignal): Promise<Reading[]> {
    const { command } = this.device;
    const { timeout, encoding } = this.device.connection;
    if (signal.aborted || this.state !== 'running') return Promise.resolve(this.allBad(points, SerialErrors.aborted, 'poll aborted'));
    if (command === undefined) return Promise.resolve(this.allBad(points, SerialErrors.protocol, 'a streaming device has no command to poll with'));
    const port = this.port;
    if (port === undefined) return Promise.resolve(this.allBad(points, SerialErrors.unreachable, this.lastOpenError ?? 'port not open'));
    // A fragment of an earlier line must not be glued to the reply.
    this.splitter.reset();
    return new Promise<Reading[]>((resolve) => {
      let garbage = 0;
      let settled = false;
      const finish = (readings: Reading[]): void => {
        if (settled) return;
        settled = true;
        this.clock.clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (this.waiter === waiter) this.waiter = undefined;
        resolve(readings);
      };
      const fail = (code: string, detail: string): void => finish(this.allBad(points, code, detail));
      const waiter = {
        onLine: (line: string): void => {
          const ts = this.stamps.next(this.clock.now());
          const fields = this.parse(line);
          const readings = this.readingsFrom(fields, points, true, ts);
          this.notifyLine({ ts, line, fields, readings });
          if (readings === undefined) {
            // An echo of the command, a prompt, a banner: wait for the real reply.
            garbage += 1;
            this.garbage(line);
            return;
          }
          finish(readings);
        },
        fail,
      };
      const onAbort = (): void => fail(SerialErrors.aborted, 'poll aborted');
      const timer = this.clock.setTimeout(() => {
        if (garbage > 0) fail(SerialErrors.unparsed, `${garbage} line(s) within ${timeout}ms, none with the device's fields`);
        else fail(SerialErrors.timeout, `no reply within ${timeout}ms to ${JSON.stringify(command)}`);
      }, timeout);
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiter = waiter;
      port.write(Buffer.from(command, encoding), (err) => {
        if (err !== null && err !== undefined) fail(SerialErrors.unreachable, `write failed: ${errorText(err)}`);
      });
    });
  }

  /**
   * The readings a line gives, or undefined when it gives none (garbage). Streaming: a field the
   * line lacks gives no reading. Polled: every point gets one.
   */
  private readingsFrom(fields: LineFields | undefined, points: readonly PointLike[], polled: boolean, ts: number): Reading[] | undefined {
    if (fields === undefined) return undefined;
    const readings: Reading[] = [];
    let found = 0;
    for (const p of points) {
      const text = fields.get(p.field);
      if (text === undefined) {
        if (polled) readings.push({ pointId: p.id, ts, raw: null, quality: 'bad', error: SerialErrors.fieldMissing, detail: `no field ${JSON.stringify(p.field)} in the reply` });
        continue;
      }
      found += 1;
      const value = coerceValue(text, p.type);
      readings.push(value.ok ? { pointId: p.id, ts, raw: value.value, quality: 'good' } : { pointId: p.id, ts, raw: null, quality: 'bad', error: value.error, detail: value.detail });
    }
    return found === 0 ? undefined : readings;
  }

  private garbage(line: string): void {
    this.stats.garbageLines += 1;
    this.garbageLog.warn({ code: SerialErrors.unparsed, line: clip(line), garbageLines: this.stats.garbageLines }, 'line gives none of the device\'s fields; ignored');
  }

  private count(readings: readonly Reading[]): void {
    this.stats.readings += readings.length;
    const bad = readings.filter((r) => r.quality === 'bad');
    this.stats.badReadings += bad.length;
    if (bad.length > 0) this.stats.lastError = bad[0]?.error ?? null;
  }

  private notifyLine(event: LineEvent): void {
    for (const listener of this.lineListeners) listener(event);
  }

  private allBad(points: readonly PointLike[], code: string, detail: string): Reading[] {
    const ts = this.clock.now();
    return points.map((p) => ({ pointId: p.id, ts, raw: null, quality: 'bad', error: code, detail }));
  }
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code !== undefined && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

function clip(line: string): string {
  return line.length > 120 ? `${line.slice(0, 120)}…` : line;
}
