/**
 * A peer program the tests run themselves (PgBouncer, Mosquitto, …) on a loopback port: started,
 * waited for until it accepts connections, stopped with its own signal and restarted on the same
 * port — the outage tests take it away and bring it back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

export interface DaemonOptions {
  /** For errors: `pgbouncer exited at start: …`. */
  name: string;
  port: number;
  command: string;
  args: string[];
  /** The signal that makes the program shut down cleanly. */
  stopSignal: NodeJS.Signals;
  /** More to show when it does not come up (its log file, say). */
  diagnostics?: () => string;
}

export class LocalDaemon {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private output = '';

  constructor(private readonly opts: DaemonOptions) {}

  /** Starts (again, when stopped) and waits until the port accepts connections. */
  async start(): Promise<void> {
    if (this.child !== undefined) return;
    const { name, port, command, args } = this.opts;
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    child.stderr?.on('data', (d: Buffer) => (this.output = (this.output + d.toString()).slice(-4000)));
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        if (this.child === child) this.child = undefined;
        resolve();
      }),
    );
    const more = () => [this.output, this.opts.diagnostics?.() ?? ''].filter((s) => s !== '').join('\n');
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (this.child !== child) throw new Error(`${name} exited at start:\n${more()}`);
      if (await accepts(port)) return;
      if (Date.now() > deadline) throw new Error(`${name} did not listen on ${port}:\n${more()}`);
      await new Promise((r) => setTimeout(r, 30));
    }
  }

  /** Sends a signal to the running program (SIGHUP: reload), if it runs. */
  signal(sig: NodeJS.Signals): void {
    this.child?.kill(sig);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    child.kill(this.opts.stopSignal);
    await this.exited;
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
