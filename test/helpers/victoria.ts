/**
 * A real VictoriaMetrics (Debian's /usr/bin/victoria-metrics), which accepts the InfluxDB v2 write
 * API, on a free loopback port with a temp data dir. It can be stopped, killed and restarted on
 * the same port and data, to make real outages for the InfluxDB sink.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const VICTORIA_BIN = process.env.VICTORIA_BIN ?? '/usr/bin/victoria-metrics';

export interface ExportedSeries {
  metric: Record<string, string>;
  values: number[];
  timestamps: number[];
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export class VictoriaMetrics {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private output = '';

  private constructor(
    readonly port: number,
    readonly dataDir: string,
  ) {}

  static async start(): Promise<VictoriaMetrics> {
    const vm = new VictoriaMetrics(await freePort(), fs.mkdtempSync(path.join(os.tmpdir(), 'edge-vm-')));
    await vm.restart();
    return vm;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Starts (again) on the same port and data dir, and waits until /health answers. */
  async restart(): Promise<void> {
    if (this.child !== undefined) return;
    const child = spawn(
      VICTORIA_BIN,
      [`-httpListenAddr=127.0.0.1:${this.port}`, `-storageDataPath=${this.dataDir}`, '-loggerLevel=ERROR', '-retentionPeriod=100y'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    const collect = (b: Buffer) => {
      this.output = (this.output + b.toString()).slice(-4000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        if (this.child === child) this.child = undefined;
        resolve();
      }),
    );
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (this.child !== child) throw new Error(`victoria-metrics exited at start:\n${this.output}`);
      try {
        const res = await fetch(`${this.url}/health`);
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`victoria-metrics did not become healthy:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Graceful stop (SIGTERM): the data written so far survives. */
  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  /** Hard kill (SIGKILL): a crashed or powered-off server. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** Stops and removes the data dir. */
  async remove(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** Every sample of the series matching `match` (a series selector such as `{__name__="flow_value"}`). */
  async query(match: string): Promise<ExportedSeries[]> {
    // Recently written samples are searchable only after an in-memory flush.
    await fetch(`${this.url}/internal/force_flush`);
    const res = await fetch(`${this.url}/api/v1/export?${new URLSearchParams({ 'match[]': match, start: '0' })}`);
    if (!res.ok) throw new Error(`export failed: ${res.status} ${await res.text()}`);
    const text = await res.text();
    return text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as ExportedSeries);
  }

  /** Number of samples over all series matching `match`. */
  async count(match: string): Promise<number> {
    return (await this.query(match)).reduce((n, s) => n + s.values.length, 0);
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    child.kill(sig);
    await this.exited;
  }
}
