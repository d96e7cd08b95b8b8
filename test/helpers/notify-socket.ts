/**
 * A real notify socket for tests: an AF_UNIX datagram socket (bound by Python, since Node cannot)
 * that collects what the agent says to "systemd" — READY=1, WATCHDOG=1, STATUS=…, STOPPING=1.
 * Pass `path` as NOTIFY_SOCKET. systemd-notify's BARRIER=1 handshakes are answered and left out.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const SCRIPT = join(import.meta.dirname, 'notify-socket.py');

export interface NotifyMessage {
  /** Position in the order received, from 0. */
  index: number;
  fields: Record<string, string>;
  raw: string;
  /** The sender's pid from SCM_CREDENTIALS. */
  pid: number | null;
}

export class NotifySocket {
  readonly messages: NotifyMessage[] = [];
  private readonly waiters = new Set<() => void>();

  private constructor(
    readonly path: string,
    private readonly dir: string,
    private readonly child: ChildProcess,
  ) {}

  static async open(): Promise<NotifySocket> {
    const dir = mkdtempSync(join(tmpdir(), 'edge-notify-'));
    const path = join(dir, 'notify.sock');
    const child = spawn('/usr/bin/python3', [SCRIPT, path], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const socket = new NotifySocket(path, dir, child);
    const lines = createInterface({ input: child.stdout! });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`notify socket did not come up: ${stderr}`)), 10_000);
      child.once('exit', (code) => reject(new Error(`notify socket helper exited (${code}): ${stderr}`)));
      lines.on('line', (line) => {
        const m = JSON.parse(line) as { listening?: string; message?: string; pid?: number | null };
        if (m.listening !== undefined) {
          clearTimeout(timer);
          resolve();
          return;
        }
        if (m.message === undefined || m.message === 'BARRIER=1') return;
        socket.receive(m.message, m.pid ?? null);
      });
    });
    return socket;
  }

  /** Resolves with the first message after `after` (an index; -1 for all) that matches. */
  waitFor(match: (m: NotifyMessage) => boolean, opts: { after?: number; timeoutMs?: number; what?: string } = {}): Promise<NotifyMessage> {
    const after = opts.after ?? -1;
    const find = () => this.messages.find((m) => m.index > after && match(m));
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = find();
        if (m === undefined) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(m);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no notify message ${opts.what ?? 'matching'} after #${after}; received:\n${this.messages.map((m) => `#${m.index} ${m.raw}`).join('\n')}`));
      }, opts.timeoutMs ?? 15_000);
      this.waiters.add(check);
      check();
    });
  }

  async close(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private receive(raw: string, pid: number | null): void {
    const fields: Record<string, string> = {};
    for (const line of raw.split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) fields[line.slice(0, eq)] = line.slice(eq + 1);
    }
    this.messages.push({ index: this.messages.length, fields, raw, pid });
    for (const w of [...this.waiters]) w();
  }
}
