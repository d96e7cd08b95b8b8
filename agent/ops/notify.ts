// Room agent/ops: the agent's face to a technician and systemd (HTTP, status, metrics, watchdog, notify, page); may import every room but commands, never agent.ts.
/**
 * Telling systemd how the agent is doing (sd_notify): READY=1, WATCHDOG=1, STOPPING=1, STATUS=….
 *
 * Why the `systemd-notify` helper and not a native binding: the notify socket is a unix datagram
 * socket, which Node cannot open by itself. The bindings on npm (`sd-notify` and the like) need
 * libsystemd's headers to compile and are then absent in Docker or on a box without them, so the
 * agent would need a fallback anyway. `systemd-notify` ships with systemd itself — wherever
 * NOTIFY_SOCKET is set, it is there — and it is systemd's own implementation of the protocol
 * (abstract sockets, credentials, all of it). It also waits, through a BARRIER=1 handshake
 * (systemd-notify(1); seen on Debian 12's 252), until the manager has read the message, so a
 * helper that exits at once cannot have its message dropped as coming from an unknown process. Messages from a child need `NotifyAccess=all` in the unit; `--pid=`
 * names the agent as the sender (as root that sets the credentials; otherwise systemd reads
 * `MAINPID=`, which is the main PID anyway). The price is one short process per message — a ping
 * every WatchdogSec/2, nothing on a Pi.
 */
import { execFile } from 'node:child_process';
import type { Logger } from '../logger.js';

/** `KEY=VALUE` assignments sent in one message, e.g. `{ READY: '1', STATUS: 'polling 3 devices' }`. */
export type NotifyState = Readonly<Record<string, string>>;

export interface Notifier {
  /** Sends one message. Never rejects: a message that could not be sent is logged. Messages keep their order. */
  notify(state: NotifyState): Promise<void>;
}

/** No service manager is listening (no NOTIFY_SOCKET: a terminal, Docker, tests). */
export const silentNotifier: Notifier = { notify: () => Promise.resolve() };

export interface SystemdNotifierOptions {
  /** NOTIFY_SOCKET as systemd set it (a path, or `@name` for an abstract socket). */
  socket: string;
  /** The agent's process id: `--pid=`. */
  pid: number;
  logger: Logger;
  /** The helper to run; default `systemd-notify` from PATH. */
  command?: string;
  /** A helper that takes longer is killed (the barrier wait is bounded by systemd-notify itself too). */
  timeoutMs?: number;
}

export class SystemdNotifier implements Notifier {
  private readonly opts: SystemdNotifierOptions;
  private queue: Promise<void> = Promise.resolve();
  private failures = 0;

  constructor(opts: SystemdNotifierOptions) {
    this.opts = opts;
  }

  notify(state: NotifyState): Promise<void> {
    const next = this.queue.then(() => this.send(state));
    this.queue = next;
    return next;
  }

  private send(state: NotifyState): Promise<void> {
    // One assignment per argument; a newline inside a value would start a new assignment.
    const args = [`--pid=${this.opts.pid}`, ...Object.entries(state).map(([k, v]) => `${k}=${v.replace(/[\r\n]+/g, ' ')}`)];
    const env = { ...process.env, NOTIFY_SOCKET: this.opts.socket };
    return new Promise((resolve) => {
      execFile(this.opts.command ?? 'systemd-notify', args, { env, timeout: this.opts.timeoutMs ?? 10_000 }, (err, _stdout, stderr) => {
        if (err === null) {
          if (this.failures > 0) this.opts.logger.info({ afterFailures: this.failures }, 'systemd notify works again');
          this.failures = 0;
        } else {
          this.failures += 1;
          const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
          // ERROR: under Type=notify a lost READY=1 or missing pings get the service killed.
          if (this.failures === 1 || this.failures % 10 === 0) {
            this.opts.logger.error(
              { code: 'EDGE_NOTIFY_FAILED', failures: this.failures, state: Object.keys(state).join(','), err: stderr.trim() || err.message },
              missing ? 'NOTIFY_SOCKET is set but systemd-notify is not installed (Debian package systemd)' : 'could not notify systemd',
            );
          }
        }
        resolve();
      });
    });
  }
}

export interface SystemdEnvironment {
  notifier: Notifier;
  /** WatchdogSec in ms, when systemd expects WATCHDOG=1 pings from this process. */
  watchdogMs?: number;
}

/**
 * What systemd set up for this process: NOTIFY_SOCKET for Type=notify, WATCHDOG_USEC (and
 * WATCHDOG_PID, which must be ours) for WatchdogSec=. Undefined when not run by systemd.
 */
export function systemdFromEnv(env: NodeJS.ProcessEnv, pid: number, logger: Logger): SystemdEnvironment | undefined {
  const socket = env.NOTIFY_SOCKET;
  if (socket === undefined || socket === '') return undefined;
  const notifier = new SystemdNotifier({ socket, pid, logger });
  const usec = env.WATCHDOG_USEC;
  const watchPid = env.WATCHDOG_PID;
  if (usec === undefined || usec === '') return { notifier };
  if (watchPid !== undefined && watchPid !== '' && Number(watchPid) !== pid) return { notifier };
  const ms = Number(usec) / 1000;
  if (!Number.isFinite(ms) || ms <= 0) {
    logger.warn({ WATCHDOG_USEC: usec }, 'WATCHDOG_USEC is not a positive number; no watchdog pings');
    return { notifier };
  }
  return { notifier, watchdogMs: ms };
}
