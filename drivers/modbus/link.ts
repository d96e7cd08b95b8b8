/**
 * The byte pipe under an RTU bus: a serial port, or a TCP socket to a serial device server.
 * A link is opened once and used until it fails; then the bus throws it away and opens a new one
 * (a port that reported an error is not trusted again, the same lesson as modbus-serial #92/#547).
 */
import net from 'node:net';
import { SerialPort } from 'serialport';
import { LinkError } from './errors.js';

export interface ByteLink {
  /** For logs: `/dev/ttyUSB0` or `10.0.0.7:4001`. */
  readonly description: string;
  /** Rejects with a LinkError. */
  open(): Promise<void>;
  /** Resolves once the bytes are handed to the OS (and, on a serial port, transmitted). */
  write(data: Buffer): Promise<void>;
  /** Closes at once. Idempotent. */
  close(): Promise<void>;
}

export interface LinkEvents {
  data(chunk: Buffer): void;
  /** The link failed or closed by itself (not after close()). */
  lost(err: Error): void;
}

export type LinkSettings =
  | { kind: 'serial'; path: string; baudRate: number; parity: 'none' | 'even' | 'odd'; dataBits: 8; stopBits: 1 | 2 }
  | { kind: 'tcp'; host: string; port: number; connectTimeoutMs: number };

export function describeLink(s: LinkSettings): string {
  return s.kind === 'serial' ? s.path : `${s.host}:${s.port}`;
}

export function createLink(settings: LinkSettings, events: LinkEvents): ByteLink {
  return settings.kind === 'serial' ? new SerialLink(settings, events) : new TcpLink(settings, events);
}

function linkError(err: unknown, what: string): LinkError {
  const e = err as { message?: unknown; code?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const code = typeof e?.code === 'string' ? e.code : undefined;
  return new LinkError(`${what}: ${message}`, code);
}

class SerialLink implements ByteLink {
  readonly description: string;
  private readonly port: SerialPort;
  private closing = false;

  constructor(
    settings: Extract<LinkSettings, { kind: 'serial' }>,
    private readonly events: LinkEvents,
  ) {
    this.description = settings.path;
    this.port = new SerialPort({
      path: settings.path,
      baudRate: settings.baudRate,
      parity: settings.parity,
      dataBits: settings.dataBits,
      stopBits: settings.stopBits,
      autoOpen: false,
    });
    this.port.on('data', (chunk: Buffer) => events.data(chunk));
    // An unplugged USB adapter closes the port with an error; an unheard 'error' would crash.
    this.port.on('error', (err: Error) => this.lost(linkError(err, `serial port ${this.description}`)));
    this.port.on('close', (err: Error | null) => this.lost(err ? linkError(err, `serial port ${this.description}`) : new LinkError(`serial port ${this.description} closed`)));
  }

  private lost(err: Error): void {
    if (!this.closing) this.events.lost(err);
  }

  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.port.open((err) => (err ? reject(linkError(err, `cannot open serial port ${this.description}`)) : resolve()));
    });
  }

  write(data: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.port.write(data, (err) => {
        if (err) return reject(linkError(err, `write to ${this.description}`));
        // drain: the answer's clock starts when the request has left, not when it was queued.
        this.port.drain((e) => (e ? reject(linkError(e, `write to ${this.description}`)) : resolve()));
      });
    });
  }

  close(): Promise<void> {
    this.closing = true;
    if (!this.port.isOpen) return Promise.resolve();
    return new Promise((resolve) => this.port.close(() => resolve()));
  }
}

class TcpLink implements ByteLink {
  readonly description: string;
  private readonly socket = new net.Socket();
  private closing = false;

  constructor(
    private readonly settings: Extract<LinkSettings, { kind: 'tcp' }>,
    private readonly events: LinkEvents,
  ) {
    this.description = `${settings.host}:${settings.port}`;
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => events.data(chunk));
  }

  open(): Promise<void> {
    const { host, port, connectTimeoutMs } = this.settings;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.socket.destroy();
        reject(new LinkError(`connect to ${this.description} timed out after ${connectTimeoutMs} ms`, 'ETIMEDOUT'));
      }, connectTimeoutMs);
      const onError = (err: Error) => {
        clearTimeout(timer);
        reject(linkError(err, `cannot connect to ${this.description}`));
      };
      this.socket.once('error', onError);
      this.socket.connect({ host, port }, () => {
        clearTimeout(timer);
        this.socket.off('error', onError);
        this.socket.setKeepAlive(true, 30_000);
        this.socket.on('error', (err) => this.lost(linkError(err, `connection to ${this.description}`)));
        this.socket.on('close', () => this.lost(new LinkError(`connection to ${this.description} closed by the peer`, 'ECONNRESET')));
        resolve();
      });
    });
  }

  private lost(err: Error): void {
    if (!this.closing) this.events.lost(err);
  }

  write(data: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.write(data, (err) => (err ? reject(linkError(err, `write to ${this.description}`)) : resolve()));
    });
  }

  close(): Promise<void> {
    this.closing = true;
    this.socket.destroy();
    return Promise.resolve();
  }
}
